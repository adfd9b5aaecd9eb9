"""A small, distinctive slice of the real catalog, loaded once per database for these tests.

Small countries' stock files, the index quotes, the crypto list and one index (OMX Helsinki 25):
a few hundred rows, none of them the shared sample assets other test packages rely on.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from quantdesk.assets.catalog import CatalogLoadReport, CatalogSources, load_catalog

SUBSET = CatalogSources(
    stock_countries=("iceland", "estonia", "latvia", "lithuania", "finland"),
    etfs=False,
    index_quotes=True,
    currencies=False,
    crypto=True,
    indices=("OMX Helsinki 25",),
)


@pytest.fixture(scope="session")
async def catalog_subset(app: FastAPI) -> CatalogLoadReport:
    """The first load's report (the database is fresh for the session's asset slice)."""
    return await load_catalog(app.state.db, sources=SUBSET)
