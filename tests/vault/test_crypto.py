"""Credentials at rest: Fernet with the configured key (a Fernet key, or any text through HKDF),
stable in development when unset (derived from the JWT secret), unreadable with another key."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from quantdesk.kit.config import Settings
from quantdesk.vault import crypto

SECRET = {"access_key_id": "AKIA", "secret_access_key": "s3cr3t"}


def _settings(**kwargs: str) -> Settings:
    return Settings(_env_file=None, environment="development", **kwargs)  # type: ignore[arg-type]


def test_round_trip_with_a_fernet_key_or_any_text() -> None:
    for key in (Fernet.generate_key().decode(), "a long random passphrase, not a Fernet key"):
        settings = _settings(vault_secret_key=key)
        token = crypto.encrypt(settings, SECRET)
        assert "s3cr3t" not in token
        assert crypto.decrypt(_settings(vault_secret_key=key), token) == SECRET


def test_development_key_is_stable_and_follows_the_jwt_secret() -> None:
    token = crypto.encrypt(_settings(jwt_secret="one-jwt-secret"), SECRET)
    assert crypto.decrypt(_settings(jwt_secret="one-jwt-secret"), token) == SECRET
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt(_settings(jwt_secret="another-jwt-secret"), token)
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt(_settings(vault_secret_key="x" * 40), token)
