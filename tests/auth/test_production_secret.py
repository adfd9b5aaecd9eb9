"""Production refuses to sign tokens with the default or a short secret."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from quantdesk.cli.main import app as cli
from quantdesk.kit.config import DEFAULT_JWT_SECRET, Settings, get_settings

EXPECTED = "QUANTDESK_JWT_SECRET must be set to a random value of at least 32 characters"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No secret from the environment or a stray .env; no cached settings either side."""
    monkeypatch.delenv("QUANTDESK_JWT_SECRET", raising=False)
    monkeypatch.delenv("QUANTDESK_VAULT_SECRET_KEY", raising=False)
    monkeypatch.delenv("QUANTDESK_ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(None, id="default"),
        pytest.param(DEFAULT_JWT_SECRET, id="default spelled out"),
        pytest.param("s" * 31, id="31 characters"),
    ],
)
def test_production_refuses_a_weak_secret(secret: str | None) -> None:
    kwargs = {} if secret is None else {"jwt_secret": secret}
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, environment="production", **kwargs)  # type: ignore[arg-type]
    assert EXPECTED in str(caught.value)


def test_production_accepts_a_long_random_secret() -> None:
    secret = secrets.token_urlsafe(48)
    settings = Settings(
        _env_file=None,
        environment="production",
        jwt_secret=secret,  # type: ignore[arg-type]
        vault_secret_key=secrets.token_urlsafe(48),  # type: ignore[arg-type]
    )
    assert settings.jwt_secret.get_secret_value() == secret


def test_production_refuses_to_start_without_a_vault_key() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(
            _env_file=None,
            environment="production",
            jwt_secret=secrets.token_urlsafe(48),  # type: ignore[arg-type]
        )
    assert "QUANTDESK_VAULT_SECRET_KEY must be set" in str(caught.value)


def test_development_keeps_working_with_the_default() -> None:
    settings = Settings(_env_file=None, environment="development")
    assert settings.jwt_secret.get_secret_value() == DEFAULT_JWT_SECRET


def test_serve_refuses_to_start_in_production_with_the_default_secret() -> None:
    result = CliRunner().invoke(cli, ["serve"], env={"QUANTDESK_ENVIRONMENT": "production"})
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())  # Rich wraps long lines
    assert "error: configuration" in output
    assert EXPECTED in output


def test_serve_refuses_a_short_secret_from_the_environment() -> None:
    env = {"QUANTDESK_ENVIRONMENT": "production", "QUANTDESK_JWT_SECRET": "too-short"}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 2, result.output
    assert EXPECTED in " ".join(result.output.split())
