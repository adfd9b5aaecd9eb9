"""When an asset trades: its exchange's sessions, holidays and early closes (exchange-calendars,
which keeps them for about fifty exchanges), and crypto around the clock.

An order's ``day`` time in force ends at the close of the session it was placed in; placed while
the exchange is closed, it waits for the next session and ends at that session's close (Alpaca's
rule). Crypto never closes: a ``day`` crypto order ends at the next midnight UTC.

Venues come from the catalog (``assets.venues``: a name with its ISO 10383 MIC). US venues that
exchange-calendars does not list on their own (NYSE Arca, NYSE American, Cboe BZX, OTC) keep the
NYSE's calendar, as they do. A venue with no calendar at all trades Monday to Friday, 09:30 to
16:00 in its own time zone (an approximation: no holidays), and says so (``approximate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

from quantdesk.assets import venues

CRYPTO = "crypto"
_US_SHARED = {"ARCX", "XASE", "BATS", "OTCM"}  # trade the NYSE's sessions
_DEFAULT_OPEN, _DEFAULT_CLOSE = time(9, 30), time(16, 0)


@dataclass(frozen=True)
class Session:
    """One trading session in UTC; ``approximate`` when no calendar knows the exchange."""

    opens: datetime
    closes: datetime
    approximate: bool = False

    def contains(self, at: datetime) -> bool:
        return self.opens <= at < self.closes


@cache
def _calendar(mic: str) -> Any:
    """The exchange's calendar (built once per process: about 0.1 s each)."""
    return xcals.get_calendar(mic)


def calendar_code(exchange: str | None) -> str | None:
    """The exchange-calendars code of a catalog venue (None: no calendar knows it)."""
    venue = venues.find_venue(exchange) if exchange else None
    if venue is None or venue.mic is None:
        return None
    if venue.mic in _US_SHARED:
        return "XNYS"
    return venue.mic if venue.mic in _known_codes() else None


@cache
def _known_codes() -> frozenset[str]:
    return frozenset(xcals.get_calendar_names(include_aliases=True))  # XNAS is an alias


def is_crypto(asset_class: str | None) -> bool:
    return asset_class == CRYPTO


def session_at(exchange: str | None, asset_class: str | None, at: datetime) -> Session:
    """The session open at ``at``, or the next one when the exchange is closed then."""
    at = at.astimezone(UTC)
    if is_crypto(asset_class):
        day = datetime.combine(at.date(), time(0), UTC)
        return Session(day, day + timedelta(days=1))
    code = calendar_code(exchange)
    if code is None:
        return _approximate_session(exchange, at)
    calendar = _calendar(code)
    minute = pd.Timestamp(at).floor("min")
    if calendar.is_open_on_minute(minute):
        label = calendar.minute_to_session(minute)
    else:
        label = calendar.minute_to_session(minute, direction="next")
    return Session(
        calendar.session_open(label).to_pydatetime(), calendar.session_close(label).to_pydatetime()
    )


def is_open(exchange: str | None, asset_class: str | None, at: datetime) -> bool:
    return session_at(exchange, asset_class, at).contains(at.astimezone(UTC))


def day_order_expiry(exchange: str | None, asset_class: str | None, at: datetime) -> datetime:
    """When a ``day`` order placed at ``at`` expires: the close of its session."""
    return session_at(exchange, asset_class, at).closes


def _approximate_session(exchange: str | None, at: datetime) -> Session:
    venue = venues.find_venue(exchange) if exchange else None
    zone = ZoneInfo(venue.timezone if venue else "America/New_York")
    local = at.astimezone(zone)
    day = local.date()
    for _ in range(8):
        if day.weekday() < 5:
            opens = datetime.combine(day, _DEFAULT_OPEN, zone).astimezone(UTC)
            closes = datetime.combine(day, _DEFAULT_CLOSE, zone).astimezone(UTC)
            if at < closes:
                return Session(opens, closes, approximate=True)
        day += timedelta(days=1)
    raise AssertionError("a weekday comes within eight days")  # pragma: no cover
