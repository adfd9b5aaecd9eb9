"""Every setting is documented in .env.example, and .env.example names no unknown setting."""

from __future__ import annotations

from quantdesk.kit.config import Settings
from quantdesk.kit.migrations import PROJECT_ROOT


def test_env_example_documents_exactly_the_settings() -> None:
    lines = (PROJECT_ROOT / ".env.example").read_text().splitlines()
    documented = {
        line.split("=", 1)[0].removeprefix("QUANTDESK_").lower()
        for line in lines
        if line.startswith("QUANTDESK_")
    }
    assert documented == set(Settings.model_fields)
