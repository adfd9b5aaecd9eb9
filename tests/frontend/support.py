"""Where the dashboard lives and what running it needs (Node.js, Debian's chromium)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
DIST = FRONTEND / "dist"
CHROMIUM = Path(os.environ.get("QUANTDESK_E2E_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, why: str) -> None:
    """Skip on a developer's machine without the tool; under CI=true a missing tool fails."""
    if condition:
        return
    if IN_CI:
        pytest.fail(why)
    pytest.skip(why)


def require_built_dashboard() -> None:
    require(
        (DIST / "index.html").is_file(),
        "frontend/dist is not built: `make frontend` (or `cd frontend && npm ci && npm run build`)",
    )


def require_node() -> str:
    node = shutil.which("node")
    require(node is not None, "Node.js is not installed (Node 20+ and npm build the dashboard)")
    assert node is not None
    return node
