"""Parsing of the loose values providers send: numbers as strings, "None", percents, epochs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Spellings of "no value" seen in provider answers (Alpha Vantage sends the string "None").
_MISSING = frozenset({"", "none", "null", "nan", "n/a", "na", "-", "--"})


def to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a number or a numeric string ("-0.5852%", "1,234.5"), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, dict) and "raw" in value:  # Yahoo's formatted {"raw", "fmt"} numbers
        return to_decimal(value["raw"])
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest decimal that reads back as this float
    elif isinstance(value, str):
        text = value.strip().rstrip("%").replace(",", "").strip()
        if text.lower() in _MISSING:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def to_text(value: Any) -> str | None:
    """A trimmed, non-empty string, or None for missing spellings."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


def from_epoch(value: Any) -> datetime | None:
    """UTC datetime from epoch seconds (or milliseconds, when the number is that large)."""
    number = to_decimal(value)
    if number is None or number <= 0:
        return None
    seconds = float(number / 1000) if number > 10**11 else float(number)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def utcnow() -> datetime:
    return datetime.now(UTC)
