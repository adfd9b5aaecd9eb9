from __future__ import annotations

import pytest

from quantdesk.assets.names import company_key, fold, query_words, search_words


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Nestlé S.A.", "nestle s a"),
        ("L'Oréal", "loreal"),
        ("McDonald\u2019s", "mcdonalds"),
        ("A.P. Møller - Mærsk", "a p moller maersk"),
        ("Société Générale", "societe generale"),
        ("Straße", "strasse"),
        ("  COCA-COLA  ", "coca cola"),
    ],
)
def test_fold_drops_accents_apostrophes_and_case(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_search_words_join_compounds_so_either_spelling_finds_them() -> None:
    assert search_words("Wal-Mart Stores, Inc.").split() == [
        "wal", "mart", "stores", "inc", "walmart"
    ]  # fmt: skip
    assert "cocacola" in search_words("The Coca-Cola Company").split()
    assert "att" in search_words("AT&T Inc.").split()
    assert search_words("Alphabet Inc.", ("Google",)).split()[-1] == "google"


@pytest.mark.parametrize(
    ("names", "key"),
    [
        (("Apple Inc.", "APPLE INC."), "apple"),
        (("Toyota Motor Corporation", "TOYOTA MOTOR CORP."), "toyotamotor"),
        (("Nestlé S.A.", "Nestlé SA", "NESTLE SA"), "nestle"),
        (("Siemens Aktiengesellschaft", "Siemens AG"), "siemens"),
        (("TENCENT", "Tencent Holdings Limited"), "tencent"),
        (("The Coca-Cola Company", "Coca-Cola Co"), "cocacola"),
        (("Coca-Cola FEMSA, S.A.B. de C.V.",), "cocacolafemsa"),
    ],
)
def test_company_key_groups_one_companys_listings(names: tuple[str, ...], key: str) -> None:
    assert {company_key(name) for name in names} == {key}


def test_company_key_keeps_different_companies_apart() -> None:
    assert company_key("SoftBank Group Corp.") != company_key("SoftBank Corp.")
    assert company_key("Apple Hospitality REIT, Inc.") != company_key("Apple Inc.")
    assert company_key("Inc.") == "inc"  # a name that is only a legal form stays a name


def test_query_words_are_safe_tokens() -> None:
    assert query_words("l'oréal") == ("loreal",)
    assert query_words('"AND" OR (x*)') == ("and", "or", "x")
