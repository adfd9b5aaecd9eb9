"""The search evaluation set (``search_eval.tsv``) and its scoring: top-1 and top-3 accuracy.

Shared by the eval test (tests/assets/test_search_eval.py) and ``make bench``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EVAL_FILE = Path(__file__).with_name("search_eval.tsv")
PARTS = ("tune", "heldout")


@dataclass(frozen=True)
class EvalQuery:
    part: str
    query: str
    accepted: frozenset[str]


@dataclass
class EvalScore:
    total: int = 0
    top1: int = 0
    top3: int = 0
    misses: list[tuple[str, list[str]]] = field(default_factory=list)  # query, what came first

    def line(self, label: str) -> str:
        if not self.total:
            return f"{label}: no queries"
        return (
            f"{label}: n={self.total} top-1 {self.top1 / self.total:.0%} "
            f"({self.top1}/{self.total}) top-3 {self.top3 / self.total:.0%} "
            f"({self.top3}/{self.total})"
        )


def load_eval_set(path: Path = EVAL_FILE) -> list[EvalQuery]:
    queries = []
    for raw in path.read_text("utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        part, query, accepted = raw.split("\t")
        assert part in PARTS, raw
        queries.append(EvalQuery(part, query, frozenset(accepted.split())))
    return queries


async def score(
    queries: Sequence[EvalQuery], search: Callable[[str], Awaitable[list[str]]]
) -> dict[str, EvalScore]:
    """Scores by part and for "all"; ``search`` returns the symbols of the first results."""
    scores = {part: EvalScore() for part in (*PARTS, "all")}
    for item in queries:
        symbols = (await search(item.query))[:3]
        for key in (item.part, "all"):
            s = scores[key]
            s.total += 1
            s.top1 += bool(symbols) and symbols[0] in item.accepted
            s.top3 += any(symbol in item.accepted for symbol in symbols)
            if key == "all" and not (symbols and symbols[0] in item.accepted):
                s.misses.append((item.query, symbols))
    return scores
