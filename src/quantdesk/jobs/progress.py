"""Operation events on the bus: channel ``operations:{id}``, message ``{"type", "operation"}``."""

from __future__ import annotations

import uuid
from typing import Any

from quantdesk.jobs.schemas import EventType, OperationLike, OperationOut
from quantdesk.kit.events import EventBus
from quantdesk.models import OperationStatus

FINAL_EVENTS: dict[str, EventType] = {
    OperationStatus.SUCCEEDED: "completed",
    OperationStatus.FAILED: "failed",
    OperationStatus.CANCELLED: "cancelled",
}


def channel(operation_id: uuid.UUID | str) -> str:
    return f"operations:{operation_id}"


def event_for(operation: OperationLike, event_type: EventType | None = None) -> dict[str, Any]:
    """The event for the row as it is now: its final event when finished, else ``event_type``."""
    kind = FINAL_EVENTS.get(operation.status) or event_type or "status"
    return {"type": kind, "operation": OperationOut.of(operation).model_dump(mode="json")}


async def publish(
    bus: EventBus, operation: OperationLike, event_type: EventType | None = None
) -> None:
    name = channel(operation.id)
    if bus.may_have_subscribers(name):  # nobody listening in process: nothing to build
        await bus.publish(name, event_for(operation, event_type))
