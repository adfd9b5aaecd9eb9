"""A body that is not JSON gets a 422 saying why and where (line and column), not an offset."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from quantdesk.kit.exception_handlers import register_exception_handlers


class Payload(BaseModel):
    count: int


@pytest.fixture
async def json_client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/api/v1/_test/payload")
    async def payload(body: Payload) -> dict[str, int]:
        return {"count": body.count}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _post(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await client.post(
        "/api/v1/_test/payload", content=content, headers={"Content-Type": "application/json"}
    )


async def test_malformed_json_names_the_reason_line_and_column(
    json_client: httpx.AsyncClient,
) -> None:
    response = await _post(json_client, b'{\n  "count": 1,\n  "other": \n}')
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    assert body["message"] == "Request body is not valid JSON: Expecting value at line 4 column 1"
    assert body["error"]["details"] == [
        {
            "field": "body",
            "reason": "Expecting value at line 4 column 1",
            "type": "json_invalid",
            "location": "body",
        }
    ]


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        '{"count": 1,}',
        '{"count": 1} trailing',
        '[1, 2\n, 3\n\n  "x"]',
        '{"name": "€€€ naïve", oops}',  # columns count characters, not UTF-8 bytes
        '{"count": "\x01"}',
        "\n\n\n   {",
    ],
)
async def test_the_position_is_the_one_the_json_decoder_reports(
    json_client: httpx.AsyncClient, document: str
) -> None:
    with pytest.raises(json.JSONDecodeError) as decoded:
        json.loads(document)
    expected = f"{decoded.value.msg} at line {decoded.value.lineno} column {decoded.value.colno}"
    response = await _post(json_client, document.encode())
    assert response.status_code == 422
    assert response.json()["message"] == f"Request body is not valid JSON: {expected}"
    assert response.json()["error"]["details"][0]["reason"] == expected


async def test_valid_json_with_wrong_fields_still_names_the_fields(
    json_client: httpx.AsyncClient,
) -> None:
    response = await _post(json_client, b'{"count": "many"}')
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid input: count"
    assert response.json()["error"]["details"][0]["field"] == "count"


async def test_the_app_answers_malformed_json_the_same_way(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com",\n "password": secret}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["message"] == (
        "Request body is not valid JSON: Expecting value at line 2 column 14"
    )
    assert "secret" not in response.text  # the body itself is not echoed
