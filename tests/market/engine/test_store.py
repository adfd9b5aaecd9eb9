"""The store (latest value per pair, staleness against the TTL in force) and quote history
(exact decimals, raw points and bars per bucket), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from quantdesk.kit.db import Database
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched, Interval, QuoteBar, QuotePointOut
from quantdesk.market.providers.datasets import Quote

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
TTLS = {"quote": 60, "profile": 86400, "available-exchanges": 86400}


def _quote(price: str, at: datetime, symbol: str = "AAPL", volume: str = "1000") -> Fetched:
    value = Quote(
        symbol=symbol, price=Decimal(price), change=Decimal("0.1"), volume=Decimal(volume),
        currency="USD", as_of=at, source="yahoo",
    )  # fmt: skip
    return Fetched(symbol=symbol, data_type="quote", provider="yahoo", value=value, fetched_at=at)


async def _store(db: Database, *fetched: Fetched) -> None:
    async with db.transaction(system=True) as session:
        await store.store_values(session, list(fetched), ttls=TTLS)


async def test_unknown_is_stale_and_a_value_is_fresh_for_its_ttl(edb: Database) -> None:
    await _store(
        edb,
        _quote("190.1234567891", T0),
        Fetched(None, "available-exchanges", "fmp", [{"code": "NASDAQ"}], T0),
    )
    pairs = [
        ("AAPL", "quote"), ("MSFT", "quote"), (None, "available-exchanges"), ("AAPL", "ratios-ttm"),
    ]  # fmt: skip
    async with edb.transaction(system=True, readonly=True) as session:
        fresh = await store.read_values(session, pairs, ttls=TTLS, now=T0 + timedelta(seconds=60))
        later = await store.read_values(session, pairs, ttls=TTLS, now=T0 + timedelta(seconds=61))
    quote, missing, exchanges, unknown_type = fresh
    assert (quote.stale, quote.source, quote.as_of) == (False, "yahoo", T0)
    assert quote.value["price"] == "190.1234567891"  # a string: no float ever touched it
    assert quote.expires_at == T0 + timedelta(seconds=60)
    assert (missing.stale, missing.value, missing.source) == (True, None, None)
    assert (exchanges.symbol, exchanges.value, exchanges.stale) == (
        None, [{"code": "NASDAQ"}], False,
    )  # fmt: skip
    assert unknown_type.stale
    assert [v.stale for v in later] == [True, True, False, True]  # the quote's TTL has passed


async def test_staleness_follows_the_ttl_in_force_not_the_one_at_write(edb: Database) -> None:
    await _store(edb, _quote("10", T0))
    async with edb.transaction(system=True, readonly=True) as session:
        (value,) = await store.read_values(
            session, [("AAPL", "quote")], ttls={"quote": 600}, now=T0 + timedelta(minutes=5)
        )
        (unknown_ttl,) = await store.read_values(session, [("AAPL", "quote")], ttls={}, now=T0)
    assert not value.stale  # an admin raised the TTL to 10 min
    assert unknown_ttl.stale  # no TTL known: stale, the fail-safe answer


async def test_an_older_value_never_replaces_a_fresher_one(edb: Database) -> None:
    await _store(edb, _quote("101", T0 + timedelta(seconds=30)))
    await _store(edb, _quote("100", T0))  # a slower worker finishing late
    async with edb.transaction(system=True, readonly=True) as session:
        (value,) = await store.read_values(session, [("AAPL", "quote")], ttls=TTLS, now=T0)
    assert value.value["price"] == "101"
    assert value.as_of == T0 + timedelta(seconds=30)


async def test_raw_history_is_exact_in_range_and_keeps_each_quote_once(edb: Database) -> None:
    prices = ["100.0000000001", "100.5", "99.25", "101.75"]
    await _store(edb, *[_quote(p, T0 + timedelta(seconds=20 * i)) for i, p in enumerate(prices)])
    await _store(edb, _quote("555", T0))  # the same quote (same as_of) seen again: kept once
    await _store(edb, _quote("7", T0, symbol="MSFT"))
    async with edb.transaction(system=True, readonly=True) as session:
        points = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(seconds=60)
        )
    assert all(isinstance(p, QuotePointOut) for p in points)
    assert [p.price for p in points] == [Decimal(p) for p in prices[:3]]  # end is exclusive
    assert [p.as_of for p in points] == [T0 + timedelta(seconds=20 * i) for i in range(3)]
    assert points[0].source == "yahoo"
    assert points[0].currency == "USD"


async def test_bars_per_bucket_open_high_low_close(edb: Database) -> None:
    # Minute 0: 100, 103.5, 98.125, 101 ; minute 1: 101.01 ; minute 3: 99, 99.5
    quotes = [
        (0, "100"), (10, "103.5"), (20, "98.125"), (50, "101"), (65, "101.01"), (180, "99"),
        (200, "99.5"),
    ]  # fmt: skip
    await _store(
        edb,
        *[_quote(p, T0 + timedelta(seconds=s), volume=str(1000 + s)) for s, p in quotes],
    )
    async with edb.transaction(system=True, readonly=True) as session:
        minutes = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(hours=1), interval=Interval.MINUTE
        )
        fives = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(hours=1),
            interval=Interval.FIVE_MINUTES,
        )  # fmt: skip
        days = await store.quote_history(
            session, symbol="AAPL", start=T0 - timedelta(days=1), end=T0 + timedelta(days=1),
            interval=Interval.DAY,
        )  # fmt: skip
    assert all(isinstance(b, QuoteBar) for b in minutes)
    assert [
        (b.start, b.open, b.high, b.low, b.close, b.volume, b.points)
        for b in minutes
        if isinstance(b, QuoteBar)
    ] == [
        (T0, Decimal("100"), Decimal("103.5"), Decimal("98.125"), Decimal("101"), Decimal(1050), 4),
        (T0 + timedelta(minutes=1), Decimal("101.01"), Decimal("101.01"), Decimal("101.01"),
         Decimal("101.01"), Decimal(1065), 1),
        (T0 + timedelta(minutes=3), Decimal("99"), Decimal("99.5"), Decimal("99"), Decimal("99.5"),
         Decimal(1200), 2),
    ]  # fmt: skip
    (five,) = fives
    assert isinstance(five, QuoteBar)
    assert (five.start, five.open, five.high, five.low, five.close, five.points) == (
        T0, Decimal("100"), Decimal("103.5"), Decimal("98.125"), Decimal("99.5"), 7,
    )  # fmt: skip
    (day,) = days
    assert isinstance(day, QuoteBar)
    assert day.start == datetime(2026, 11, 27, tzinfo=UTC)
    assert day.points == 7


async def test_high_and_low_compare_numbers_not_strings(edb: Database) -> None:
    # As text "9.5" > "10.25" > "100": a string MIN/MAX on SQLite would pick the wrong quotes.
    await _store(
        edb,
        *[_quote(p, T0 + timedelta(seconds=i)) for i, p in enumerate(["10.25", "9.5", "100"])],
    )
    async with edb.transaction(system=True, readonly=True) as session:
        (bar,) = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(minutes=1), interval=Interval.HOUR
        )
    assert isinstance(bar, QuoteBar)
    assert (bar.high, bar.low) == (Decimal("100"), Decimal("9.5"))


async def test_a_quote_time_without_offset_is_read_as_utc(edb: Database) -> None:
    naive = {"symbol": "AAPL", "price": "5.5", "as_of": "2026-11-27T10:00:00", "source": "x"}
    await _store(edb, Fetched("AAPL", "quote", "x", naive, T0 + timedelta(seconds=3)))
    async with edb.transaction(system=True, readonly=True) as session:
        points = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(minutes=1)
        )
    assert [(p.as_of, p.price) for p in points] == [(T0, Decimal("5.5"))]
