"""The scaled-out topology as real OS processes, started the way the README's "Scaling out" says.

Every process is the installed ``quantdesk`` command (``.venv/bin/quantdesk``), run from its own
fresh directory (never the checkout) with its own data directory: nothing on disk is shared, so
whatever the processes need from each other must go through PostgreSQL or Redis. Each runs in its
own process group (``kill()`` is a ``kill -9`` of the whole node, pool children included) and
writes its output to a log file whose tail goes into every assertion message about it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.jobs.live_server import free_port
from tests.procs import ProcessGroup

ROOT = Path(__file__).resolve().parents[2]
QUANTDESK = Path(sys.executable).with_name("quantdesk")  # the console script beside this Python
START_TIMEOUT_SECONDS = 45.0
LOG_TAIL_CHARS = 3000
# A worker's lease owner is "<node name>:<pool process pid>"; the default node name carries the
# node's main pid (quantdesk-<pid>@<host>), which is the process we started.
_NODE_PID = re.compile(r"^quantdesk-(\d+)@")


class ProcessExited(AssertionError):
    """A topology process is gone when it should be running."""


class QuantdeskProcess(ProcessGroup):
    """One ``quantdesk …`` command in its own directory, process group and log file."""

    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], home: Path) -> None:
        super().__init__(home / f"{name}.log")
        self.name = name
        self.args = list(args)
        self.env = dict(env)
        self.cwd = home / name
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.env.setdefault("QUANTDESK_DATA_DIR", str(self.cwd / "data"))

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def start(self) -> None:
        self.spawn(
            [str(QUANTDESK), *self.args], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL
        )

    def check_alive(self) -> None:
        if not self.alive:
            code = self.process.returncode if self.process is not None else None
            raise ProcessExited(f"{self.name} exited (code {code}); {self.describe()}")

    def describe(self) -> str:
        """The command and the tail of its log, for assertion messages."""
        return f"`quantdesk {' '.join(self.args)}` log tail:\n{self.log_tail()}"

    def log_tail(self) -> str:
        return self.tail(LOG_TAIL_CHARS, missing="(no log)")

    def terminate(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the group, then SIGKILL if it lingers."""
        self.terminate()
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
            # Pool children may outlive their parent's clean exit: the group goes either way.
            self.kill()
        self._close_log()


class ApiProcess(QuantdeskProcess):
    """``quantdesk serve --port <free port>``."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        home: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        super().__init__(name, ["serve", "--port", str(self.port), *extra_args], env, home)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until ``GET /health/ready`` answers 200; fails at once, with the log, if it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/ready", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout} s; {self.describe()}")


class WorkerProcess(QuantdeskProcess):
    """``quantdesk worker`` with no ``--name``: the node name is the default one."""

    def owns_lease(self, lease_owner: str) -> bool:
        found = _NODE_PID.match(lease_owner)
        return found is not None and int(found.group(1)) == self.pid


def run_command(
    name: str, args: Sequence[str], env: Mapping[str, str], home: Path, timeout: float = 120
) -> str:
    """Run a one-off ``quantdesk …`` command to completion in its own directory; its output."""
    cwd = home / name
    cwd.mkdir(parents=True, exist_ok=True)
    environment = {"QUANTDESK_DATA_DIR": str(cwd / "data"), **env}
    done = subprocess.run(
        [str(QUANTDESK), *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, f"`quantdesk {' '.join(args)}` exited {done.returncode}:\n{output}"
    return output


def environment(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any QUANTDESK_* variable, plus ``settings``.

    ``PYTHONPATH`` names the checkout only so that ``QUANTDESK_CELERY_CONFIG`` can point at a
    module of the tests (the processes themselves run the installed package).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(settings)
    return env
