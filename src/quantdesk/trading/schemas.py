"""Request and response models of paper trading: accounts, movements, activities, reconcile.

Money in requests is a JSON string ("100.25") or number, read as an exact ``Decimal`` (never a
float); responses give every amount as a string, without trailing zeros (``ExactDecimal``).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from quantdesk.market.schemas import ExactDecimal

MAX_ACCOUNT_NAME = 100
MAX_MEMO = 500
MAX_IDEMPOTENCY_KEY = 128
# A bound no paper account needs to pass, far inside NUMERIC(38, 10).
MAX_AMOUNT = Decimal("1000000000000")
DEFAULT_ACTIVITIES_PAGE = 100
MAX_ACTIVITIES_PAGE = 500

# Activity type codes (Alpaca's where it has one) for each journal transaction kind.
ACTIVITY_TYPES: dict[str, str] = {
    "deposit": "CSD",
    "withdrawal": "CSW",
    "fill": "FILL",
    "fee": "FEE",
    "dividend": "DIV",
    "correction": "CORR",
}
ActivityType = Literal["CSD", "CSW", "FILL", "FEE", "DIV", "CORR"]
KINDS_BY_ACTIVITY_TYPE = {code: kind for kind, code in ACTIVITY_TYPES.items()}

_FORBIDDEN_IN_TEXT = {"Cc", "Cs", "Zl", "Zp"}


def _clean_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValueError("the name cannot be empty")
    if len(name) > MAX_ACCOUNT_NAME:
        raise ValueError(f"the name has at most {MAX_ACCOUNT_NAME} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_IN_TEXT for ch in name):
        raise ValueError("the name cannot contain control characters or line breaks")
    return name


def _printable(value: str) -> str:
    # PostgreSQL cannot store a NUL, and a key or memo with control characters is a mistake.
    if any(unicodedata.category(ch) in _FORBIDDEN_IN_TEXT for ch in value):
        raise ValueError("cannot contain control characters or line breaks")
    return value


def _not_negative_zero(value: Decimal) -> Decimal:
    return value + 0  # "-0" becomes 0: a sign on nothing is not kept


AccountName = Annotated[str, AfterValidator(_clean_name)]
# USD: whole cents, positive, bounded. "100", "100.5", "100.50" are all accepted.
PositiveAmount = Annotated[
    Decimal,
    Field(gt=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False, examples=["100.00"]),
]
NonNegativeAmount = Annotated[
    Decimal,
    Field(ge=0, le=MAX_AMOUNT, decimal_places=2, allow_inf_nan=False, examples=["10000.00"]),
    AfterValidator(_not_negative_zero),
]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
        description="Your unique key for this movement: sending it again (after a timeout, "
        "say) returns the first result instead of moving money twice",
        examples=["2f1c9a4e-payroll-2026-11"],
    ),
    AfterValidator(_printable),
]
Memo = Annotated[str, Field(max_length=MAX_MEMO), AfterValidator(_printable)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(_Request):
    name: AccountName = Field(examples=["Momentum sleeve"])
    starting_cash: NonNegativeAmount = Field(
        default=Decimal(0),
        description="USD put in at once (recorded in the journal as a deposit); default 0",
    )


class AccountUpdate(_Request):
    name: AccountName = Field(examples=["Long-term"])


class Movement(_Request):
    """A deposit or a withdrawal."""

    amount: PositiveAmount = Field(description="USD, at most 2 decimal places, at most 1e12")
    idempotency_key: IdempotencyKey
    memo: Memo | None = Field(default=None, description="Your note, kept in the journal")


class AccountOut(BaseModel):
    id: uuid.UUID
    name: str
    currency: str
    cash: ExactDecimal
    reserved: ExactDecimal = Field(description="Cash promised to open orders")
    buying_power: ExactDecimal = Field(description="cash - reserved")
    created_at: datetime
    updated_at: datetime


PriceSource = Literal["quote", "last_fill"]


class PositionOut(BaseModel):
    symbol: str
    qty: ExactDecimal
    reserved_qty: ExactDecimal = Field(description="Promised to open sell orders")
    cost_basis: ExactDecimal
    avg_entry_price: ExactDecimal | None
    realized_pnl: ExactDecimal
    price: ExactDecimal | None = Field(description="The price the position is valued at")
    price_source: PriceSource | None = Field(
        description="quote: the latest quote; last_fill: the price of the latest fill"
    )
    price_as_of: datetime | None = Field(default=None, description="When that price was seen")
    price_stale: bool | None = Field(
        default=None, description="The quote is older than the trading maximum age"
    )
    quote_source: str | None = Field(
        default=None, description='The provider of the quote ("sim": simulated)'
    )
    market_value: ExactDecimal
    unrealized_pnl: ExactDecimal


class AccountDetail(AccountOut):
    long_market_value: ExactDecimal = Field(description="Open positions at their `price`")
    equity: ExactDecimal = Field(description="cash + long_market_value")
    positions: list[PositionOut] = Field(description="Open positions (qty > 0), by symbol")


class EntryOut(BaseModel):
    book: str = Field(examples=["cash"])
    instrument: str = Field(examples=["USD"])
    amount: ExactDecimal = Field(description="Signed: what the book gained (+) or gave (-)")


class ActivityOut(BaseModel):
    """One journal transaction as an account activity."""

    id: uuid.UUID
    account_id: uuid.UUID
    activity_type: ActivityType
    kind: str
    created_at: datetime
    net_amount: ExactDecimal = Field(description="What the transaction did to cash (signed)")
    symbol: str | None
    qty: ExactDecimal | None = Field(description="Signed quantity of a fill (+ buy, - sell)")
    price: ExactDecimal | None
    reference: str | None
    memo: str | None
    reverses_id: uuid.UUID | None
    entries: list[EntryOut]


class MovementOut(ActivityOut):
    idempotency_key: str | None
    replayed: bool = Field(
        description="true when this answers a repeated idempotency key: the original movement, "
        "nothing moved again"
    )


class PositionCheck(BaseModel):
    symbol: str
    ledger_qty: ExactDecimal = Field(description="The position book's sum in the journal")
    stored_qty: ExactDecimal
    difference: ExactDecimal = Field(description="stored - ledger; never anything but 0")
    ledger_cost_basis: ExactDecimal | None = Field(
        description="Average cost replayed from the fills not reversed (null if they oversell)"
    )
    stored_cost_basis: ExactDecimal
    ledger_realized_pnl: ExactDecimal | None
    stored_realized_pnl: ExactDecimal


class ReconcileReport(BaseModel):
    account_id: uuid.UUID
    currency: str
    cash_ledger: ExactDecimal = Field(description="Cash rebuilt from the journal")
    cash_balance: ExactDecimal = Field(description="Cash stored on the account")
    cash_difference: ExactDecimal = Field(description="cash_balance - cash_ledger")
    positions: list[PositionCheck]
    unbalanced_transactions: list[uuid.UUID] = Field(
        description="Transactions whose entries do not sum to zero per instrument"
    )
    balanced: bool
