"""Jobs tests run on a private database per engine, so no other executor (such as the session
app's) can claim their operations; ``jobs_settings`` uses a tiny retry back-off and lease."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from quantdesk.kit.events import InProcessEventBus
from quantdesk.kit.migrations import upgrade
from tests import pg
from tests.conftest import TEST_JWT_SECRET
from tests.jobs import kinds


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def jobs_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('jobsdb') / 'jobs.db'}"
        upgrade(url)
        yield url
        return
    if not pg.postgres_available():
        if pg.IN_CI:
            pytest.fail("PostgreSQL is not reachable and CI=true")
        pytest.skip("PostgreSQL is not reachable")
    url, name = pg.create_database("qd_jobs")
    upgrade(url)
    yield url
    pg.drop_database(name)


def make_settings(url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": url,
        "data_dir": data_dir,
        "jwt_secret": TEST_JWT_SECRET,
        "log_level": "WARNING",
        "job_retry_base_seconds": 0.05,
        "job_lease_seconds": 3,
        "local_executor_concurrency": 3,
        "providers": ["sim"],
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def jobs_settings(jobs_database_url: str, tmp_path: Path) -> Settings:
    return make_settings(jobs_database_url, tmp_path)


@pytest.fixture
async def resources(jobs_settings: Settings) -> AsyncIterator[JobResources]:
    kinds.reset()
    res = JobResources(jobs_settings, bus=InProcessEventBus())
    yield res
    async with res.db.engine.begin() as connection:
        if res.db.kind == "postgresql":
            await connection.execute(text("TRUNCATE operations, users CASCADE"))
        else:
            await connection.execute(text("DELETE FROM operations"))
            await connection.execute(text("DELETE FROM users"))
    await res.aclose()
