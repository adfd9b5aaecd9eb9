"""Run the real `quantdesk` command in a subprocess, with only the environment a test gives it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUANTDESK = Path(sys.executable).with_name("quantdesk")


def cli_env(**settings: str) -> dict[str, str]:
    """This process's environment without any QUANTDESK_* variable, plus ``settings``.

    A wide terminal keeps Rich from wrapping table rows, so a test can read a row on one line.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    # Simulated market data: a command under test never reaches the internet.
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "QUANTDESK_PROVIDERS": "sim"})
    env.update(settings)
    return env


def quantdesk(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``quantdesk ARGS`` as a shell would run it, stdout and stderr captured apart."""
    return subprocess.run(
        [str(QUANTDESK), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bash(script: str, *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``script`` run by bash, with ``$QUANTDESK`` naming the command under test."""
    return subprocess.run(
        ["bash", "-c", script],
        env={**env, "QUANTDESK": str(QUANTDESK)},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
