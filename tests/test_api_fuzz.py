"""Schema-driven fuzzing of the whole API: nothing a client can send gets a 5xx.

Schemathesis reads the OpenAPI schema the app itself serves and, for every operation, sends the
schema's examples, its coverage cases (boundaries, missing, extra and wrong-typed values) and
random valid and invalid inputs to a real uvicorn server on the test database, as a real user who
owns universes and API tokens. Every answer must be below 500 and, under /api/v1, be the envelope.
The seed is fixed, so a run replays the same requests; a failure prints a curl command to replay.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import upgrade
from tests import pg
from tests.conftest import TEST_JWT_SECRET
from tests.factories import create_api_token, create_user, ensure_assets, ensure_index

ENVELOPE_KEYS = {"success", "data", "message", "next_actions", "metadata", "error"}
# Answers something other than the envelope on success, by design (errors are still envelopes).
NOT_ENVELOPED_ON_SUCCESS = {"export_universe_csv", "download_vault_file"}
SEED = 20240611
MAX_EXAMPLES = 10
UNIVERSES = [("Tech", ["AAPL", "MSFT", "NVDA"]), ("Mixed", ["JPM", "BTC"])]


def _cursor(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# Values that broke this API before, offered to generated strings and integers (and to the
# parameters they fit best): NUL bytes, which PostgreSQL refuses; control characters; numbers past
# 64 bits; datetimes at the ends of the range, where converting to UTC overflows; cursors that
# decode to such values.
EDGE_VALUES: list[str | int] = ["\x00", "a\x00b", "\x1f", "\x7f", 2**63, -(2**63) - 1, 10**30]
EDGE_MOMENTS = ["0001-01-01T00:00:00+01:00", "0001-01-05T00:00:00Z", "9999-12-31T23:59:59-05:00"]
EDGE_CURSORS = [
    *(_cursor({"c": moment, "i": str(uuid.UUID(int=0))}) for moment in EDGE_MOMENTS),
    _cursor({"t": 0, "o": 2**63, "f": ""}),
    _cursor({"p": 2**31, "a": 10**30}),
    _cursor({"p": True, "a": -1}),
    _cursor([0]),
]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "suppress-health-check": ["all"],
        "dictionaries": {
            "edge": {"values": [*EDGE_VALUES, *EDGE_MOMENTS]},
            "moments": {"values": EDGE_MOMENTS},
            "cursors": {"values": EDGE_CURSORS},
        },
        "parameters": {
            "query.start": {"dictionary": "moments", "probability": 0.3},
            "query.end": {"dictionary": "moments", "probability": 0.3},
            "query.cursor": {"dictionary": "cursors", "probability": 0.1},
        },
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "database": "none",
            # The bearer token is ours; a generated Authorization header would only test 401s.
            "with-security-parameters": False,
            "dictionaries": {
                "string": {"dictionary": "edge", "probability": 0.2},
                "integer": {"dictionary": "edge", "probability": 0.2},
            },
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "unexpected-methods": []},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)


def _load_schema() -> BaseSchema:
    """The schema the app itself serves (building it needs no database)."""
    app_settings = Settings(
        environment="test",
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        providers=["sim"],
        log_json=True,
        log_level="WARNING",
    )
    return schemathesis.openapi.from_dict(create_app(app_settings).openapi(), config=CONFIG)


schema = _load_schema()


@dataclass
class FuzzTarget:
    """The running server, the caller's credentials and the ids worth aiming requests at."""

    base_url: str
    headers: dict[str, str]
    universe_ids: list[str] = field(default_factory=list)
    token_ids: list[str] = field(default_factory=list)
    account_ids: list[str] = field(default_factory=list)

    def create_universe(self, name: str, symbols: list[str]) -> str:
        created = httpx.post(
            f"{self.base_url}/api/v1/universes",
            json={"name": name, "symbols": symbols},
            headers=self.headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        universe_id: str = created.json()["data"]["id"]
        return universe_id

    def open_account(self, name: str) -> str:
        created = httpx.post(
            f"{self.base_url}/api/v1/accounts",
            json={"name": name, "starting_cash": "1000"},
            headers=self.headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        account_id: str = created.json()["data"]["id"]
        return account_id


@pytest.fixture(scope="module")
def fuzz_settings(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A database of the session's kind for the fuzzer alone: what it writes stays out of the way
    of other tests. Few logins and signups per minute: a password hash costs a quarter second,
    and their 429 is a fine answer."""
    limits = {"login_rate_limit_per_ip": "5/minute", "login_rate_limit_per_account": "5/minute"}
    if settings.database_kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'quantdesk.db'}"
        upgrade(url)
        yield settings.model_copy(update={"database_url": url, **limits})
        return
    url, name = pg.create_database(prefix="qd_fuzz")
    try:
        upgrade(url)
        yield settings.model_copy(update={"database_url": url, **limits})
    finally:
        pg.drop_database(name)


@pytest.fixture(scope="module")
def fuzz_server(fuzz_settings: Settings) -> Iterator[str]:
    """The real app behind a real HTTP server (its own engine, limiter and event loop)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(fuzz_settings)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="module")
async def fuzz_target(fuzz_settings: Settings, fuzz_server: str) -> FuzzTarget:
    """A user with a catalog, an index, two universes, three API tokens and a paper account
    to be found."""
    db = Database(fuzz_settings)
    try:
        await ensure_assets(db)
        await ensure_index(db, "Fuzz 5", ["AAPL", "MSFT", "NVDA", "GOOGL", "AMZN"])
        account = await create_user(db, fuzz_settings, email="fuzzer@example.com")
        # An API token, not a JWT: it keeps working if the fuzzer changes the password.
        _, secret = await create_api_token(db, account.user, name="fuzzer")
        target = FuzzTarget(base_url=fuzz_server, headers={"Authorization": f"Bearer {secret}"})
        for name in ("laptop", "ci"):
            token, _ = await create_api_token(db, account.user, name=name)
            target.token_ids.append(str(token.id))
    finally:
        await db.dispose()
    for name, symbols in UNIVERSES:
        target.universe_ids.append(target.create_universe(name, symbols))
    target.account_ids.append(target.open_account("Fuzzed"))
    return target


def _aim(case: schemathesis.Case, target: FuzzTarget) -> None:
    """Point well-formed ids at real rows, so requests get past the 404 into the real work."""
    for name, known in (
        ("universe_id", target.universe_ids),
        ("token_id", target.token_ids),
        ("account_id", target.account_ids),
    ):
        value = case.path_parameters.get(name)
        if value is None:
            continue
        try:
            parsed = uuid.UUID(str(value))
        except ValueError:
            continue  # a malformed id is part of the test: it must be a 422
        case.path_parameters[name] = known[parsed.int % len(known)]


def envelope_shape(ctx: object, response: Response, case: schemathesis.Case) -> None:
    """Every /api/v1 answer, success or error, is the envelope (the CSV download excepted)."""
    if not case.formatted_path.startswith("/api/v1/"):
        return
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id in NOT_ENVELOPED_ON_SUCCESS and response.status_code < 400:
        return
    try:
        body: Any = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"not JSON: {response.content[:200]!r}") from exc
    assert isinstance(body, dict), f"not an object: {body!r}"
    assert set(body) == ENVELOPE_KEYS, f"not the envelope: {sorted(body)}"
    failed = response.status_code >= 400
    assert body["success"] is not failed, body
    assert isinstance(body["message"], str), body
    assert isinstance(body["next_actions"], list), body
    assert all(isinstance(action, str) for action in body["next_actions"]), body
    assert isinstance(body["metadata"], dict), body
    assert isinstance(body["metadata"].get("request_id"), str), body
    if failed:
        assert body["data"] is None, body
        assert isinstance(body["error"], dict), body
        assert isinstance(body["error"].get("code"), str), body
        assert isinstance(body["error"].get("details"), list), body
    else:
        assert body["error"] is None, body


@schema.parametrize()
def test_no_input_gets_a_server_error(case: schemathesis.Case, fuzz_target: FuzzTarget) -> None:
    _aim(case, fuzz_target)
    response = case.call(base_url=fuzz_target.base_url, headers=fuzz_target.headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error, envelope_shape])
    deleted = case.path_parameters.get("universe_id")
    if case.method == "DELETE" and response.status_code == 200 and deleted:
        # Keep universes to aim at for the operations that come after this one.
        index = fuzz_target.universe_ids.index(deleted)
        name, symbols = UNIVERSES[index]
        fuzz_target.universe_ids[index] = fuzz_target.create_universe(
            f"{name} {uuid.uuid4().hex[:6]}", symbols
        )
