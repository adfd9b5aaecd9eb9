"""Vault credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``).

The key comes from QUANTDESK_VAULT_SECRET_KEY: a Fernet key as is, any other text through HKDF.
Production refuses to start without it (``Settings``). In development and tests, when unset, the
key is derived from QUANTDESK_JWT_SECRET, so it is stable for as long as that secret is (and
changing the JWT secret makes stored credentials unreadable: register the vault again).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger

_log = get_logger("quantdesk.vault")
_warned = False


class CredentialsUnreadable(Exception):
    """The stored credentials do not open with this key (the key changed)."""


def _fernet(settings: Settings) -> Fernet:
    global _warned
    configured = settings.vault_secret_key.get_secret_value() if settings.vault_secret_key else ""
    if not configured.strip() and not _warned:
        _warned = True
        _log.warning(
            "vault_secret_key_derived",
            detail="QUANTDESK_VAULT_SECRET_KEY is unset: vault credentials are encrypted with a "
            "key derived from QUANTDESK_JWT_SECRET (set both in production)",
        )
    secret = configured.strip() or f"jwt:{settings.jwt_secret.get_secret_value()}"
    try:
        return Fernet(secret.encode())
    except ValueError:
        pass
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"quantdesk-vault", info=b"credentials"
    ).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, values: dict[str, Any]) -> str:
    return _fernet(settings).encrypt(json.dumps(values).encode()).decode()


def decrypt(settings: Settings, token: str) -> dict[str, Any]:
    try:
        values = json.loads(_fernet(settings).decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable("the vault's credentials cannot be decrypted") from exc
    return dict(values)
