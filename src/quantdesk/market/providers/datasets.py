"""The datasets providers answer: each with its query model and its result model.

A dataset is what a caller asks for (``quote`` of AAPL, ``financial-statements`` of MSFT by
quarter); which provider answers is the chain's business (``ProviderChain.fetch``). The names are
the ones the data-type registry uses. Results are frozen, money is ``Decimal``, and every result
(every item of a list result) carries ``source``: the provider that said it, ``"sim"`` for
simulated data. A single-value dataset answers ``None`` when the provider says the symbol does not
exist; a list dataset answers a list (empty when it knows nothing).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SYMBOL_LENGTH = 32
MAX_STATEMENTS = 40  # ten years of quarters


class Dataset(enum.StrEnum):
    QUOTE = "quote"
    PROFILE = "profile"
    FINANCIAL_STATEMENTS = "financial-statements"
    RATIOS_TTM = "ratios-ttm"
    DIVIDEND_HISTORY = "dividend-history"
    SHARES_FLOAT = "shares-float"
    REVENUE_SEGMENTATION = "revenue-segmentation"
    GRADES_HISTORICAL = "grades-historical"
    EXCHANGE_VARIANTS = "exchange-variants"
    AVAILABLE_EXCHANGES = "available-exchanges"
    EXCHANGE_MARKET_STATUS = "exchange-market-status"
    # Internal: does the symbol exist, and what is it (the validation strategy's question).
    LOOKUP = "lookup"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- queries ------------------------------------------------------------------------------------


def _symbol(value: str) -> str:
    text = value.strip()
    if not text:
        raise ValueError("symbol must not be empty")
    if len(text) > MAX_SYMBOL_LENGTH:
        raise ValueError(f"symbol is longer than {MAX_SYMBOL_LENGTH} characters")
    if any(ch.isspace() for ch in text):
        raise ValueError(f"symbol {text!r} contains whitespace")
    return text


class NoQuery(_Model):
    """Datasets about the market as a whole (exchanges) take no parameters."""


class SymbolQuery(_Model):
    """One canonical symbol (see ``assets.symbols``)."""

    symbol: str

    _check_symbol = field_validator("symbol")(_symbol)


class SymbolsQuery(_Model):
    """Several symbols in one provider call (batches); distinct, in the caller's order."""

    symbols: tuple[str, ...] = Field(min_length=1)

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(_symbol(symbol) for symbol in value)
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("symbols must be distinct")
        return cleaned


class StatementsQuery(SymbolQuery):
    period: Literal["annual", "quarter"] = "annual"
    limit: int = Field(default=5, ge=1, le=MAX_STATEMENTS, description="Latest periods first")


class DividendsQuery(SymbolQuery):
    start: dt.date | None = Field(default=None, description="Ex-dividend dates on or after")
    end: dt.date | None = Field(default=None, description="Ex-dividend dates on or before")

    @model_validator(mode="after")
    def _ordered(self) -> DividendsQuery:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self

    def covers(self, day: dt.date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


# --- results ------------------------------------------------------------------------------------


class SymbolInfo(_Model):
    symbol: str = Field(description="The symbol as the provider spells it")
    name: str | None = None
    exchange: str | None = None
    asset_class: str | None = Field(default=None, description="equity, etf, crypto, index...")
    currency: str | None = None
    country: str | None = None
    source: str


class Quote(_Model):
    """Latest price; for a crypto pair the change is over 24 hours and the volume is in USD."""

    symbol: str
    price: Decimal
    change: Decimal | None = None
    change_percent: Decimal | None = Field(default=None, description="In percent: 1.5 = 1.5 %")
    volume: Decimal | None = None
    market_cap: Decimal | None = None
    currency: str | None = None
    as_of: dt.datetime
    source: str


class Profile(_Model):
    symbol: str
    name: str | None = None
    exchange: str | None = None
    asset_class: str | None = None
    sector: str | None = None
    industry: str | None = None
    country: str | None = None
    currency: str | None = None
    market_cap: Decimal | None = None
    pe_ratio: Decimal | None = None
    dividend_yield: Decimal | None = Field(default=None, description="A fraction: 0.005 = 0.5 %")
    description: str | None = None
    website: str | None = None
    source: str


class FinancialStatement(_Model):
    """One period of the income statement, in ``currency``."""

    symbol: str
    period_end: dt.date = Field(description="End of the fiscal period")
    period: str = Field(description="FY, Q1, Q2, Q3 or Q4")
    fiscal_year: int | None = None
    currency: str | None = None
    filing_date: dt.date | None = None
    revenue: Decimal | None = None
    cost_of_revenue: Decimal | None = None
    gross_profit: Decimal | None = None
    operating_expenses: Decimal | None = None
    operating_income: Decimal | None = None
    ebitda: Decimal | None = None
    net_income: Decimal | None = None
    eps: Decimal | None = None
    eps_diluted: Decimal | None = None
    weighted_shares: Decimal | None = None
    weighted_shares_diluted: Decimal | None = None
    source: str


class RatiosTtm(_Model):
    """Trailing-twelve-month ratios; margins and yields are fractions (0.25 = 25 %)."""

    symbol: str
    gross_margin: Decimal | None = None
    operating_margin: Decimal | None = None
    net_margin: Decimal | None = None
    pe_ratio: Decimal | None = None
    peg_ratio: Decimal | None = None
    price_to_book: Decimal | None = None
    price_to_sales: Decimal | None = None
    price_to_free_cash_flow: Decimal | None = None
    current_ratio: Decimal | None = None
    quick_ratio: Decimal | None = None
    debt_to_equity: Decimal | None = None
    dividend_yield: Decimal | None = None
    dividend_payout_ratio: Decimal | None = None
    source: str


class Dividend(_Model):
    symbol: str
    ex_date: dt.date
    amount: Decimal = Field(description="Per share, as declared")
    adjusted_amount: Decimal | None = Field(default=None, description="Adjusted for splits")
    record_date: dt.date | None = None
    payment_date: dt.date | None = None
    declaration_date: dt.date | None = None
    frequency: str | None = None
    source: str


class SharesFloat(_Model):
    symbol: str
    float_shares: Decimal | None = None
    outstanding_shares: Decimal | None = None
    free_float_percent: Decimal | None = Field(default=None, description="In percent")
    as_of: dt.datetime | None = None
    source: str


class RevenueSegmentation(_Model):
    """Revenue by product line for one period (segment names change across years)."""

    symbol: str
    period_end: dt.date
    fiscal_year: int | None = None
    period: str | None = None
    currency: str | None = None
    segments: dict[str, Decimal]
    source: str


class AnalystGrades(_Model):
    """How many analysts rated the symbol each way on ``date``."""

    symbol: str
    date: dt.date
    # None: the provider does not report that grade (FMP's history has no strong buy).
    strong_buy: int | None = None
    buy: int | None = None
    hold: int | None = None
    sell: int | None = None
    strong_sell: int | None = None
    source: str


class ExchangeVariant(_Model):
    """The same company listed elsewhere (another exchange, another ticker)."""

    symbol: str
    name: str | None = None
    exchange: str | None = Field(default=None, description="Short code: NASDAQ, XETRA...")
    exchange_name: str | None = None
    currency: str | None = None
    price: Decimal | None = None
    source: str


class Exchange(_Model):
    code: str
    name: str | None = None
    country: str | None = None
    country_code: str | None = None
    symbol_suffix: str | None = Field(default=None, description="e.g. .L; null for none")
    delay: str | None = Field(default=None, description="Real-time, 15 min...")
    source: str


class ExchangeStatus(_Model):
    exchange: str
    name: str | None = None
    timezone: str | None = Field(default=None, description="IANA name, e.g. America/New_York")
    opening_hour: str | None = Field(default=None, description="As the provider writes it")
    closing_hour: str | None = None
    is_open: bool | None = None
    source: str


# --- the catalogue of datasets ------------------------------------------------------------------

QueryT = TypeVar("QueryT", bound=BaseModel)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class DatasetSpec(Generic[QueryT, ResultT]):
    """A dataset's query model, its result (``item``, or a list of them when ``many``) and
    whether a provider may answer several symbols in one call.

    ``ResultT`` is what a fetch answers: ``Quote | None``, ``list[Dividend]``...
    """

    dataset: Dataset
    query: type[QueryT]
    item: type[BaseModel]
    many: bool = False

    @property
    def per_symbol(self) -> bool:
        return issubclass(self.query, SymbolQuery)

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a well-formed answer to this dataset (adapters are checked)."""
        if self.many:
            return isinstance(value, list) and all(isinstance(v, self.item) for v in value)
        return value is None or isinstance(value, self.item)


QUOTE: DatasetSpec[SymbolQuery, Quote | None] = DatasetSpec(Dataset.QUOTE, SymbolQuery, Quote)
PROFILE: DatasetSpec[SymbolQuery, Profile | None] = DatasetSpec(
    Dataset.PROFILE, SymbolQuery, Profile
)
FINANCIAL_STATEMENTS: DatasetSpec[StatementsQuery, list[FinancialStatement]] = DatasetSpec(
    Dataset.FINANCIAL_STATEMENTS, StatementsQuery, FinancialStatement, many=True
)
RATIOS_TTM: DatasetSpec[SymbolQuery, RatiosTtm | None] = DatasetSpec(
    Dataset.RATIOS_TTM, SymbolQuery, RatiosTtm
)
DIVIDEND_HISTORY: DatasetSpec[DividendsQuery, list[Dividend]] = DatasetSpec(
    Dataset.DIVIDEND_HISTORY, DividendsQuery, Dividend, many=True
)
SHARES_FLOAT: DatasetSpec[SymbolQuery, SharesFloat | None] = DatasetSpec(
    Dataset.SHARES_FLOAT, SymbolQuery, SharesFloat
)
REVENUE_SEGMENTATION: DatasetSpec[SymbolQuery, list[RevenueSegmentation]] = DatasetSpec(
    Dataset.REVENUE_SEGMENTATION, SymbolQuery, RevenueSegmentation, many=True
)
GRADES_HISTORICAL: DatasetSpec[SymbolQuery, list[AnalystGrades]] = DatasetSpec(
    Dataset.GRADES_HISTORICAL, SymbolQuery, AnalystGrades, many=True
)
EXCHANGE_VARIANTS: DatasetSpec[SymbolQuery, list[ExchangeVariant]] = DatasetSpec(
    Dataset.EXCHANGE_VARIANTS, SymbolQuery, ExchangeVariant, many=True
)
AVAILABLE_EXCHANGES: DatasetSpec[NoQuery, list[Exchange]] = DatasetSpec(
    Dataset.AVAILABLE_EXCHANGES, NoQuery, Exchange, many=True
)
EXCHANGE_MARKET_STATUS: DatasetSpec[NoQuery, list[ExchangeStatus]] = DatasetSpec(
    Dataset.EXCHANGE_MARKET_STATUS, NoQuery, ExchangeStatus, many=True
)
LOOKUP: DatasetSpec[SymbolQuery, SymbolInfo | None] = DatasetSpec(
    Dataset.LOOKUP, SymbolQuery, SymbolInfo
)

_ALL: tuple[DatasetSpec[Any, Any], ...] = (
    QUOTE,
    PROFILE,
    FINANCIAL_STATEMENTS,
    RATIOS_TTM,
    DIVIDEND_HISTORY,
    SHARES_FLOAT,
    REVENUE_SEGMENTATION,
    GRADES_HISTORICAL,
    EXCHANGE_VARIANTS,
    AVAILABLE_EXCHANGES,
    EXCHANGE_MARKET_STATUS,
    LOOKUP,
)
SPECS: dict[Dataset, DatasetSpec[Any, Any]] = {spec.dataset: spec for spec in _ALL}


def spec_of(dataset: Dataset | str) -> DatasetSpec[Any, Any]:
    """The spec of a dataset by name; an unknown name is a clear ``ValueError``."""
    try:
        return SPECS[Dataset(dataset)]
    except ValueError:
        known = ", ".join(d.value for d in Dataset)
        raise ValueError(f"unknown dataset {str(dataset)!r}; known datasets: {known}") from None
