"""Passwords (Argon2), JWT access/refresh tokens, and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quantdesk.kit.config import Settings

API_TOKEN_PREFIX = "qd_"  # noqa: S105 - a marker, not a secret
JWT_ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so a miss costs as long as a hit."""
    return _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        matched = _hasher.verify(password_hash or _dummy_hash(), password)
        return matched and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class JwtClaims:
    user_id: uuid.UUID
    # Bumped on the user row when the password changes: older tokens stop working.
    session_version: int


def issue_jwt(
    settings: Settings, user_id: uuid.UUID, token_type: TokenType, *, session_version: int = 0
) -> IssuedToken:
    ttl = (
        settings.jwt_access_ttl_seconds
        if token_type == "access"  # noqa: S105
        else settings.jwt_refresh_ttl_seconds
    )
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=ttl)
    payload = {
        "sub": str(user_id),
        "typ": token_type,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_hex(8),
        "sv": session_version,
    }
    token = jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm=JWT_ALGORITHM)
    return IssuedToken(token=token, expires_at=expires_at)


def decode_jwt(settings: Settings, token: str, expected_type: TokenType) -> JwtClaims | None:
    """The claims of a valid, unexpired token of the expected type; None otherwise."""
    try:
        payload = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "exp", "typ"]},
        )
        if payload.get("typ") != expected_type:
            return None
        return JwtClaims(
            user_id=uuid.UUID(str(payload["sub"])), session_version=int(payload.get("sv", 0))
        )
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


@dataclass(frozen=True)
class NewApiToken:
    secret: str
    prefix: str
    digest: str


def new_api_token() -> NewApiToken:
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewApiToken(secret=secret, prefix=secret[:10], digest=hash_api_token(secret))


def hash_api_token(secret: str) -> str:
    # A fast digest is right here: the secret has 256 bits of entropy, unlike a password.
    return hashlib.sha256(secret.encode()).hexdigest()


def is_api_token(credential: str) -> bool:
    return credential.startswith(API_TOKEN_PREFIX)
