"""The typo tier: when nothing matches a word as typed, the catalog words one or two edits away.

The word list is small and global (the distinct name words of the catalog, each with the best
search order of the assets it names), so it is built once per process from the database and
held in memory: edit distances over ~100k words take rapidfuzz about a millisecond, while a
trigram index would need pg_trgm on PostgreSQL and a second scheme on SQLite. It is rebuilt
after a catalog load in this process, and at most ``MAX_AGE_S`` after a change made elsewhere.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_LENGTH = 4  # shorter words have too many neighbours to guess from
MAX_ALTERNATIVES = 3
MAX_AGE_S = 600.0


def max_edits(word: str) -> int:
    """One edit (a swap of neighbours counts as one) up to 7 letters, two from 8."""
    return 1 if len(word) < 8 else 2


class Vocabulary:
    """Distinct catalog words, by length, each with the best search order it leads to."""

    def __init__(self, rows: Iterable[tuple[str, int]]) -> None:
        best: dict[str, int] = {}
        for text, order in rows:
            for word in text.split():
                if len(word) >= MIN_LENGTH - 1 and word.isalpha() and order < best.get(word, 2**62):
                    best[word] = order
        self.best = best
        by_length: dict[int, list[str]] = defaultdict(list)
        for word in best:
            by_length[len(word)].append(word)
        self.by_length = dict(by_length)

    def alternatives(self, word: str) -> tuple[str, ...]:
        """Catalog words close to ``word``: the fewest edits first, then the best known."""
        if len(word) < MIN_LENGTH or not word.isalpha() or word in self.best:
            return ()
        edits = max_edits(word)
        found: list[tuple[int, int, str]] = []
        for length in range(len(word) - edits, len(word) + edits + 1):
            choices = self.by_length.get(length)
            if not choices:
                continue
            for candidate, distance, _ in process.extract(
                word, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
            ):
                found.append((int(distance), self.best[candidate], candidate))
        return tuple(candidate for *_, candidate in sorted(found)[:MAX_ALTERNATIVES])


_cache: dict[str, tuple[float, Vocabulary]] = {}


async def vocabulary(
    database_key: str, load: Callable[[], Awaitable[list[tuple[str, int]]]]
) -> Vocabulary:
    """The vocabulary of one database, built on first use and kept ``MAX_AGE_S``."""
    cached = _cache.get(database_key)
    if cached is not None and time.monotonic() - cached[0] < MAX_AGE_S:
        return cached[1]
    built = Vocabulary(await load())
    _cache[database_key] = (time.monotonic(), built)
    return built


def forget() -> None:
    """Drop every cached vocabulary (the catalog changed in this process)."""
    _cache.clear()
