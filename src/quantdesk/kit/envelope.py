"""The response envelope shared by every ``/api/v1`` endpoint, success and error alike."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from quantdesk.kit.logging import current_request_id

T = TypeVar("T")


class ErrorInfo(BaseModel):
    code: str = Field(examples=["universe_not_found"])
    details: list[dict[str, Any]] = Field(default_factory=list)


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T | None = None
    message: str = ""
    next_actions: list[str] = Field(
        default_factory=list, description="OpenAPI operation ids that make sense next"
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None


def ok(
    data: T, message: str = "", *, next_actions: list[str] | None = None, **metadata: Any
) -> Envelope[T]:
    return Envelope[T](
        data=data,
        message=message,
        next_actions=next_actions or [],
        metadata={"request_id": current_request_id(), **metadata},
    )


def error_body(
    *,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    next_actions: list[str] | None = None,
) -> dict[str, Any]:
    return Envelope[None](
        success=False,
        data=None,
        message=message,
        next_actions=next_actions or [],
        metadata={"request_id": current_request_id()},
        error=ErrorInfo(code=code, details=details or []),
    ).model_dump(mode="json")
