"""Trading sessions: exchange hours, holidays and early closes from exchange-calendars, shared US
venues on the NYSE's calendar, crypto around the clock, an approximation for venues no calendar
knows; when a ``day`` order expires."""

from __future__ import annotations

from datetime import UTC, datetime

from quantdesk.trading import sessions


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_nyse_session_and_its_close() -> None:
    monday_noon_ny = _utc("2026-11-30 17:00")
    assert sessions.is_open("NYSE", "equity", monday_noon_ny)
    assert sessions.day_order_expiry("NYSE", "equity", monday_noon_ny) == _utc("2026-11-30 21:00")


def test_the_day_after_thanksgiving_closes_early_and_thanksgiving_not_at_all() -> None:
    thanksgiving = _utc("2026-11-26 16:00")
    assert not sessions.is_open("NASDAQ", "equity", thanksgiving)
    # Placed on the holiday: waits for Friday's session, which closes at 13:00 New York.
    assert sessions.day_order_expiry("NASDAQ", "equity", thanksgiving) == _utc("2026-11-27 18:00")
    assert not sessions.is_open("NASDAQ", "equity", _utc("2026-11-27 19:00"))


def test_a_weekend_order_waits_for_monday() -> None:
    saturday = _utc("2026-11-28 12:00")
    session = sessions.session_at("LSE", "equity", saturday)
    assert not session.contains(saturday)
    assert (session.opens, session.closes) == (_utc("2026-11-30 08:00"), _utc("2026-11-30 16:30"))


def test_us_venues_without_a_calendar_of_their_own_keep_the_nyse_s() -> None:
    assert sessions.calendar_code("NYSE Arca") == "XNYS"
    assert sessions.calendar_code("OTC") == "XNYS"
    assert sessions.calendar_code("XETRA") == "XETR"


def test_crypto_trades_around_the_clock_and_day_orders_end_at_midnight_utc() -> None:
    saturday = _utc("2026-11-28 23:30")
    assert sessions.is_open(None, "crypto", saturday)
    assert sessions.day_order_expiry(None, "crypto", saturday) == _utc("2026-11-29 00:00")


def test_a_venue_no_calendar_knows_trades_weekdays_in_its_time_zone() -> None:
    assert sessions.calendar_code("Caracas") is None
    session = sessions.session_at("Caracas", "equity", _utc("2026-11-28 12:00"))  # a Saturday
    assert session.approximate
    assert (session.opens, session.closes) == (_utc("2026-11-30 13:30"), _utc("2026-11-30 20:00"))
