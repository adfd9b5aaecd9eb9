"""Inputs the API fuzzer (tests/test_api_fuzz.py) found answered with a 500: now a 422 naming
the field (or, for a default that fell off the calendar, an answer)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets, ensure_index
from tests.universes.helpers import API, create_universe, snapshot, symbols_of


def _error_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    field: str = body["error"]["details"][0]["field"]
    return field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        # An offset that carries the time past year 1 or 9999 once in UTC overflowed.
        ({"start": "0001-01-01T00:00:00+01:00", "end": "0001-02-01T00:00:00Z"}, "start"),
        ({"end": "9999-12-31T23:59:59-05:00"}, "end"),
    ],
)
async def test_turnover_times_outside_the_calendar_in_utc_are_a_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, str], field: str
) -> None:
    universe = await create_universe(client, alice, "Calendar")
    response = await client.get(
        f"{API}/{universe['id']}/turnover", params=params, headers=alice.headers
    )
    assert _error_field(response) == field


async def test_the_default_turnover_window_stops_at_the_first_day_there_is(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Early", symbols=["AAPL"])
    # end - 30 days is before year 1: it was an OverflowError, now the window is cut short.
    response = await client.get(
        f"{API}/{universe['id']}/turnover",
        params={"end": "0001-01-05T00:00:00Z"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["start"] == "0001-01-01T00:00:00Z"
    assert data["end"] == "0001-01-05T00:00:00Z"
    assert (data["size_at_start"], data["size_at_end"], data["turnover_rate"]) == (0, 0, "0.000000")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
async def test_a_list_cursor_outside_the_calendar_in_utc_is_a_422(
    client: httpx.AsyncClient, alice: Account, moment: str
) -> None:
    universe = await create_universe(client, alice, "Paged")
    position = json.dumps({"c": moment, "i": universe["id"]}).encode()
    cursor = base64.urlsafe_b64encode(position).decode().rstrip("=")
    response = await client.get(API, params={"cursor": cursor}, headers=alice.headers)
    assert _error_field(response) == "cursor"


async def test_a_control_character_in_from_index_is_a_422_and_nothing_is_created(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db)
    await ensure_index(db, "QD Fuzz Index", ["AAPL", "MSFT"])
    before = await snapshot(db, alice.user.id)
    for from_index in ("QD Fuzz\x00Index", "\x00", "QD Fuzz\tIndex"):
        # The NUL reached PostgreSQL's index lookup and failed there with a 500.
        response = await client.post(
            API, json={"name": "From index", "from_index": from_index}, headers=alice.headers
        )
        assert _error_field(response) == "from_index"
    assert await snapshot(db, alice.user.id) == before
    created = await client.post(
        API, json={"name": "From index", "from_index": " qd fuzz index\n"}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    assert await symbols_of(client, alice, created.json()["data"]["id"]) == ["AAPL", "MSFT"]
