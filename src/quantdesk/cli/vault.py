"""`quantdesk vault ...`: the research vault over the REST API, jobs followed with progress bars."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import err, fail, out
from quantdesk.cli.output import Column, Output, OutputFormat, emit, emit_json

app = typer.Typer(
    help="Research vault: register folders or buckets, scan, find duplicates, organise, "
    "roll back (needs an API token).",
    no_args_is_help=True,
)

VaultRef = Annotated[str, typer.Argument(help="Vault id or exact name")]
_FINISHED_OK = "succeeded"


def _vault_id(client: ApiClient, ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    for vault in client.all_items("/vaults", limit=200):
        if vault["name"] == ref:
            return str(vault["id"])
    fail(f"you have no vault named {ref!r}", "see: quantdesk vault list")


def _run(client: ApiClient, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """POST a job, follow it with a progress bar, and return its result (exit 1 if it failed)."""
    from quantdesk.cli.jobs import follow, summary

    operation = client.data("POST", path, json=body)
    final = follow(client, str(operation["id"]))
    if final["status"] != _FINISHED_OK:
        fail(summary(final))
    result: dict[str, Any] = final.get("result") or {}
    result["_operation_id"] = final["id"]
    return result


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Name of the new vault")],
    root: Annotated[
        str | None, typer.Option(help="A local folder inside QUANTDESK_VAULT_ALLOWED_ROOTS")
    ] = None,
    bucket: Annotated[str | None, typer.Option(help="An S3/R2/MinIO bucket")] = None,
    prefix: Annotated[str | None, typer.Option(help="Key prefix inside the bucket")] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="S3 endpoint URL (R2, MinIO); empty: AWS")
    ] = None,
    region: Annotated[str | None, typer.Option()] = None,
    access_key: Annotated[
        str | None, typer.Option(help="Access key id; default: $AWS_ACCESS_KEY_ID")
    ] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Categorisation rules, a YAML or JSON file")
    ] = None,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Register a vault: --root for a local folder, or --bucket (and the rest) for S3.

    The secret key is read from $AWS_SECRET_ACCESS_KEY (never from the command line).
    """
    if (root is None) == (bucket is None):
        fail("give either --root (a local folder) or --bucket (S3)", code=2)
    body: dict[str, Any] = {"name": name, "kind": "local" if root is not None else "s3"}
    if root is not None:
        body["root"] = root
    else:
        body.update(bucket=bucket, prefix=prefix, endpoint_url=endpoint, region=region)
        key_id = access_key or os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key_id and secret:
            body["credentials"] = {"access_key_id": key_id, "secret_access_key": secret}
    if rules is not None:
        body["rules"] = _load_rules(rules)
    data = ApiClient(api_url, token).data("POST", "/vaults", json=body)
    out().print(
        f"Registered vault {escape(repr(data['name']))} ({data['id']})",
        highlight=False,
        soft_wrap=True,
    )


def _load_rules(path: Path) -> dict[str, Any]:
    from pydantic import ValidationError

    from quantdesk.cli.common import validation_message
    from quantdesk.vault.rules import parse_rules

    try:
        return parse_rules(path.read_text(encoding="utf-8")).model_dump(mode="json")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", code=2)
    except ValidationError as exc:
        fail(f"{path}: {validation_message(exc)}", code=2)
    except ValueError as exc:
        fail(f"{path}: {exc}", code=2)


_VAULT_COLUMNS = (
    Column("id", "Id", whole=True),
    Column("name", "Name"),
    Column("kind", "Kind"),
    Column("where", "Where"),
    Column("last_scan_at", "Last scan", show=lambda v: v[:19].replace("T", " ") if v else ""),
)


@app.command("list")
def list_vaults(
    output: Output = OutputFormat.TABLE, api_url: ApiUrl = None, token: Token = None
) -> None:
    """List your vaults."""
    vaults = ApiClient(api_url, token).all_items("/vaults", limit=200)
    rows = [{**v, "where": v["root"] or f"s3://{v['bucket']}/{v['prefix'] or ''}"} for v in vaults]
    emit(output, _VAULT_COLUMNS, rows, data=vaults, empty="No vaults yet: quantdesk vault add")


@app.command()
def scan(vault: VaultRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """Scan a vault into its inventory (incremental: unchanged files are not read again)."""
    client = ApiClient(api_url, token)
    result = _run(client, f"/vaults/{_vault_id(client, vault)}/scan")
    counts = result["counts"]
    out().print(
        f"{result['files']} files: {counts['new']} new, {counts['changed']} changed, "
        f"{counts['unchanged']} unchanged, {counts['removed']} gone",
        highlight=False,
    )


_FILE_COLUMNS = (
    Column("path", "Path", whole=True),
    Column("size", "Size", justify="right"),
    Column("category", "Category"),
    Column("symbol", "Symbol", whole=True),
    Column("mime", "Type"),
)


@app.command()
def files(
    vault: VaultRef,
    category: Annotated[str | None, typer.Option(help="Only this category")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only files about this symbol")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Part of the path")] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """The vault's files as of its last scan."""
    client = ApiClient(api_url, token)
    path = f"/vaults/{_vault_id(client, vault)}/files"
    params = {k: v for k, v in (("category", category), ("symbol", symbol), ("q", query)) if v}
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.data(
            "GET", path, params={**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        )
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    emit(output, _FILE_COLUMNS, items, empty="No files (scan the vault first?)")


def _show_plan(client: ApiClient, result: dict[str, Any]) -> dict[str, Any]:
    plan: dict[str, Any] = client.data("GET", result["plan_url"].removeprefix("/api/v1"))
    moves = [m for m in plan["moves"] if m["status"] != "skipped"]
    skipped = [m for m in plan["moves"] if m["status"] == "skipped"]
    columns = (
        Column("src", "From", whole=True),
        Column("dst", "To", whole=True),
        Column("status", "Status"),
        Column("reason", "Note"),
    )
    emit(OutputFormat.TABLE, columns, plan["moves"], empty="Nothing to move.")
    err().print(f"plan {plan['id']}: {len(moves)} move(s), {len(skipped)} skipped", highlight=False)
    return plan


def _apply(client: ApiClient, vault_id: str, plan: dict[str, Any]) -> None:
    result = _run(client, f"/vaults/{vault_id}/plans/{plan['id']}/apply")
    counts = ", ".join(f"{n} {status}" for status, n in result["counts"].items())
    out().print(f"applied: {counts or 'nothing'}", highlight=False)
    out().print(f"undo with: quantdesk vault rollback {result['_operation_id']}", highlight=False)


@app.command()
def dupes(
    vault: VaultRef,
    clean: Annotated[
        bool, typer.Option(help="Plan moving the extra copies to the vault's .quarantine/")
    ] = False,
    keep: Annotated[
        str, typer.Option(help="Which copy stays: oldest, newest, shortest_path, reference")
    ] = "oldest",
    reference: Annotated[
        str | None, typer.Option(help="keep=reference: the folder whose copy stays")
    ] = None,
    apply: Annotated[bool, typer.Option(help="Carry out the clean-up plan at once")] = False,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Find duplicate files (size, first/last 4 KiB, then full xxh3-128 hash); optionally plan
    and apply their clean-up (moved to quarantine, never deleted)."""
    client = ApiClient(api_url, token)
    vault_id = _vault_id(client, vault)
    _run(client, f"/vaults/{vault_id}/duplicates")
    report = client.data("GET", f"/vaults/{vault_id}/duplicates")
    rows = [
        {"size": g["size"], "copies": len(g["copies"]), "reclaimable": g["reclaimable_bytes"],
         "paths": "\n".join(c["paths"][0] for c in g["copies"])}
        for g in report["groups"]
    ]  # fmt: skip
    if output is OutputFormat.JSON:
        emit_json(report)
    else:
        columns = (
            Column("size", "Size", justify="right"),
            Column("copies", "Copies", justify="right"),
            Column("reclaimable", "Reclaimable", justify="right"),
            Column("paths", "Paths", whole=True),
        )
        emit(output, columns, rows, empty="No duplicates.")
        err().print(
            f"{report['group_count']} group(s), {report['reclaimable_bytes']} bytes reclaimable",
            highlight=False,
        )
    if clean or apply:
        body = {"keep": keep, "reference": reference}
        plan = _show_plan(client, _run(client, f"/vaults/{vault_id}/duplicates/cleanup", body))
        if apply:
            _apply(client, vault_id, plan)


@app.command()
def organize(
    vault: VaultRef,
    conflict: Annotated[
        str, typer.Option(help="When the target is taken: skip, or rename_new")
    ] = "skip",
    apply: Annotated[bool, typer.Option(help="Carry out the plan at once")] = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Plan where every file goes by the vault's rules and show it (a dry run); --apply moves
    them (each checked against the scan first, each move journaled)."""
    client = ApiClient(api_url, token)
    vault_id = _vault_id(client, vault)
    plan = _show_plan(client, _run(client, f"/vaults/{vault_id}/organize", {"conflict": conflict}))
    if apply:
        _apply(client, vault_id, plan)
    else:
        err().print("dry run: nothing moved; add --apply to carry it out", highlight=False)


@app.command()
def rollback(
    operation_id: Annotated[str, typer.Argument(help="The apply operation's id")],
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Undo the moves of an apply, in reverse order (never overwriting a file now in the way)."""
    client = ApiClient(api_url, token)
    result = _run(client, f"/operations/{operation_id}/rollback")
    counts = result["counts"]
    out().print(
        "rolled back: " + ", ".join(f"{n} {status}" for status, n in counts.items()),
        highlight=False,
    )
    if counts.get("conflict"):
        raise typer.Exit(1)
