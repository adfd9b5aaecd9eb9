"""`quantdesk user ...`: accounts and API tokens, straight against the database (for operators)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from quantdesk.cli.common import fail, load_settings, out, run, validation_message, with_database

if TYPE_CHECKING:
    from quantdesk.kit.db import Database

app = typer.Typer(
    help="Create accounts and mint API tokens (local operator access).", no_args_is_help=True
)


@app.command("create")
def create_user(
    email: str,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="QUANTDESK_NEW_USER_PASSWORD",
            help="At least 10 characters",
        ),
    ],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the UI")] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="An admin (may change the market engine's settings)")
    ] = False,
) -> None:
    """Create an account."""
    from pydantic import ValidationError

    from quantdesk.auth import service as auth_service
    from quantdesk.auth.schemas import SignupRequest
    from quantdesk.kit.errors import QuantdeskError

    try:
        request = SignupRequest(email=email, password=password, display_name=display_name)
    except ValidationError as exc:
        fail(f"invalid input: {validation_message(exc)}", code=2)

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            user = await auth_service.signup(
                session,
                email=request.email,
                password=request.password,
                display_name=request.display_name,
                is_admin=admin,
            )
            return str(user.id)

    try:
        user_id = run(with_database(load_settings(), work))
    except QuantdeskError as exc:
        fail(exc.message)
    role = "admin " if admin else ""
    out().print(f"created {role}{request.email} ({user_id})", highlight=False, soft_wrap=True)


def _set_admin(email: str, admin: bool) -> None:
    from quantdesk.auth import service as auth_service

    async def work(db: Database) -> bool:
        async with db.transaction() as session:
            user = await auth_service.set_admin(session, email=email, admin=admin)
            return user is not None

    if not run(with_database(load_settings(), work)):
        fail(f"no account with email {email}", "create one with: quantdesk user create EMAIL")
    verb = "is now an admin" if admin else "is no longer an admin"
    out().print(f"{email} {verb}", highlight=False, soft_wrap=True)


@app.command("promote")
def promote_user(email: str) -> None:
    """Make an account an admin."""
    _set_admin(email, True)


@app.command("demote")
def demote_user(email: str) -> None:
    """Make an admin an ordinary account again."""
    _set_admin(email, False)


@app.command("token")
def create_token(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(help="Lifetime; none = no expiry")] = None,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only", help='Scope "read": search, get and list only (e.g. for an AI agent)'
        ),
    ] = False,
) -> None:
    """Mint a personal API token for an account: the secret alone on stdout, shown once.

    For scripts: export QUANTDESK_API_TOKEN=$(quantdesk user token EMAIL)
    """
    from pydantic import ValidationError

    from quantdesk.auth import service as auth_service
    from quantdesk.auth.schemas import CreateApiTokenRequest
    from quantdesk.kit.db import set_tenant

    try:
        request = CreateApiTokenRequest(
            name=name,
            expires_in_days=expires_in_days,
            scopes=["read"] if read_only else ["read", "write"],
        )
    except ValidationError as exc:
        fail(f"invalid input: {validation_message(exc)}", code=2)

    async def work(db: Database) -> str | None:
        async with db.transaction() as session:
            user = await auth_service.find_user_by_email(session, email=email)
            if user is None:
                return None
            await set_tenant(session, user.id)
            created = await auth_service.create_api_token(
                session,
                user=user,
                name=request.name,
                expires_in_days=request.expires_in_days,
                scopes=request.scopes,
            )
            return created.secret

    secret = run(with_database(load_settings(), work))
    if secret is None:
        fail(f"no account with email {email}", "create one with: quantdesk user create EMAIL")
    typer.echo(secret)
