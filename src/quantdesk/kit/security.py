"""Passwords (Argon2), JWT access tokens, opaque refresh tokens and personal API tokens."""

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
REFRESH_TOKEN_PREFIX = "qdr_"  # noqa: S105 - a marker, not a secret
JWT_ALGORITHM = "HS256"
# Refresh tokens are opaque secrets checked against the database, so only access tokens are JWTs.
TokenType = Literal["access"]

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
    # The login session (refresh-token family) the token was issued for; revoking it ends the token.
    session_id: uuid.UUID | None


def issue_jwt(
    settings: Settings,
    user_id: uuid.UUID,
    token_type: TokenType = "access",  # noqa: S107 - a token kind, not a secret
    *,
    session_version: int = 0,
    session_id: uuid.UUID | None = None,
) -> IssuedToken:
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=settings.jwt_access_ttl_seconds)
    payload: dict[str, object] = {
        "sub": str(user_id),
        "typ": token_type,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "jti": secrets.token_hex(8),
        "sv": session_version,
    }
    if session_id is not None:
        payload["sid"] = str(session_id)
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
        sid = payload.get("sid")
        return JwtClaims(
            user_id=uuid.UUID(str(payload["sub"])),
            session_version=int(payload.get("sv", 0)),
            session_id=uuid.UUID(str(sid)) if sid is not None else None,
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


@dataclass(frozen=True)
class NewRefreshToken:
    secret: str
    digest: str
    expires_at: datetime


def new_refresh_token(settings: Settings) -> NewRefreshToken:
    """An opaque refresh token; only its digest is stored, so a database leak hands out none."""
    secret = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(seconds=settings.jwt_refresh_ttl_seconds)
    return NewRefreshToken(secret=secret, digest=hash_refresh_token(secret), expires_at=expires_at)


def hash_refresh_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_api_token(credential: str) -> bool:
    return credential.startswith(API_TOKEN_PREFIX)
