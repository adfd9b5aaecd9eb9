"""Fixtures of the auth tests."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture
def json_log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered by the app's own JSON formatter."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    caplog.set_level(logging.DEBUG)  # the test settings log WARNING and up; show everything
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
