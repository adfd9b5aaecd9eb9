"""Response models of the asset catalog. Decimals are serialised as strings, never floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from quantdesk.models import Asset

ExactDecimal = Annotated[
    Decimal,
    PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json"),
]


class MatchKind(StrEnum):
    EXACT = "exact"  # the symbol itself, however its class separator was typed
    PREFIX = "prefix"  # a symbol starting with the query
    NAME = "name"  # words of the name (or a known alias) starting with the query's words
    FUZZY = "fuzzy"  # nothing matched as typed: words one or two typing errors away
    FILTER = "filter"  # no query text: matched by the filters alone


class AssetSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    symbol: str = Field(examples=["AAPL"])
    name: str = Field(examples=["Apple Inc."])
    asset_class: str = Field(examples=["equity"])
    exchange: str | None = Field(default=None, examples=["NASDAQ"])
    country: str | None = Field(default=None, examples=["United States"])
    sector: str | None = Field(default=None, examples=["Technology"])
    currency: str | None = Field(
        default=None, description="ISO 4217 currency it trades in", examples=["USD"]
    )


class AssetSearchResult(AssetSummary):
    match: MatchKind


class AssetDetail(AssetSummary):
    industry: str | None = None
    market_cap: ExactDecimal | None = None
    pe_ratio: ExactDecimal | None = None
    dividend_yield: ExactDecimal | None = None
    is_validated: bool
    last_validated_at: datetime | None = None
    validation_source: str | None = None
    validation_status: str = Field(
        default="valid",
        description="valid, invalid, or pending (added while no provider could check it)",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    indices: list[str] = Field(default_factory=list, description="Names of indices it belongs to")

    @classmethod
    def build(cls, asset: Asset, indices: list[str]) -> AssetDetail:
        summary = AssetSummary.model_validate(asset).model_dump()
        return cls(
            **summary,
            industry=asset.industry,
            market_cap=asset.market_cap,
            pe_ratio=asset.pe_ratio,
            dividend_yield=asset.dividend_yield,
            is_validated=asset.is_validated,
            last_validated_at=asset.last_validated_at,
            validation_source=asset.validation_source,
            validation_status=asset.validation_status,
            metadata=dict(asset.metadata_ or {}),
            indices=indices,
        )


class SectorCount(BaseModel):
    sector: str = Field(examples=["Technology"])
    asset_count: int


class SectorList(BaseModel):
    items: list[SectorCount]


class IndexSummary(BaseModel):
    name: str = Field(examples=["S&P 500"])
    country: str | None = Field(default=None, examples=["United States"])
    member_count: int


class IndexList(BaseModel):
    items: list[IndexSummary]


class IndexDetail(IndexSummary):
    members: list[AssetSummary]
