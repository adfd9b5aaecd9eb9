"""Request and response models of the universes domain."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2000
MAX_SYMBOLS_PER_REQUEST = 10_000
MAX_UNIVERSE_ASSETS = 50_000
MAX_SYMBOL_INPUT_LENGTH = 64
MAX_INDEX_NAME_LENGTH = 64
DEFAULT_MEMBERS_PAGE = 100
MAX_MEMBERS_PAGE = 1000

# Categories never accepted in text: control characters, lone surrogates, line/paragraph breaks.
_FORBIDDEN_IN_NAME = {"Cc", "Cs", "Zl", "Zp"}
_ALLOWED_CONTROLS_IN_DESCRIPTION = {"\n", "\r", "\t"}


def _clean_name(value: str) -> str:
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValueError("the name cannot be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name has at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(ch) in _FORBIDDEN_IN_NAME for ch in name):
        raise ValueError("the name cannot contain control characters or line breaks")
    return name


def _clean_description(value: str | None) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(f"the description has at most {MAX_DESCRIPTION_LENGTH} characters")
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in _ALLOWED_CONTROLS_IN_DESCRIPTION):
            raise ValueError("the description cannot contain control characters")
    return text or None


UniverseName = Annotated[str, AfterValidator(_clean_name)]
Description = Annotated[str | None, AfterValidator(_clean_description)]
# Length-checked at the schema; whether the text is a symbol is decided per item by the service.
SymbolInput = Annotated[str, StringConstraints(max_length=MAX_SYMBOL_INPUT_LENGTH)]

# added_pending: not in the catalog and no data provider could check it now; added, and
# validated in the background (the asset's validation_status says "pending" until then).
MembershipStatus = Literal[
    "added",
    "added_pending",
    "already_present",
    "removed",
    "not_present",
    "unknown_symbol",
    "invalid_format",
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UniverseCreate(_Request):
    name: UniverseName = Field(examples=["Big Tech"])
    description: Description = Field(default=None, examples=["Mega-cap US technology"])
    symbols: list[SymbolInput] | None = Field(
        default=None,
        max_length=MAX_SYMBOLS_PER_REQUEST,
        description="Initial members in this order; every one must be a known symbol.",
        examples=[["AAPL", "MSFT", "NVDA"]],
    )
    from_index: str | None = Field(
        default=None,
        max_length=MAX_INDEX_NAME_LENGTH,
        description="Start with the members of this index (symbol order), e.g. 'S&P 500'; "
        "`symbols`, if also given, are appended after them.",
        examples=["S&P 500"],
    )

    @field_validator("from_index")
    @classmethod
    def _index_name_is_text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value.strip()
        # No index name holds one, and PostgreSQL cannot even compare a NUL: refuse, not 500.
        if any(unicodedata.category(ch) in _FORBIDDEN_IN_NAME for ch in name):
            raise ValueError("an index name cannot contain control characters or line breaks")
        return name


class UniverseUpdate(_Request):
    name: UniverseName | None = None
    description: Description = None

    @model_validator(mode="after")
    def _name_is_not_null(self) -> UniverseUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null; omit it to keep the current name")
        return self


class MembershipChange(_Request):
    add: list[SymbolInput] = Field(
        default_factory=list, max_length=MAX_SYMBOLS_PER_REQUEST, examples=[["AAPL", "BRK.B"]]
    )
    remove: list[SymbolInput] = Field(
        default_factory=list, max_length=MAX_SYMBOLS_PER_REQUEST, examples=[["JPM"]]
    )

    @model_validator(mode="after")
    def _total_within_limit(self) -> MembershipChange:
        total = len(self.add) + len(self.remove)
        if total > MAX_SYMBOLS_PER_REQUEST:
            raise ValueError(
                f"at most {MAX_SYMBOLS_PER_REQUEST} symbols per request in add and remove "
                f"together (got {total})"
            )
        return self


class ReorderRequest(_Request):
    symbols: list[SymbolInput] = Field(
        max_length=MAX_UNIVERSE_ASSETS,
        description="Every current member exactly once, in the new order.",
        examples=[["MSFT", "AAPL", "NVDA"]],
    )


class UniverseSummary(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    asset_count: int
    created_at: datetime
    updated_at: datetime


class UniverseMember(BaseModel):
    symbol: str
    name: str
    asset_class: str
    exchange: str | None
    sector: str | None
    position: int = Field(description="0-based rank in the universe's order")
    added_at: datetime
    metadata: dict[str, str] = Field(description="Membership metadata, e.g. from a CSV import")
    validation_status: str = Field(
        description="The asset's: valid, invalid (a provider refuted it since it was added), "
        "or pending (added while no provider could check it)"
    )


class ValidationCounts(BaseModel):
    valid: int = 0
    pending: int = 0
    invalid: int = 0


class UniverseDetail(UniverseSummary):
    """A universe without its members (they are paged at ``assets_url``), with their counts."""

    by_validation_status: ValidationCounts = Field(description="Members by validation status")
    by_asset_class: dict[str, int] = Field(
        description="Members by asset class (only classes present)",
        examples=[{"equity": 480, "etf": 20}],
    )
    assets_url: str = Field(
        description="The members in order, a page at a time (`list_universe_assets`)",
        examples=["/api/v1/universes/3fa85f64-5717-4562-b3fc-2c963f66afa6/assets"],
    )


class SymbolResult(BaseModel):
    input: str
    action: Literal["add", "remove"]
    symbol: str | None = Field(
        description="The catalog symbol when found, else the canonical spelling; "
        "null when the input is not a symbol"
    )
    status: MembershipStatus
    reason: str | None = None


class MembershipCounts(BaseModel):
    added: int = 0
    added_pending: int = 0
    already_present: int = 0
    removed: int = 0
    not_present: int = 0
    unknown_symbol: int = 0
    invalid_format: int = 0


class MembershipResult(BaseModel):
    universe_id: uuid.UUID
    results: list[SymbolResult]
    counts: MembershipCounts
    asset_count: int


class ImportRowResult(BaseModel):
    row: int = Field(description="Row number in the file; the header is row 1")
    input: str
    symbol: str | None
    status: MembershipStatus
    reason: str | None = None


class TurnoverEvent(BaseModel):
    symbol: str
    occurred_at: datetime


class UniverseTurnover(BaseModel):
    universe_id: uuid.UUID
    start: datetime
    end: datetime
    additions: list[TurnoverEvent]
    removals: list[TurnoverEvent]
    addition_count: int
    removal_count: int
    size_at_start: int
    size_at_end: int
    turnover_rate: Decimal = Field(
        description="(additions + removals) / 2 / ((size_at_start + size_at_end) / 2), "
        "6 decimal places",
        examples=["0.250000"],
    )


class DeletedUniverse(BaseModel):
    id: uuid.UUID
    name: str
    asset_count: int
