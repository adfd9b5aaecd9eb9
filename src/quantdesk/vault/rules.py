"""Categorisation rules: filters on a file (extension, MIME type, name, size, dates, a catalog
symbol) and a target template such as ``{category}/{symbol}/{year}/{name}``.

Rules are YAML or JSON validated by pydantic; the first rule whose filters all match decides the
category and the target. A file no rule matches keeps its place (category ``other``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TEMPLATE_FIELDS = frozenset(
    {"category", "symbol", "year", "month", "name", "stem", "ext", "parent"}
)
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20\d\d)(?!\d)")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@lru_cache(maxsize=256)
def name_pattern(pattern: str) -> Any:
    """A user's name filter, compiled by RE2: its matching time is linear in the name, so no
    pattern can stall a worker (Python's ``re`` backtracks: ``(a+)+$`` takes forever)."""
    return re2.compile(pattern, _RE2_OPTIONS)


class RuleFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extensions: list[str] | None = Field(default=None, max_length=100)
    mime: list[str] | None = Field(
        default=None, max_length=50, description="MIME types or prefixes such as image/"
    )
    name_regex: str | None = Field(
        default=None, max_length=200, description="RE2 syntax (no look-arounds nor back-references)"
    )
    min_size: int | None = Field(default=None, ge=0)
    max_size: int | None = Field(default=None, ge=0)
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    has_symbol: bool | None = Field(
        default=None, description="Only files naming (true) or not naming (false) a catalog symbol"
    )

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [ext.strip().lower().lstrip(".") for ext in value if ext.strip()]

    @field_validator("name_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                name_pattern(value)
            except re2.error as exc:
                reason = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                raise ValueError(f"not a regular expression RE2 accepts: {reason}") from None
        return value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    category: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    match: RuleFilter = Field(default_factory=RuleFilter)
    target: str | None = Field(
        default="{category}/{symbol}/{year}/{name}",
        max_length=300,
        description="Where the file goes; null keeps it in place. Fields: "
        + ", ".join(sorted(TEMPLATE_FIELDS))
        + "; an empty field drops its folder",
    )

    @field_validator("target")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from exc
        unknown = fields - TEMPLATE_FIELDS
        if unknown or "" in fields:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; use {sorted(TEMPLATE_FIELDS)}")
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError("the target must stay inside the vault")
        return value


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(max_length=200)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return self


def parse_rules(text: str) -> RuleSet:
    """A rule set from YAML or JSON text (JSON is YAML); raises ValueError or ValidationError."""
    data = yaml.safe_load(text)
    if isinstance(data, list):
        data = {"rules": data}
    return RuleSet.model_validate(data)


_DOCS = ["pdf", "htm", "html", "txt", "xbrl", "xml", "doc", "docx"]
DEFAULT_RULES = RuleSet.model_validate(
    {
        "rules": [
            {
                "name": "filings",
                "category": "filings",
                "match": {
                    "extensions": _DOCS,
                    "name_regex": r"(?i)(10-?k|10-?q|8-?k|20-?f|40-?f|s-1|def ?14a|annual[ _-]?"
                    r"report|prospectus|proxy|filing)",
                },
            },
            {
                "name": "statements",
                "category": "statements",
                "match": {
                    "extensions": ["pdf", "csv", "xlsx", "xls", "ofx", "qfx", "qif"],
                    "name_regex": r"(?i)(statement|broker|account|confirm|1099|tax|dividend|"
                    r"contract[ _-]?note|trades?\b)",
                },
                "target": "{category}/{year}/{name}",
            },
            {
                "name": "research notes",
                "category": "research",
                "match": {
                    "extensions": [
                        "md",
                        "markdown",
                        "txt",
                        "doc",
                        "docx",
                        "odt",
                        "rtf",
                        "org",
                        "pdf",
                        "ipynb",
                    ]
                },
            },
            {
                "name": "spreadsheets",
                "category": "spreadsheets",
                "match": {"extensions": ["xlsx", "xls", "xlsm", "ods", "numbers"]},
            },
            {
                "name": "data files",
                "category": "data",
                "match": {
                    "extensions": [
                        "csv",
                        "tsv",
                        "json",
                        "jsonl",
                        "parquet",
                        "feather",
                        "arrow",
                        "h5",
                        "hdf5",
                        "sqlite",
                        "db",
                        "xml",
                        "pkl",
                    ]
                },
            },
            {
                "name": "images",
                "category": "images",
                "match": {"mime": ["image/"]},
                "target": "{category}/{year}/{name}",
            },
            {
                "name": "images by extension",
                "category": "images",
                "match": {
                    "extensions": [
                        "png",
                        "jpg",
                        "jpeg",
                        "gif",
                        "webp",
                        "svg",
                        "heic",
                        "tif",
                        "tiff",
                        "bmp",
                    ]
                },
                "target": "{category}/{year}/{name}",
            },
            {
                "name": "archives",
                "category": "archives",
                "match": {"extensions": ["zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar"]},
                "target": "{category}/{year}/{name}",
            },
        ]
    }
)


@dataclass(frozen=True)
class FileFacts:
    """What a rule looks at."""

    path: str
    size: int
    mtime: datetime
    mime: str | None
    symbol: str | None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def extension(self) -> str:
        return extension_of(self.name)


def extension_of(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower()[:32] if dot and stem else ""


def _matches(rule: Rule, facts: FileFacts) -> bool:
    f = rule.match
    if f.extensions is not None and facts.extension not in f.extensions:
        return False
    if f.mime is not None and not any(
        (facts.mime or "").startswith(m) if m.endswith("/") else facts.mime == m for m in f.mime
    ):
        return False
    if f.name_regex is not None and not name_pattern(f.name_regex).search(facts.name):
        return False
    if f.min_size is not None and facts.size < f.min_size:
        return False
    if f.max_size is not None and facts.size > f.max_size:
        return False
    if f.modified_after is not None and facts.mtime < _aware(f.modified_after):
        return False
    if f.modified_before is not None and facts.mtime >= _aware(f.modified_before):
        return False
    return f.has_symbol is None or f.has_symbol == (facts.symbol is not None)


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def categorise(rules: RuleSet, facts: FileFacts) -> Rule | None:
    for rule in rules.rules:
        if _matches(rule, facts):
            return rule
    return None


def _safe(value: str) -> str:
    return _UNSAFE.sub("_", value).strip() or "_"


def render_target(rule: Rule, facts: FileFacts) -> str | None:
    """The rule's target for the file: empty fields drop their folder; None keeps it in place."""
    if rule.target is None:
        return None
    name = facts.name
    year_in_name = _YEAR.search(name)
    values: dict[str, Any] = {
        "category": rule.category,
        "symbol": facts.symbol or "",
        "year": year_in_name.group(1) if year_in_name else f"{facts.mtime.year:04d}",
        "month": f"{facts.mtime.month:02d}",
        "name": name,
        "stem": name.rsplit(".", 1)[0] if facts.extension else name,
        "ext": facts.extension,
        "parent": facts.path.rsplit("/", 2)[-2] if "/" in facts.path else "",
    }
    segments = []
    for segment in rule.target.split("/"):
        rendered = segment.format(**{k: _safe(v) if v else "" for k, v in values.items()})
        if rendered.strip() and rendered not in (".", ".."):
            segments.append(rendered)
    return "/".join(segments) or None


# Not after "10-", "20-" and the like: the K of a 10-K is a form, not Kellogg.
_TICKER = re.compile(
    r"(?<![A-Za-z0-9])(?<!\d-)([A-Z][A-Z0-9]{0,5}(?:[.-][A-Z]{1,2})?)(?![A-Za-z0-9])"
)
# Upper-case words in file names that are not meant as tickers.
STOP_WORDS = frozenset(
    [
        "A",
        "I",
        "PDF",
        "CSV",
        "TSV",
        "XLS",
        "XLSX",
        "DOC",
        "DOCX",
        "TXT",
        "MD",
        "JPG",
        "JPEG",
        "PNG",
        "GIF",
        "ZIP",
        "TAR",
        "GZ",
        "JSON",
        "XML",
        "HTML",
        "HTM",
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CHF",
        "CAD",
        "FY",
        "Q1",
        "Q2",
        "Q3",
        "Q4",
        "H1",
        "H2",
        "YTD",
        "TTM",
        "ANNUAL",
        "REPORT",
        "NOTE",
        "NOTES",
        "DRAFT",
        "FINAL",
        "COPY",
        "OLD",
        "NEW",
        "THE",
        "AND",
        "OF",
        "IN",
        "ON",
        "FOR",
        "TO",
        "BY",
        "AT",
        "IR",
        "ESG",
        "CEO",
        "CFO",
        "ETF",
        "IPO",
        "SEC",
        "KPI",
        "EPS",
    ]
)


def symbol_candidates(path: str) -> list[str]:
    """Upper-case words of the file name, then of its folders (deepest first), that may be
    ticker symbols; the catalog decides (``AAPL_10-K_2023.pdf`` → ``AAPL``)."""
    parts = path.split("/")
    found: list[str] = []
    for part in [parts[-1].rsplit(".", 1)[0], *reversed(parts[:-1])]:
        for token in _TICKER.findall(part):
            if token not in STOP_WORDS and not token.isdigit() and token not in found:
                found.append(token)
    return found
