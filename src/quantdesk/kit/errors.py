"""One error hierarchy: each business error carries its HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class QuantdeskError(Exception):
    status_code = 400
    code = "bad_request"
    message = "The request could not be processed"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        next_actions: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.details = details or []
        self.next_actions = next_actions or []
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(QuantdeskError):
    status_code = 404
    code = "not_found"
    message = "Not found"


class Conflict(QuantdeskError):
    status_code = 409
    code = "conflict"
    message = "Conflict with the current state"


class PayloadTooLarge(QuantdeskError):
    status_code = 413
    code = "payload_too_large"
    message = "The request body is too large"


class Unauthorized(QuantdeskError):
    status_code = 401
    code = "not_authenticated"
    message = "Authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(QuantdeskError):
    status_code = 403
    code = "forbidden"
    message = "Not allowed"


class InvalidInput(QuantdeskError):
    """A 422 raised by a service, shaped like a request-validation error."""

    status_code = 422
    code = "validation_error"
    message = "Invalid input"

    def __init__(self, message: str, *, field: str, reason: str | None = None, **kw: Any) -> None:
        details = [{"field": field, "reason": reason or message}]
        super().__init__(message, details=details, **kw)


class RateLimited(QuantdeskError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any) -> None:
        self.retry_after = max(1, retry_after)
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        super().__init__(message, **kwargs)
