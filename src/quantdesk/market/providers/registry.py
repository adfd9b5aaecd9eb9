"""The provider registry: which provider serves which dataset at what cost, and the chain named by
``QUANTDESK_PROVIDERS`` built from settings.

Unset, the chain is the keyless real providers (Yahoo, CoinGecko), then FMP and Alpha Vantage
when their API keys are set (``Settings.providers``); the simulated ``sim`` is opt-in.
The offline catalog is not a provider here: the validation strategy queries the assets table
itself. A provider named explicitly whose API key is missing is still built (so the chain is what
the user configured) and answers every call with ``ProviderAuthError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from quantdesk.kit.config import Settings
from quantdesk.market.providers.alphavantage import AlphaVantageProvider
from quantdesk.market.providers.base import BatchFetcher, Provider
from quantdesk.market.providers.coingecko import CoinGeckoProvider
from quantdesk.market.providers.datasets import Dataset
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


@dataclass(frozen=True)
class Registration:
    """One (provider, dataset) pair: the fetcher that serves it and what one call spends."""

    provider: str
    dataset: Dataset
    cost_per_call: int  # provider calls one fetch spends of its quota
    max_symbols: int  # symbols one call answers (1: no batching)
    batched: bool


def registrations(providers: list[Provider]) -> list[Registration]:
    """Every (provider, dataset) the given providers serve, in chain order."""
    return [
        Registration(
            provider=provider.name,
            dataset=dataset,
            cost_per_call=fetcher.cost,
            max_symbols=fetcher.max_symbols,
            batched=isinstance(fetcher, BatchFetcher),
        )
        for provider in providers
        for dataset, fetcher in sorted(provider.fetchers.items(), key=lambda i: i[0].value)
    ]


async def catalogue() -> dict[Dataset, list[str]]:
    """Which provider (by name) can serve each dataset, whatever is configured: what the
    data-type table is seeded from. No key is needed and no request is sent."""
    settings = Settings(_env_file=None, providers=list(PROVIDER_NAMES))
    providers = [_BUILDERS[name](settings, None) for name in PROVIDER_NAMES]
    try:
        serving: dict[Dataset, list[str]] = {dataset: [] for dataset in Dataset}
        for registration in registrations(providers):
            serving[registration.dataset].append(registration.provider)
        return serving
    finally:
        for provider in providers:
            await provider.aclose()
