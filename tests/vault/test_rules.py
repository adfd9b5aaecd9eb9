"""Categorisation rules: YAML/JSON validated by pydantic, filters, target templates, symbols."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from quantdesk.vault.rules import (
    DEFAULT_RULES,
    FileFacts,
    categorise,
    parse_rules,
    render_target,
    symbol_candidates,
)

WHEN = datetime(2021, 6, 1, tzinfo=UTC)


def _facts(path: str, *, size: int = 10, mime: str | None = None, symbol: str | None = None,
           mtime: datetime = WHEN) -> FileFacts:  # fmt: skip
    return FileFacts(path, size, mtime, mime, symbol)


def test_yaml_rules_with_every_filter() -> None:
    rules = parse_rules(
        """
rules:
  - name: big scans
    category: scans
    match: {mime: [image/], min_size: 1000, modified_after: 2020-01-01}
    target: "{category}/{year}/{month}/{name}"
  - name: tickers
    category: by-symbol
    match: {has_symbol: true, extensions: [.PDF, txt]}
    target: "{symbol}/{stem}.{ext}"
  - name: drafts
    category: drafts
    match: {name_regex: "(?i)draft", max_size: 100, modified_before: 2030-01-01T00:00:00Z}
    target: null
"""
    )
    big = _facts("x/scan.jpg", size=5000, mime="image/jpeg")
    assert categorise(rules, big).category == "scans"  # type: ignore[union-attr]
    assert render_target(rules.rules[0], big) == "scans/2021/06/scan.jpg"
    assert categorise(rules, _facts("x/scan.jpg", size=10, mime="image/jpeg")) is None
    old = _facts("x/scan.jpg", size=5000, mime="image/jpeg", mtime=datetime(2019, 1, 1, tzinfo=UTC))
    assert categorise(rules, old) is None
    ticker = _facts("inbox/NVDA notes.PDF", symbol="NVDA")
    rule = categorise(rules, ticker)
    assert rule is not None
    assert rule.category == "by-symbol"
    assert render_target(rule, ticker) == "NVDA/NVDA notes.pdf"
    draft = categorise(rules, _facts("a/My DRAFT.md"))
    assert draft is not None
    assert draft.category == "drafts"
    assert render_target(draft, _facts("a/My DRAFT.md")) is None  # stays where it is


def test_a_catastrophic_pattern_runs_in_linear_time() -> None:
    rules = parse_rules("rules: [{name: a, category: a, match: {name_regex: '^(a+)+$'}}]")
    name = "a" * 200 + "!"  # Python's re backtracks for ages on this one
    assert categorise(rules, _facts(f"x/{name}")) is None
    assert categorise(rules, _facts("x/" + "a" * 200)) is not None


def test_json_is_yaml_and_a_list_is_a_rule_set() -> None:
    rules = parse_rules('[{"name": "all", "category": "misc", "target": "misc/{name}"}]')
    assert rules.rules[0].category == "misc"


@pytest.mark.parametrize(
    "text",
    [
        "rules: [{name: a, category: A}]",  # category must be a slug
        "rules: [{name: a, category: a, target: '{unknown}'}]",
        "rules: [{name: a, category: a, target: '../{name}'}]",
        "rules: [{name: a, category: a, target: '/abs/{name}'}]",
        "rules: [{name: a, category: a, match: {name_regex: '(('}}]",
        "rules: [{name: a, category: a, match: {name_regex: '(?<=x)y'}}]",  # not RE2
        "rules: [{name: a, category: a, match: {colour: red}}]",
        "rules: [{name: a, category: a}, {name: a, category: b}]",
    ],
)
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_rules(text)


def test_empty_fields_drop_their_folder_and_values_cannot_make_folders() -> None:
    rule = DEFAULT_RULES.rules[0]  # filings: {category}/{symbol}/{year}/{name}
    assert render_target(rule, _facts("in/10-K 2019.pdf")) == "filings/2019/10-K 2019.pdf"
    assert render_target(rule, _facts("in/AAPL 10-K.pdf", symbol="AAPL")) == (
        "filings/AAPL/2021/AAPL 10-K.pdf"
    )
    evil = _facts("in/x.pdf", symbol="../../etc")
    assert ".." not in (render_target(rule, evil) or "").split("/")


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("a/AAPL_10-K_2023.pdf", "filings"),
        ("a/annual report.html", "filings"),
        ("a/Broker Statement Jan.pdf", "statements"),
        ("a/1099-DIV.pdf", "statements"),
        ("a/idea.md", "research"),
        ("a/model.xlsx", "spreadsheets"),
        ("a/prices.parquet", "data"),
        ("a/prices.csv", "data"),
        ("a/chart.webp", "images"),
        ("a/backup.tar.gz", "archives"),
    ],
)
def test_default_rules(path: str, category: str) -> None:
    rule = categorise(DEFAULT_RULES, _facts(path))
    assert rule is not None
    assert rule.category == category


def test_symbol_candidates_are_upper_case_words_name_first() -> None:
    assert symbol_candidates("research/MSFT/AAPL_10-K_2023.pdf") == ["AAPL", "MSFT"]
    assert symbol_candidates("notes/BRK-B letter.pdf") == ["BRK-B"]
    assert symbol_candidates("VOD.L/annual.pdf") == ["VOD.L"]
    assert symbol_candidates("misc/FY2023 PDF USD report.pdf") == ["FY2023"]
    assert symbol_candidates("lower/apple notes.md") == []
    assert symbol_candidates("filings/10-K 2019 and 8-K.pdf") == []
