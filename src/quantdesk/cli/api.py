"""The REST API from the command line: a personal API token, envelopes unwrapped, short errors."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from quantdesk.cli.common import fail, load_settings

if TYPE_CHECKING:
    import httpx

ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", help="API base URL; default: $QUANTDESK_API_URL", show_default=False),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Personal API token; default: $QUANTDESK_API_TOKEN; make one with "
        "`quantdesk user token EMAIL`",
        show_default=False,
    ),
]

AUTH_HINT = "pass --token or set QUANTDESK_API_TOKEN; make one with: quantdesk user token EMAIL"


class ApiClient:
    """A thin synchronous client: unwraps envelopes and turns every failure into a message."""

    def __init__(self, api_url: str | None, token: str | None) -> None:
        import httpx

        settings = load_settings() if api_url is None or token is None else None
        secret = settings.api_token.get_secret_value() if settings and settings.api_token else None
        token = token or secret
        if not token:
            fail("no API token", AUTH_HINT, code=2)
        self.token = token
        self.base_url = (api_url or (settings.api_url if settings else "")).rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "quantdesk-cli"},
            timeout=httpx.Timeout(120.0, connect=10.0),
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self.base_url}: {exc or type(exc).__name__}")
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            fail(f"HTTP {response.status_code} from {self.base_url}: {response.text[:200]}")
        error = body.get("error") or {}
        details = [
            f"{d.get('field', '?')}: {d.get('reason', '')}" for d in error.get("details") or []
        ]
        if response.status_code == 401:
            details.append(AUTH_HINT)
        code = f" ({error['code']})" if error.get("code") else ""
        fail(f"{body.get('message') or f'HTTP {response.status_code}'}{code}", *details)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.send(method, path, **kwargs).json()["data"]

    def universe_id(self, ref: str) -> str:
        """An id as given, or the id of the one universe with exactly this name."""
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        for universe in self.all_universes():
            if universe["name"] == ref:
                return str(universe["id"])
        fail(f"you have no universe named {ref!r}", "see: quantdesk universe list")

    def all_items(self, path: str, *, limit: int) -> list[dict[str, Any]]:
        """Every item of a paged list, following ``next_cursor`` to the last page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = self.data("GET", path, params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def all_universes(self) -> list[dict[str, Any]]:
        return self.all_items("/universes", limit=200)
