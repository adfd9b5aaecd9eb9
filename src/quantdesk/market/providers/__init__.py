"""Market-data providers as typed datasets (OpenBB's fetcher pattern).

- ``datasets``: the ``Dataset`` names, each one's query and result model (``DatasetSpec``).
- ``base``: ``Fetcher`` (transform_query → extract → transform; ``max_symbols``, ``cost``),
  ``BatchFetcher`` (many symbols per call), ``Provider`` and the ``ProviderError`` family.
- ``chain``: ``ProviderChain.fetch`` / ``fetch_many``, the one walk over the configured providers
  (breakers, quota gate, timeouts); ``MarketRuntime`` exposes it.
- ``gate``: the ``QuotaGate`` interface and its default, the per-minute token bucket.
- ``registry``: the chain built from settings, and who serves which dataset at what cost.
- one module (or a few) per provider: ``yahoo``, ``coingecko``, ``fmp``, ``alphavantage``, ``sim``.

Adding a dataset touches ``datasets`` and the adapters that serve it; adding a provider touches
its module and ``registry``.
"""
