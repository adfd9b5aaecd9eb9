"""How names are compared: folded words for search, and a company key that groups listings.

- ``fold``: lower-case ASCII; accents dropped (Nestlé -> nestle, Société -> societe), the Latin
  letters Unicode does not decompose spelled out (Ø -> o, ß -> ss), apostrophes removed
  (L'Oréal -> loreal, McDonald's -> mcdonalds), every other non-alphanumeric a space.
- ``search_words``: the folded words, plus each hyphen/ampersand/dot compound joined up
  (Wal-Mart -> wal mart walmart, Coca-Cola -> coca cola cocacola, AT&T -> at t att), so a name
  is found however its compound is typed.
- ``company_key``: the folded name without spaces, legal forms ("Inc.", "S.A.",
  "Aktiengesellschaft"...), a trailing "Holdings" or a leading "The"; "APPLE INC." and
  "Apple Inc." share "apple", "TENCENT" and "Tencent Holdings Limited" share "tencent".
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD leaves whole; everything else is decomposed and its accents dropped.
_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ß": "ss", "ł": "l",
     "Ł": "l", "đ": "d", "Đ": "d", "þ": "th", "Þ": "th", "ð": "d", "\u0131": "i"}
)  # fmt: skip
_APOSTROPHES = re.compile("['`\u2019\u00b4]")  # straight, grave, curly and acute
_NON_WORD = re.compile(r"[^a-z0-9]+")
_COMPOUND = re.compile(r"[a-z0-9]+(?:[-&.+/][a-z0-9]+)+")

# Legal forms, as folded words, removed from the end of a name (longest first) for the company
# key; the sources spell them many ways (Inc., Incorporated, Corp, S.A.B. de C.V., p.l.c.).
_LEGAL_FORMS: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        (
            tuple(form.split())
            for form in (
                "inc", "incorporated", "corp", "corporation", "co", "company", "companies", "ltd",
                "limited", "llc", "lp", "plc", "p l c", "ag", "aktiengesellschaft", "se", "sa",
                "s a", "nv", "n v", "sa nv", "bv", "ab", "ab publ", "publ", "asa", "as", "a s",
                "oyj", "abp", "spa", "s p a", "sab de cv", "s a b de c v", "s a de c v",
                "sa de cv", "kgaa", "co kgaa", "gmbh", "hf", "tbk", "pt", "bhd", "berhad",
                "pcl", "public company limited", "holdings inc", "co ltd", "reit inc", "adr",
                "class a", "class b", "cl a", "cl b", "the", "societe anonyme",
                "societe en commandite par actions", "sca", "scpa", "holding", "holdings",
            )
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces."""
    text = _APOSTROPHES.sub("", text.translate(_LETTERS))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(_NON_WORD.sub(" ", ascii_text.lower()).split())


def _fold_keeping_joints(text: str) -> str:
    text = _APOSTROPHES.sub("", text.translate(_LETTERS))
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def search_words(name: str, extra: tuple[str, ...] = ()) -> str:
    """The words a name is found by: its folded words, joined compounds, then ``extra`` ones."""
    words = fold(name).split()
    words += ["".join(_NON_WORD.split(c)) for c in _COMPOUND.findall(_fold_keeping_joints(name))]
    for alias in extra:
        words += fold(alias).split()
    return " ".join(dict.fromkeys(words))


def company_key(name: str) -> str:
    """The folded name without legal forms and spaces: one key for one company's listings."""
    words = fold(name).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    stripped = True
    while stripped and len(words) > 1:
        stripped = False
        for form in _LEGAL_FORMS:
            if len(form) < len(words) and tuple(words[-len(form) :]) == form:
                words = words[: -len(form)]
                stripped = True
                break
    return "".join(words)


def query_words(text: str) -> tuple[str, ...]:
    """The folded words of what someone typed (apostrophes join: "l'oreal" is "loreal")."""
    return tuple(fold(text).split())
