"""What every HTTP adapter shares: one client, transport failures mapped, keys out of errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from quantdesk.market.providers.base import ProviderAuthError, ProviderUnavailable

# Provider text quoted in an error message is cut to this many characters.
MAX_QUOTED_TEXT = 200
USER_AGENT = "quantdesk"


def redact(text: str, *secrets: str | None) -> str:
    """The text with every secret replaced, so provider messages that echo a key can be shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date turned into a delay from now."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpApi:
    """One provider's endpoint: base URL, credentials and timeout, over a shared or own client.

    ``get`` turns transport failures (timeouts, refused connections, protocol errors) into
    ``ProviderUnavailable``; the adapter interprets the status and body it returns.
    """

    def __init__(
        self,
        provider: str,
        *,
        base_url: str,
        timeout: float,
        api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.api_key = api_key or None
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        self._own_client = http is None
        self._http = http if http is not None else httpx.AsyncClient(follow_redirects=True)

    def require_key(self) -> str:
        if self.api_key is None:
            raise ProviderAuthError(self.provider, "no API key configured")
        return self.api_key

    async def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return await self._http.get(
                f"{self.base_url}{path}", params=params, headers=self._headers, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(self.provider, f"timed out after {self.timeout:g}s") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # The message of a transport error may carry the URL and its key: name the type only.
            raise ProviderUnavailable(
                self.provider, f"request failed ({type(exc).__name__})"
            ) from exc

    def quote(self, text: str) -> str:
        """Provider text safe to put in an error: key removed, length bounded."""
        cleaned = redact(" ".join(text.split()), self.api_key)
        return cleaned if len(cleaned) <= MAX_QUOTED_TEXT else cleaned[:MAX_QUOTED_TEXT] + "..."

    def server_error(self, response: httpx.Response) -> ProviderUnavailable:
        return ProviderUnavailable(
            self.provider,
            f"HTTP {response.status_code}",
            retry_after=retry_after_seconds(response.headers),
        )

    def json(self, response: httpx.Response) -> Any:
        """The body as JSON, decimals kept exact; an unreadable body is ``ProviderUnavailable``."""
        try:
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProviderUnavailable(
                self.provider, f"unreadable answer (HTTP {response.status_code}, not JSON)"
            ) from exc

    async def aclose(self) -> None:
        if self._own_client:
            await self._http.aclose()
