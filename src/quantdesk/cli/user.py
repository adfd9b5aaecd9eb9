"""`quantdesk user ...`: accounts and API tokens, straight against the database (for operators)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import ValidationError

from quantdesk.auth import service as auth_service
from quantdesk.auth.schemas import CreateApiTokenRequest, SignupRequest
from quantdesk.cli.common import console, load_settings, validation_message, with_database
from quantdesk.kit.db import Database, set_tenant
from quantdesk.kit.errors import QuantdeskError

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
) -> None:
    """Create an account."""
    try:
        request = SignupRequest(email=email, password=password, display_name=display_name)
    except ValidationError as exc:
        console.print(f"[red]Invalid input[/red]: {validation_message(exc)}")
        raise typer.Exit(2) from exc

    async def work(db: Database) -> str:
        async with db.transaction() as session:
            user = await auth_service.signup(
                session,
                email=request.email,
                password=request.password,
                display_name=request.display_name,
            )
            return str(user.id)

    try:
        user_id = asyncio.run(with_database(load_settings(), work))
    except QuantdeskError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(f"created {request.email} ({user_id})")


@app.command("token")
def create_token(
    email: str,
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(help="Lifetime; none = no expiry")] = None,
) -> None:
    """Mint a personal API token for an account; the secret is printed once, on stdout."""
    try:
        request = CreateApiTokenRequest(name=name, expires_in_days=expires_in_days)
    except ValidationError as exc:
        console.print(f"[red]Invalid input[/red]: {validation_message(exc)}")
        raise typer.Exit(2) from exc

    async def work(db: Database) -> str | None:
        async with db.transaction() as session:
            user = await auth_service.find_user_by_email(session, email=email)
            if user is None:
                return None
            await set_tenant(session, user.id)
            created = await auth_service.create_api_token(
                session, user=user, name=request.name, expires_in_days=request.expires_in_days
            )
            return created.secret

    secret = asyncio.run(with_database(load_settings(), work))
    if secret is None:
        console.print(f"[red]No account with email {email}[/red]")
        raise typer.Exit(1)
    typer.echo(secret)
