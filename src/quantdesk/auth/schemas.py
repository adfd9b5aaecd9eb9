"""Request and response models of the auth domain. Secrets go in, never out (except once)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    field_validator,
)

from quantdesk.auth import scopes as token_scopes

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
TOKEN_MAX_LIFETIME_DAYS = 3650


def _normalise_email(value: str) -> str:
    # EmailStr lower-cases only the domain; accounts are unique by the whole address, any case.
    return value.lower()


def _clean_text(value: str) -> str:
    """Trimmed text without control characters (PostgreSQL rejects NUL; none belong in a name)."""
    value = value.strip()
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    if not value:
        raise ValueError("must not be blank")
    return value


Email = Annotated[EmailStr, AfterValidator(_normalise_email)]
NewPassword = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN_LENGTH,
        max_length=PASSWORD_MAX_LENGTH,
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
    ),
]
# Login only bounds the size: the hash is what judges it, and huge inputs would cost hashing time.
GivenPassword = Annotated[str, Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
DisplayName = Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]
TokenName = Annotated[str, Field(max_length=100), AfterValidator(_clean_text)]
TokenScope = Literal["read", "write"]


def _stored_scopes(value: object) -> object:
    # The column holds "read write"; the API speaks lists.
    return sorted(token_scopes.parse(value)) if isinstance(value, str) else value


def _all_scopes() -> list[TokenScope]:
    return ["read", "write"]


TokenScopes = Annotated[
    list[TokenScope],
    BeforeValidator(_stored_scopes),
    Field(
        description='"read": search, get and list only (every other method is a 403); '
        '"write": everything (implies read)',
        examples=[["read"], ["read", "write"]],
    ),
]


class _Request(BaseModel):
    # An unknown field is a typo or a wrong assumption: say so instead of ignoring it.
    model_config = ConfigDict(extra="forbid")


class SignupRequest(_Request):
    email: Email = Field(examples=["ada@example.com"])
    password: NewPassword = Field(examples=["a long passphrase"])
    display_name: DisplayName | None = Field(default=None, examples=["Ada"])


class LoginRequest(_Request):
    email: Email = Field(examples=["ada@example.com"])
    password: GivenPassword


class RefreshRequest(_Request):
    refresh_token: str = Field(
        min_length=1, max_length=4096, description="The latest refresh token of the session"
    )


class UpdateMeRequest(_Request):
    """Only the fields sent change; ``display_name: null`` clears it."""

    email: Email | None = None
    display_name: DisplayName | None = None
    password: NewPassword | None = None
    current_password: GivenPassword | None = Field(
        default=None, description="Required (and checked) when changing the password"
    )

    @field_validator("email", "password")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Runs only for values sent: omitting a field keeps it, null cannot mean anything here.
        if value is None:
            raise ValueError("cannot be null; omit the field to keep it")
        return value


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str | None
    is_active: bool
    is_admin: bool
    created_at: datetime
    updated_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str = Field(
        description="Single use: trade it once at `refresh_token` for the next pair; presenting "
        "it a second time signs the whole session out"
    )
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int = Field(description="Seconds until the access token expires")
    expires_at: datetime = Field(description="When the access token expires (UTC)")
    refresh_expires_at: datetime = Field(description="When the refresh token expires (UTC)")


class MeUpdated(UserOut):
    tokens: TokenPair | None = Field(
        default=None,
        description="Only after a password change made with an access token: the new token pair "
        "of this session, which replaces the old one (every other session is signed out). "
        "Null otherwise, and for a change made with an API token.",
    )


class CreateApiTokenRequest(_Request):
    name: TokenName = Field(examples=["laptop CLI"])
    expires_in_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=TOKEN_MAX_LIFETIME_DAYS,
        description="Lifetime in days; omitted or null means the token does not expire",
    )
    scopes: list[TokenScope] = Field(
        default_factory=_all_scopes,
        min_length=1,
        description='What the token may do: ["read"] (search, get, list: an agent that cannot '
        'place an order) or ["read", "write"] (the default; "write" implies "read")',
    )

    @field_validator("scopes")
    @classmethod
    def _canonical_scopes(cls, value: list[str]) -> list[str]:
        return list(token_scopes.normalise(value))


class ApiTokenOut(BaseModel):
    """A token as listed: never its secret, only the first characters to recognise it by."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(validation_alias="token_prefix")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    scopes: TokenScopes


class ApiTokenCreated(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    token: str = Field(description="The secret; shown this once and never again")
    created_at: datetime
    expires_at: datetime | None
    scopes: TokenScopes
