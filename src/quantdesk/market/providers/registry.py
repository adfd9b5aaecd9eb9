"""The network provider chain named by ``QUANTDESK_PROVIDERS``, built from settings.

The offline catalog is not a provider here: the validation strategy queries the assets table
itself. A provider whose API key is missing is still built (so the chain is what the user
configured) and answers every call with ``ProviderAuthError``; CoinGecko works without a key.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pydantic import SecretStr

from quantdesk.kit.config import Settings
from quantdesk.market.providers.alphavantage import AlphaVantageProvider
from quantdesk.market.providers.base import Provider
from quantdesk.market.providers.coingecko import CoinGeckoProvider
from quantdesk.market.providers.fmp import FmpProvider
from quantdesk.market.providers.sim import SimProvider
from quantdesk.market.providers.yahoo import YahooProvider


def _secret(value: SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value().strip() or None


def _yahoo(settings: Settings, http: httpx.AsyncClient | None) -> Provider:
    return YahooProvider(timeout=settings.yahoo_timeout_seconds)  # yfinance has its own session


def _alphavantage(settings: Settings, http: httpx.AsyncClient | None) -> Provider:
    return AlphaVantageProvider(
        api_key=_secret(settings.alphavantage_api_key),
        base_url=settings.alphavantage_base_url,
        timeout=settings.alphavantage_timeout_seconds,
        http=http,
    )


def _fmp(settings: Settings, http: httpx.AsyncClient | None) -> Provider:
    return FmpProvider(
        api_key=_secret(settings.fmp_api_key),
        base_url=settings.fmp_base_url,
        timeout=settings.fmp_timeout_seconds,
        http=http,
    )


def _coingecko(settings: Settings, http: httpx.AsyncClient | None) -> Provider:
    return CoinGeckoProvider(
        api_key=_secret(settings.coingecko_api_key),
        base_url=settings.coingecko_base_url,
        timeout=settings.coingecko_timeout_seconds,
        http=http,
    )


def _sim(settings: Settings, http: httpx.AsyncClient | None) -> Provider:
    return SimProvider()


_BUILDERS: dict[str, Callable[[Settings, httpx.AsyncClient | None], Provider]] = {
    "yahoo": _yahoo,
    "alphavantage": _alphavantage,
    "fmp": _fmp,
    "coingecko": _coingecko,
    "sim": _sim,
}
PROVIDER_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_providers(settings: Settings, *, http: httpx.AsyncClient | None = None) -> list[Provider]:
    """The providers of ``settings.providers``, in that order.

    ``http`` is shared by the HTTP adapters when given (its owner closes it); otherwise each
    adapter opens its own client, released by ``Provider.aclose()``. Each request carries the
    provider's own timeout from settings either way.
    """
    names = [name.strip().lower() for name in settings.providers]
    unknown = [name for name in names if name not in _BUILDERS]
    if unknown:
        raise ValueError(
            f"QUANTDESK_PROVIDERS names unknown provider(s) {', '.join(map(repr, unknown))}; "
            f"known providers: {', '.join(PROVIDER_NAMES)}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"QUANTDESK_PROVIDERS names {', '.join(map(repr, repeated))} twice")
    return [_BUILDERS[name](settings, http) for name in names]
