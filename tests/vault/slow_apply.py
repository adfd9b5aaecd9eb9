"""A worker process that applies one vault plan slowly (each move takes a while), so a test can
kill it with SIGKILL in the middle of organising. Run: python -m tests.vault.slow_apply OP_ID.

Only the pace is changed: the job, the journal and the moves are the real ones.
"""

from __future__ import annotations

import asyncio
import sys

from quantdesk import domains
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.vault.storage.local import LocalStorage

PAUSE_SECONDS = 0.25


def main() -> None:
    operation_id = sys.argv[1]
    move = LocalStorage.move

    async def slow_move(self: LocalStorage, src: str, dst: str) -> None:
        await asyncio.sleep(PAUSE_SECONDS)  # journaled as moving, not moved yet
        await move(self, src, dst)
        await asyncio.sleep(PAUSE_SECONDS)  # moved, not yet marked done

    LocalStorage.move = slow_move  # type: ignore[method-assign]
    domains.register()

    async def run() -> None:
        resources = JobResources(Settings())
        try:
            await run_operation(resources, operation_id, worker_id="doomed-worker")
        finally:
            await resources.aclose()

    asyncio.run(run())


if __name__ == "__main__":
    main()
