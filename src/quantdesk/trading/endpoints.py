"""HTTP surface of paper trading: accounts, deposits and withdrawals, activities, reconcile."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from quantdesk.auth.dependencies import CurrentUser
from quantdesk.kit.db import DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.orm import utcnow
from quantdesk.kit.pagination import Page
from quantdesk.models import TransactionKind
from quantdesk.trading import performance, reconcile, service
from quantdesk.trading.schemas import (
    DEFAULT_ACTIVITIES_PAGE,
    MAX_ACTIVITIES_PAGE,
    AccountCreate,
    AccountDetail,
    AccountOut,
    AccountUpdate,
    ActivityOut,
    Movement,
    MovementOut,
    ReconcileReport,
)

router = APIRouter(prefix="/accounts", tags=["paper trading"])

REPLAY_HEADER = "Idempotent-Replayed"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "No such account among yours"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": Envelope[None], "description": "Invalid input (error.details name the field)"}
}
_MOVEMENT: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Envelope[MovementOut],
        "description": f"A repeated idempotency key: the original movement (`replayed: true`, "
        f"header `{REPLAY_HEADER}: true`); nothing moved again",
    },
    409: {
        "model": Envelope[None],
        "description": "idempotency_key_reused: the key was used for another amount or kind",
    },
    **_NOT_FOUND,
    **_INVALID,
}
AccountId = Annotated[uuid.UUID, Path(description="The account's id")]


@router.post(
    "",
    response_model=Envelope[AccountOut],
    status_code=status.HTTP_201_CREATED,
    responses=_INVALID,
)
async def create_account(
    body: AccountCreate, session: DbSession, user: CurrentUser
) -> Envelope[AccountOut]:
    """Open a paper account in USD, empty or with `starting_cash` (recorded as a deposit)."""
    account = await service.create_account(session, owner_id=user.id, data=body)
    return ok(
        service.account_out(account),
        f"Account '{account.name}' opened",
        next_actions=["get_account", "deposit_to_account"],
    )


@router.get("", response_model=Envelope[Page[AccountOut]], responses=_INVALID)
async def list_accounts(
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Envelope[Page[AccountOut]]:
    """Your paper accounts with their balances, newest first; `next_cursor` gives the next page."""
    page = await service.list_accounts(session, owner_id=user.id, limit=limit, cursor=cursor)
    return ok(
        page,
        f"{len(page.items)} account(s)",
        next_actions=["get_account", "create_account"],
        count=len(page.items),
    )


@router.get("/{account_id}", response_model=Envelope[AccountDetail], responses=_NOT_FOUND)
async def get_account(
    account_id: AccountId, session: DbSession, user: CurrentUser, request: Request
) -> Envelope[AccountDetail]:
    """The account's cash, reserved cash, buying power (cash - reserved), open positions, long
    market value and equity (cash + long market value).

    Positions are valued at the latest quote the market-data engine holds (`price_source:
    "quote"`, with `price_as_of`, `price_stale` and `quote_source`, "sim" for simulated
    quotes), or at their latest fill's price when never quoted (`"last_fill"`); never at cost.
    """
    settings = request.app.state.settings
    detail = await service.get_account_detail(
        session, owner_id=user.id, account_id=account_id,
        stale_after_seconds=settings.trading_quote_max_age_seconds,
    )  # fmt: skip
    return ok(
        detail,
        f"Account '{detail.name}'",
        next_actions=["list_account_activities", "deposit_to_account", "reconcile_account"],
    )


@router.patch(
    "/{account_id}", response_model=Envelope[AccountOut], responses={**_NOT_FOUND, **_INVALID}
)
async def update_account(
    account_id: AccountId, body: AccountUpdate, session: DbSession, user: CurrentUser
) -> Envelope[AccountOut]:
    """Rename an account."""
    account = await service.rename_account(
        session, owner_id=user.id, account_id=account_id, name=body.name
    )
    return ok(service.account_out(account), f"Account renamed '{account.name}'")


async def _move(
    kind: str,
    account_id: uuid.UUID,
    body: Movement,
    session: DbSession,
    user: CurrentUser,
    response: Response,
) -> Envelope[MovementOut]:
    movement = await service.move_cash(
        session, owner_id=user.id, account_id=account_id, kind=kind, data=body
    )
    if movement.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAY_HEADER] = "true"
    verb = "Deposited" if kind == TransactionKind.DEPOSIT else "Withdrew"
    again = " (a repeated idempotency key: nothing moved again)" if movement.replayed else ""
    return ok(
        movement,
        f"{verb} {format(abs(movement.net_amount).normalize(), 'f')}{again}",
        next_actions=["get_account", "list_account_activities"],
        replayed=movement.replayed,
    )


@router.post(
    "/{account_id}/deposits",
    response_model=Envelope[MovementOut],
    status_code=status.HTTP_201_CREATED,
    responses=_MOVEMENT,
)
async def deposit_to_account(
    account_id: AccountId, body: Movement, session: DbSession, user: CurrentUser, response: Response
) -> Envelope[MovementOut]:
    """Put cash into the account (USD, > 0, at most 2 decimal places).

    `idempotency_key` is required: sending the same key and amount again (a retry after a
    timeout) answers 200 with the original deposit and `replayed: true`, and moves nothing; the
    same key with another amount is a 409. Twenty identical requests at once make one deposit.
    """
    return await _move(TransactionKind.DEPOSIT, account_id, body, session, user, response)


@router.post(
    "/{account_id}/withdrawals",
    response_model=Envelope[MovementOut],
    status_code=status.HTTP_201_CREATED,
    responses=_MOVEMENT,
)
async def withdraw_from_account(
    account_id: AccountId, body: Movement, session: DbSession, user: CurrentUser, response: Response
) -> Envelope[MovementOut]:
    """Take cash out of the account, at most its buying power (cash not reserved for orders).

    More than the buying power is a 422 (`field: amount`, `reason: insufficient_funds`) and
    nothing changes. Idempotency as for deposits: a key is spent on one movement only.
    """
    return await _move(TransactionKind.WITHDRAWAL, account_id, body, session, user, response)


@router.get(
    "/{account_id}/reconcile", response_model=Envelope[ReconcileReport], responses=_NOT_FOUND
)
async def reconcile_account(
    account_id: AccountId, session: DbSession, user: CurrentUser
) -> Envelope[ReconcileReport]:
    """Rebuild cash and every position's quantity (and, replaying its fills, its cost basis and
    realized P&L) from the journal alone and compare them with the stored balances; also list
    any transaction whose entries do not sum to zero.

    `balanced: true` is the only outcome the ledger allows; anything else is a bug to report.
    """
    report = await reconcile.reconcile(session, owner_id=user.id, account_id=account_id)
    message = "Balanced" if report.balanced else "NOT balanced: the journal and balances differ"
    return ok(report, message, next_actions=["list_account_activities"], balanced=report.balanced)


@router.get(
    "/{account_id}/activities",
    response_model=Envelope[Page[ActivityOut]],
    responses={**_NOT_FOUND, **_INVALID},
)
async def list_account_activities(
    account_id: AccountId,
    session: DbSession,
    user: CurrentUser,
    types: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Comma-separated: CSD (deposit), CSW (withdrawal), FILL, FEE, DIV "
            "(dividend), CORR (correction); default all",
            examples=["CSD,CSW"],
        ),
    ] = None,
    after: Annotated[
        datetime | None, Query(description="Only activities after this time (ISO 8601)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Only activities before this time (ISO 8601)")
    ] = None,
    direction: Annotated[
        Literal["asc", "desc"], Query(description="desc: newest first (default); asc: oldest")
    ] = "desc",
    limit: Annotated[
        int, Query(ge=1, le=MAX_ACTIVITIES_PAGE, description="Activities per page")
    ] = DEFAULT_ACTIVITIES_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> Envelope[Page[ActivityOut]]:
    """The account's journal as activities, each with its entries and its net cash effect;
    `next_cursor` gives the next page (null on the last). Pages are keyset pages: a movement
    made while you page never shifts or repeats an activity."""
    page = await service.list_activities(
        session,
        owner_id=user.id,
        account_id=account_id,
        types=types,
        after=service.client_time(after, "after"),
        until=service.client_time(until, "until"),
        direction=direction,
        limit=limit,
        cursor=cursor,
    )
    more = ["list_account_activities"] if page.next_cursor else []
    return ok(
        page,
        f"{len(page.items)} activit{'y' if len(page.items) == 1 else 'ies'}",
        next_actions=[*more, "get_account"],
        count=len(page.items),
    )


Period = Annotated[
    str, Query(description="1W, 1M, 3M, 6M, 1Y or all", examples=["1M"], max_length=8)
]


@router.get(
    "/{account_id}/history",
    response_model=Envelope[performance.EquityHistory],
    responses={**_NOT_FOUND, **_INVALID},
)
async def get_account_history(
    account_id: AccountId,
    session: DbSession,
    user: CurrentUser,
    request: Request,
    period: Period = "1M",
    timeframe: Annotated[Literal["1D"], Query(description="1D: a point a day")] = "1D",
) -> Envelope[performance.EquityHistory]:
    """Equity a day over the period (each day's last snapshot), the last point now at current
    quotes: equity, cash, positions' value, net deposits and profit or loss."""
    found = await performance.history(
        session, owner_id=user.id, account_id=account_id, period=period, now=utcnow(),
        stale_after_seconds=request.app.state.settings.trading_quote_max_age_seconds,
    )  # fmt: skip
    return ok(found, f"{len(found.points)} point(s)", next_actions=["get_account_performance"])


@router.get(
    "/{account_id}/performance",
    response_model=Envelope[performance.Performance],
    responses={**_NOT_FOUND, **_INVALID},
)
async def get_account_performance(
    account_id: AccountId,
    session: DbSession,
    user: CurrentUser,
    request: Request,
    period: Period = "all",
) -> Envelope[performance.Performance]:
    """Time-weighted return (what the trading earned, deposits and withdrawals taken out) and
    money-weighted return (what the money itself earned, an XIRR over the same period), side by
    side."""
    found = await performance.performance(
        session, owner_id=user.id, account_id=account_id, period=period, now=utcnow(),
        stale_after_seconds=request.app.state.settings.trading_quote_max_age_seconds,
    )  # fmt: skip
    return ok(found, f"Performance over {period}", next_actions=["get_account_history"])
