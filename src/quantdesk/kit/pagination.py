"""Opaque cursors and the page shape every list endpoint returns."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, and_, or_

from quantdesk.kit.errors import InvalidInput

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("The cursor is not valid", field="cursor") from exc
    if not isinstance(position, dict):
        raise InvalidInput("The cursor is not valid", field="cursor")
    return position


# --- Keyset cursors over (created_at, id): "newest first" lists -------------------------------


def encode_time_id(created_at: datetime, row_id: uuid.UUID) -> str:
    """The cursor of the row a page ended at, for a list ordered by (created_at, id)."""
    return encode_cursor({"c": created_at.isoformat(), "i": str(row_id)})


def decode_time_id(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """(created_at, id) of the previous page's last row; a forged cursor is a 422, never a 500."""
    position = decode_cursor(cursor)
    if not position:
        return None
    try:
        created_at = datetime.fromisoformat(position["c"])
        row_id = uuid.UUID(position["i"])
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        # Converted here: an offset that moves it past year 1 or 9999 is a bad cursor.
        return created_at.astimezone(UTC), row_id
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidInput("The cursor is not valid", field="cursor") from exc


TimeId = tuple[datetime, uuid.UUID]
S = TypeVar("S", bound=Select[Any])


def newest_first(stmt: S, model: Any, *, before: TimeId | None, limit: int) -> S:
    """``stmt`` ordered newest first by ``model``'s (created_at, id), starting after ``before``
    (the previous page's last row), at most ``limit`` rows."""
    if before is not None:
        created_at, row_id = before
        stmt = stmt.where(
            or_(
                model.created_at < created_at,
                and_(model.created_at == created_at, model.id < row_id),
            )
        )
    return stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit)


def newest_first_page(
    rows: Sequence[T], limit: int, key: Callable[[T], Any] = lambda row: row
) -> tuple[list[T], str | None]:
    """The page of ``rows`` (read with ``limit + 1``) and the cursor of the next one (None on
    the last); ``key`` gives the row's object with ``created_at`` and ``id``."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    last = key(page[-1])
    return page, encode_time_id(last.created_at, last.id)
