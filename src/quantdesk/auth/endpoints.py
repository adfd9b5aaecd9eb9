"""HTTP surface of auth: signup, login, refresh, logout, the current user, personal API tokens."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from quantdesk.auth import service
from quantdesk.auth.dependencies import AppSettings, CurrentPrincipal, CurrentUser
from quantdesk.auth.schemas import (
    ApiTokenCreated,
    ApiTokenOut,
    CreateApiTokenRequest,
    LoginRequest,
    MeUpdated,
    RefreshRequest,
    SignupRequest,
    TokenPair,
    UpdateMeRequest,
    UserOut,
)
from quantdesk.kit import metrics
from quantdesk.kit.config import Settings
from quantdesk.kit.db import DbSession, get_database
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.ratelimit import RateLimiter

router = APIRouter(prefix="/auth", tags=["auth"])

_LOGIN_LIMIT_MESSAGE = "Too many login attempts; wait before trying again"


def _client_ip(request: Request) -> str:
    # The proxy's X-Forwarded-For, when it is one QUANTDESK_FORWARDED_ALLOW_IPS trusts.
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


async def _count_login_attempt(request: Request, settings: Settings, email: str) -> None:
    """Spend one attempt of the client's and of the account's budget (429 once either is out)."""
    limiter = _limiter(request)
    await limiter.hit(
        settings.login_rate_limit_per_ip,
        "login:ip",
        _client_ip(request),
        message=_LOGIN_LIMIT_MESSAGE,
    )
    await limiter.hit(
        settings.login_rate_limit_per_account,
        "login:account",
        email,
        message=_LOGIN_LIMIT_MESSAGE,
    )


def _token_pair(tokens: service.SessionTokens, settings: Settings) -> TokenPair:
    return TokenPair(
        access_token=tokens.access.token,
        refresh_token=tokens.refresh.token,
        expires_in=settings.jwt_access_ttl_seconds,
        expires_at=tokens.access.expires_at,
        refresh_expires_at=tokens.refresh.expires_at,
    )


@router.post(
    "/signup",
    response_model=Envelope[UserOut],
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
)
async def signup(
    body: SignupRequest, request: Request, session: DbSession, settings: AppSettings
) -> Envelope[UserOut]:
    # Each signup costs an Argon2 hash: the per-IP login budget also bounds signups.
    await _limiter(request).hit(
        settings.login_rate_limit_per_ip,
        "signup:ip",
        _client_ip(request),
        message="Too many signups from this address; wait before trying again",
    )
    user = await service.signup(
        session, email=body.email, password=body.password, display_name=body.display_name
    )
    return ok(UserOut.model_validate(user), "Account created", next_actions=["login"])


@router.post("/login", response_model=Envelope[TokenPair], summary="Log in with email and password")
async def login(
    body: LoginRequest, request: Request, session: DbSession, settings: AppSettings
) -> Envelope[TokenPair]:
    await metrics.count_lockout(_count_login_attempt(request, settings, body.email))
    tokens = await service.login(
        session, settings=settings, email=body.email, password=body.password
    )
    return ok(
        _token_pair(tokens, settings),
        "Logged in",
        next_actions=["get_me", "create_universe", "search_assets"],
    )


@router.post(
    "/refresh",
    response_model=Envelope[TokenPair],
    summary="Trade a refresh token for new tokens",
    description=(
        "Refresh tokens rotate: the answer has a new access token and a new refresh token of the "
        "same session, and the one sent is spent. Sending a spent refresh token again (a replay, "
        "or two refreshes racing with one token) is a 401 `invalid_refresh_token` and signs the "
        "whole session out, so whoever else held the token loses it too: refresh one at a time."
    ),
)
async def refresh_token(
    body: RefreshRequest, request: Request, settings: AppSettings
) -> Envelope[TokenPair]:
    refused: service.RefreshTokenReused | None = None
    # Not the request-scoped DbSession: a replay's revocation must commit although we answer 401.
    async with get_database(request).transaction() as session:
        try:
            tokens = await service.refresh_session(
                session, settings=settings, refresh_token=body.refresh_token
            )
        except service.RefreshTokenReused as exc:
            refused = exc
    if refused is not None:
        raise refused
    return ok(_token_pair(tokens, settings), "Tokens refreshed", next_actions=["get_me"])


@router.post(
    "/logout",
    response_model=Envelope[None],
    summary="Log out: end the session of a refresh token",
    description=(
        "Revokes the login session the refresh token belongs to: its refresh tokens and the "
        "access tokens issued for it stop working at once. Other sessions and API tokens are "
        "untouched. Logging out of an already ended session is fine (200)."
    ),
)
async def logout(body: RefreshRequest, session: DbSession) -> Envelope[None]:
    await service.logout(session, refresh_token=body.refresh_token)
    return ok(None, "Logged out", next_actions=["login"])


@router.get("/me", response_model=Envelope[UserOut], summary="The authenticated user")
async def get_me(user: CurrentUser) -> Envelope[UserOut]:
    return ok(
        UserOut.model_validate(user),
        "Your account",
        next_actions=["update_me", "create_api_token", "list_api_tokens"],
    )


@router.patch(
    "/me",
    response_model=Envelope[MeUpdated],
    summary="Change your email, display name or password",
    description=(
        "Only the fields sent change. A new `password` needs `current_password`: missing or "
        "wrong, it is a 422 on `current_password` (not a 401: the bearer token is fine). "
        "Password checks count against the account's login rate limit. Changing the password "
        "signs out every other session and every access token issued so far; the session that "
        "changed it gets a fresh pair in `data.tokens` (use it from now on). API tokens keep "
        "working; a change made with one returns no pair."
    ),
)
async def update_me(
    body: UpdateMeRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    settings: AppSettings,
) -> Envelope[MeUpdated]:
    user = principal.user
    if body.password is not None and body.current_password is not None:
        # Checking the current password is a guess like a login: same per-account budget.
        await _limiter(request).hit(
            settings.login_rate_limit_per_account,
            "login:account",
            user.email,
            message=_LOGIN_LIMIT_MESSAGE,
        )
    updated = await service.update_me(
        session,
        settings=settings,
        user=user,
        changes=body,
        current_session_id=principal.session_id,
        via_api_token=principal.via_api_token,
    )
    tokens = _token_pair(updated.tokens, settings) if updated.tokens is not None else None
    data = MeUpdated.model_validate(
        {**UserOut.model_validate(updated.user).model_dump(), "tokens": tokens}
    )
    if body.password is not None and tokens is not None:
        message = "Password changed: every other session was signed out; use the new tokens"
        return ok(data, message, next_actions=["get_me"])
    if body.password is not None:
        message = "Password changed: every session was signed out (API tokens keep working)"
        return ok(data, message, next_actions=["login"])
    return ok(data, "Account updated", next_actions=["get_me"])


@router.post(
    "/tokens",
    response_model=Envelope[ApiTokenCreated],
    status_code=status.HTTP_201_CREATED,
    summary="Create a personal API token (the secret is shown once)",
)
async def create_api_token(
    body: CreateApiTokenRequest, user: CurrentUser, session: DbSession
) -> Envelope[ApiTokenCreated]:
    created = await service.create_api_token(
        session,
        user=user,
        name=body.name,
        expires_in_days=body.expires_in_days,
        scopes=body.scopes,
    )
    token = created.token
    data = ApiTokenCreated(
        id=token.id,
        name=token.name,
        prefix=token.token_prefix,
        token=created.secret,
        created_at=token.created_at,
        expires_at=token.expires_at,
        scopes=token.scopes,  # the stored text, parsed by the model
    )
    return ok(
        data,
        "API token created; copy the secret now, it will not be shown again",
        next_actions=["list_api_tokens"],
    )


@router.get(
    "/tokens", response_model=Envelope[list[ApiTokenOut]], summary="Your personal API tokens"
)
async def list_api_tokens(
    user: CurrentUser,
    session: DbSession,
    include_inactive: Annotated[
        bool, Query(description="Also list revoked and expired tokens")
    ] = False,
) -> Envelope[list[ApiTokenOut]]:
    tokens = await service.list_api_tokens(session, user=user, include_inactive=include_inactive)
    items = [ApiTokenOut.model_validate(t) for t in tokens]
    return ok(
        items,
        f"{len(items)} API token(s)",
        next_actions=["create_api_token", "revoke_api_token"],
        count=len(items),
    )


@router.delete(
    "/tokens/{token_id}",
    response_model=Envelope[ApiTokenOut],
    summary="Revoke a personal API token",
)
async def revoke_api_token(
    token_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> Envelope[ApiTokenOut]:
    token = await service.revoke_api_token(session, user=user, token_id=token_id)
    return ok(
        ApiTokenOut.model_validate(token),
        "API token revoked",
        next_actions=["list_api_tokens", "create_api_token"],
    )
