"""What a personal API token may do: its scopes, and the scope each HTTP method needs.

Two tiers, chosen when the token is created: ``read`` (search, get, list: the safe methods) and
``write`` (everything else; a write token can also read). Login sessions (JWT) are not scoped.
The REST API and the AI tools (``quantdesk.agents``) apply the same rule: a tool needs the scope
of its operation's method.
"""

from __future__ import annotations

from collections.abc import Iterable

READ = "read"
WRITE = "write"
ALL_SCOPES: tuple[str, ...] = (READ, WRITE)
FULL_ACCESS = frozenset(ALL_SCOPES)
# The column's default: tokens made before scopes existed keep full access.
FULL_ACCESS_TEXT = " ".join(ALL_SCOPES)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope(method: str) -> str:
    """The scope a call with this HTTP method needs: ``read`` for safe methods, else ``write``."""
    return READ if method.upper() in _SAFE_METHODS else WRITE


def normalise(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scopes in canonical order; ``write`` implies ``read`` (a writer must see its work)."""
    given = set(scopes)
    if WRITE in given:
        given.add(READ)
    return tuple(scope for scope in ALL_SCOPES if scope in given)


def parse(text: str | None) -> frozenset[str]:
    """The stored form (space-separated, as OAuth 2 writes scopes) as a set; empty means none."""
    return frozenset(normalise((text or "").split()))


def render(scopes: Iterable[str]) -> str:
    return " ".join(normalise(scopes))
