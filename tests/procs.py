"""A command run as a real OS process in a process group of its own, its output appended to a log
file: so a test can ``kill -9`` the whole of it (children included), like a machine that died.

Shared by the topology harness and the Celery worker harness.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


class ProcessGroup:
    """The leader of its own process group (``start_new_session``), logging to ``log_path``."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        stdin: int | None = None,
    ) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes its children too
        )

    def kill(self) -> None:
        """``kill -9`` the whole process group, without warning (a machine that died)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def tail(self, chars: int, *, missing: str) -> str:
        """The last ``chars`` characters of the log; ``missing`` when it cannot be read."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return missing

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
