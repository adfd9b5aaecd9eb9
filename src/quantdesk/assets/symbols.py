"""Symbol spelling rules: one canonical form, and a lookup key that ignores class separators."""

from __future__ import annotations

import re

MAX_SYMBOL_LENGTH = 32
# Yahoo-style symbols: letters, digits and . - = ^ / (e.g. BRK-B, VOD.L, ^GSPC, EURUSD=X).
_SYMBOL = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=/]*$")
_SEPARATORS = str.maketrans({".": "-", "/": "-"})


class InvalidSymbol(ValueError):
    """The text cannot be a symbol; the message says why."""


def canonical_symbol(raw: str) -> str:
    """Upper-cased, trimmed symbol; raises InvalidSymbol for anything that cannot be one."""
    if not isinstance(raw, str):
        raise InvalidSymbol("a symbol must be a string")
    symbol = raw.strip().upper()
    if not symbol:
        raise InvalidSymbol("a symbol cannot be empty")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbol(f"a symbol has at most {MAX_SYMBOL_LENGTH} characters")
    if not symbol.isascii() or not _SYMBOL.match(symbol):
        raise InvalidSymbol(
            "a symbol uses only letters A-Z, digits and . - = ^ / (e.g. AAPL, BRK.B, VOD.L)"
        )
    return symbol


def lookup_key(symbol: str) -> str:
    """BRK.B, BRK-B and BRK/B share one key, so an asset is found however its class is typed."""
    return symbol.upper().translate(_SEPARATORS)
