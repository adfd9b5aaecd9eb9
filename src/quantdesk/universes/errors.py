"""Errors of the universes domain."""

from __future__ import annotations

from typing import Any

from quantdesk.kit.errors import Conflict, NotFound, QuantdeskError

# A 10,000-item list can be all wrong; the message gives the count, details the first ones.
_MAX_DETAILS = 100


class UniverseNotFound(NotFound):
    code = "universe_not_found"
    message = "Universe not found"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("next_actions", ["list_universes"])
        super().__init__(message, **kwargs)


class UniverseNameTaken(Conflict):
    code = "universe_name_taken"
    message = "You already have a universe with this name"

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("details", [{"field": "name", "reason": f"'{name}' is already used"}])
        kwargs.setdefault("next_actions", ["list_universes", "update_universe"])
        super().__init__(None, **kwargs)


class InvalidItems(QuantdeskError):
    """A 422 naming each offending item of a list (``field`` like ``symbols.3``)."""

    status_code = 422
    code = "validation_error"
    message = "Invalid input"

    def __init__(self, message: str, details: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(message, details=details[:_MAX_DETAILS], **kwargs)
