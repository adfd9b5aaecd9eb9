"""FMP's datasets beyond quote and profile, against recorded answers on a local fake server.

grades-historical and search-exchange-variants have no public recording: their bodies below are
shaped after FMP's stable API documentation (field names as documented) and say so.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from quantdesk.market.providers.datasets import (
    AnalystGrades,
    Dataset,
    Dividend,
    DividendsQuery,
    Exchange,
    ExchangeStatus,
    ExchangeVariant,
    FinancialStatement,
    RatiosTtm,
    RevenueSegmentation,
    SharesFloat,
    StatementsQuery,
    SymbolsQuery,
)
from quantdesk.market.providers.fmp import FmpProvider, FmpQuoteFetcher
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import recorded, recorded_body

KEY = "FMPTESTKEY7"


@pytest.fixture
async def provider(server: FakeHttpServer) -> AsyncIterator[FmpProvider]:
    adapter = FmpProvider(api_key=KEY, base_url=server.url, timeout=0.5)
    yield adapter
    await adapter.aclose()


async def test_many_quotes_in_one_call(server: FakeHttpServer, provider: FmpProvider) -> None:
    # No two-symbol FMP recording exists: batch-quote answers the same entries as /stable/quote,
    # so the recorded AAPL entry is sent twice, the second spelt MSFT.
    apple = recorded_body("fmp/quote_stable_AAPL.json")[0]
    microsoft = {**copy.deepcopy(apple), "symbol": "MSFT", "price": 510.02}
    server.add("/stable/batch-quote", Reply(body=[apple, microsoft]))
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, FmpQuoteFetcher)

    quotes = await fetcher.fetch_many(SymbolsQuery(symbols=("AAPL", "msft", "NOSUCH")))

    (request,) = server.requests("/stable/batch-quote")
    assert request.query == {"symbols": "AAPL,MSFT,NOSUCH", "apikey": KEY}
    aapl, msft = quotes["AAPL"], quotes["msft"]
    assert aapl is not None
    assert msft is not None
    assert aapl.price == Decimal("256.08")
    assert (msft.symbol, msft.price, msft.source) == ("MSFT", Decimal("510.02"), "fmp")
    assert quotes["NOSUCH"] is None  # left out of the answer: FMP does not know it


async def test_a_batch_larger_than_one_call_is_refused(provider: FmpProvider) -> None:
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, FmpQuoteFetcher)
    symbols = tuple(f"S{n}" for n in range(fetcher.max_symbols + 1))

    with pytest.raises(ValueError, match="takes 100"):
        await fetcher.fetch_many(SymbolsQuery(symbols=symbols))


async def test_income_statement(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/income-statement", recorded("fmp/income-statement_stable_AAPL.json"))

    found = await provider.fetch(
        Dataset.FINANCIAL_STATEMENTS, StatementsQuery(symbol="AAPL", period="annual", limit=1)
    )

    (request,) = server.requests("/stable/income-statement")
    assert request.query == {"symbol": "AAPL", "period": "annual", "limit": "1", "apikey": KEY}
    (statement,) = found
    assert statement == FinancialStatement(
        symbol="AAPL",
        period_end=date(2024, 9, 28),
        period="FY",
        fiscal_year=2024,  # a string in this answer
        currency="USD",
        filing_date=date(2024, 11, 1),
        revenue=Decimal("391035000000"),
        cost_of_revenue=Decimal("210352000000"),
        gross_profit=Decimal("180683000000"),
        operating_expenses=Decimal("57467000000"),
        operating_income=Decimal("123216000000"),
        ebitda=Decimal("134661000000"),
        net_income=Decimal("93736000000"),
        eps=Decimal("6.11"),
        eps_diluted=Decimal("6.08"),
        weighted_shares=Decimal("15343783000"),
        weighted_shares_diluted=Decimal("15408095000"),
        source="fmp",
    )


def test_statement_query_is_checked() -> None:
    with pytest.raises(ValidationError, match="period"):
        StatementsQuery(symbol="AAPL", period="monthly")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="limit"):
        StatementsQuery(symbol="AAPL", limit=0)


async def test_ratios_ttm(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/ratios-ttm", recorded("fmp/ratios-ttm_stable_AAPL.json"))

    ratios = await provider.fetch(Dataset.RATIOS_TTM, "AAPL")

    assert isinstance(ratios, RatiosTtm)
    assert ratios.gross_margin == Decimal("0.4667825022942796")  # a fraction, as recorded
    assert ratios.pe_ratio == Decimal("38.44007903787268")
    assert ratios.debt_to_equity == Decimal("1.5448579674920249")
    assert ratios.dividend_yield == Decimal("0.00398313")
    assert ratios.source == "fmp"


async def test_dividends_within_the_range(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/dividends", recorded("fmp/dividends_stable_AAPL.json"))

    inside = await provider.fetch(
        Dataset.DIVIDEND_HISTORY, DividendsQuery(symbol="AAPL", start=date(2025, 1, 1))
    )
    outside = await provider.fetch(
        Dataset.DIVIDEND_HISTORY, DividendsQuery(symbol="AAPL", end=date(2024, 12, 31))
    )

    assert inside == [
        Dividend(
            symbol="AAPL",
            ex_date=date(2025, 8, 11),
            amount=Decimal("0.26"),
            adjusted_amount=Decimal("0.26"),
            record_date=date(2025, 8, 11),
            payment_date=date(2025, 8, 14),
            declaration_date=date(2025, 7, 31),
            frequency="Quarterly",
            source="fmp",
        )
    ]
    assert outside == []


def test_a_reversed_date_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="after end"):
        DividendsQuery(symbol="AAPL", start=date(2025, 2, 1), end=date(2025, 1, 1))


async def test_shares_float(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/shares-float", recorded("fmp/shares-float_stable_AAPL.json"))

    found = await provider.fetch(Dataset.SHARES_FLOAT, "AAPL")

    assert found == SharesFloat(
        symbol="AAPL",
        float_shares=Decimal("14814419318"),
        outstanding_shares=Decimal("14840390000"),
        free_float_percent=Decimal("99.82500000336918"),
        as_of=datetime(2025, 9, 21, 22, 26, 51, tzinfo=UTC),
        source="fmp",
    )


async def test_revenue_segmentation(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add(
        "/stable/revenue-product-segmentation",
        recorded("fmp/revenue-product-segmentation_stable_AAPL.json"),
    )

    years = await provider.fetch(Dataset.REVENUE_SEGMENTATION, "AAPL")

    (request,) = server.requests("/stable/revenue-product-segmentation")
    assert request.query["structure"] == "flat"
    assert len(years) == 15
    assert all(isinstance(y, RevenueSegmentation) for y in years)
    latest, oldest = years[0], years[-1]
    assert (latest.fiscal_year, latest.period_end) == (2024, date(2024, 9, 28))
    assert latest.segments["iPhone"] == Decimal("201183000000")
    assert set(latest.segments) == {
        "Mac",
        "Service",
        "Wearables, Home and Accessories",
        "iPad",
        "iPhone",
    }
    assert oldest.segments == {"Retail": Decimal("9798000000")}  # 2010: names change over time


async def test_grades_historical(server: FakeHttpServer, provider: FmpProvider) -> None:
    # Shaped after FMP's documentation of /stable/grades-historical (no recording exists): counts
    # of buy, hold, sell and strong sell; no strong buy.
    body = [
        {
            "symbol": "AAPL",
            "date": "2025-02-01",
            "analystRatingsBuy": 8,
            "analystRatingsHold": 14,
            "analystRatingsSell": 2,
            "analystRatingsStrongSell": 2,
        },
        {"symbol": "AAPL", "date": "2025-01-01", "analystRatingsBuy": 9},
    ]
    server.add("/stable/grades-historical", Reply(body=body), query={"symbol": "AAPL"})

    grades = await provider.fetch(Dataset.GRADES_HISTORICAL, "AAPL")

    assert grades == [
        AnalystGrades(
            symbol="AAPL",
            date=date(2025, 2, 1),
            strong_buy=None,  # not reported, not zero
            buy=8,
            hold=14,
            sell=2,
            strong_sell=2,
            source="fmp",
        ),
        AnalystGrades(symbol="AAPL", date=date(2025, 1, 1), buy=9, source="fmp"),
    ]


async def test_exchange_variants(server: FakeHttpServer, provider: FmpProvider) -> None:
    # Shaped after FMP's documentation of /stable/search-exchange-variants (no recording exists):
    # v3-style entries, ``exchange`` the full name and ``exchangeShortName`` the code. The second
    # listing is the documented shape with another company's values.
    documented = {
        "symbol": "AAPL",
        "price": 225.46,
        "beta": 1.24,
        "volAvg": 54722288,
        "mktCap": 3427916386000,
        "lastDiv": 1,
        "range": "164.08-237.23",
        "changes": -7.54,
        "companyName": "Apple Inc.",
        "currency": "USD",
        "cik": "0000320193",
        "isin": "US0378331005",
        "cusip": "037833100",
        "exchange": "NASDAQ Global Select",
        "exchangeShortName": "NASDAQ",
        "industry": "Consumer Electronics",
        "country": "US",
        "isEtf": False,
        "isActivelyTrading": True,
    }
    frankfurt = {
        **documented,
        "symbol": "APC.DE",
        "price": 219.35,
        "currency": "EUR",
        "exchange": "Deutsche Börse Xetra",
        "exchangeShortName": "XETRA",
    }
    server.add("/stable/search-exchange-variants", Reply(body=[documented, frankfurt]))

    variants = await provider.fetch(Dataset.EXCHANGE_VARIANTS, "AAPL")

    (request,) = server.requests("/stable/search-exchange-variants")
    assert request.query == {"symbol": "AAPL", "apikey": KEY}
    assert variants == [
        ExchangeVariant(
            symbol="AAPL",
            name="Apple Inc.",
            exchange="NASDAQ",
            exchange_name="NASDAQ Global Select",
            currency="USD",
            price=Decimal("225.46"),
            source="fmp",
        ),
        ExchangeVariant(
            symbol="APC.DE",
            name="Apple Inc.",
            exchange="XETRA",
            exchange_name="Deutsche Börse Xetra",
            currency="EUR",
            price=Decimal("219.35"),
            source="fmp",
        ),
    ]


async def test_exchange_variants_read_the_stable_spelling_too(
    server: FakeHttpServer, provider: FmpProvider
) -> None:
    stable = recorded_body("fmp/profile_stable_AAPL.json")[0]  # exchange + exchangeFullName
    server.add("/stable/search-exchange-variants", Reply(body=[stable]))

    (variant,) = await provider.fetch(Dataset.EXCHANGE_VARIANTS, "AAPL")

    assert (variant.exchange, variant.exchange_name) == ("NASDAQ", "NASDAQ Global Select")


async def test_available_exchanges(server: FakeHttpServer, provider: FmpProvider) -> None:
    # FMP's documentation example (see the recordings README): the only public sample.
    server.add("/stable/available-exchanges", recorded("fmp/available-exchanges_docs-example.json"))

    exchanges = await provider.fetch(Dataset.AVAILABLE_EXCHANGES)

    assert exchanges == [
        Exchange(
            code="AMEX",
            name="New York Stock Exchange Arca",
            country="United States of America",
            country_code="US",
            symbol_suffix=None,  # "N/A" in the answer
            delay="Real-time",
            source="fmp",
        )
    ]
    (request,) = server.requests("/stable/available-exchanges")
    assert request.query == {"apikey": KEY}


async def test_exchange_market_status(server: FakeHttpServer, provider: FmpProvider) -> None:
    # The documented answer of exchange-market-hours; all-exchange-market-hours lists the same
    # entries for every exchange in one call.
    server.add(
        "/stable/all-exchange-market-hours",
        recorded("fmp/exchange-market-hours_docs-example.json"),
    )

    statuses = await provider.fetch(Dataset.EXCHANGE_MARKET_STATUS)

    assert statuses == [
        ExchangeStatus(
            exchange="NASDAQ",
            name="NASDAQ",
            timezone="America/New_York",
            opening_hour="09:30 AM -04:00",
            closing_hour="04:00 PM -04:00",
            is_open=False,
            source="fmp",
        )
    ]


async def test_an_empty_list_is_no_data(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/income-statement", Reply(body=[]))
    server.add("/stable/ratios-ttm", Reply(body=[]))

    assert await provider.fetch(Dataset.FINANCIAL_STATEMENTS, StatementsQuery(symbol="ZZZQ")) == []
    assert await provider.fetch(Dataset.RATIOS_TTM, "ZZZQ") is None


async def test_the_wrong_query_for_a_dataset_is_a_clear_error(provider: FmpProvider) -> None:
    with pytest.raises(TypeError, match="financial-statements takes a StatementsQuery"):
        await provider.fetch(Dataset.FINANCIAL_STATEMENTS, DividendsQuery(symbol="AAPL"))
    with pytest.raises(TypeError, match="available-exchanges takes no symbol"):
        await provider.fetch(Dataset.AVAILABLE_EXCHANGES, "AAPL")
