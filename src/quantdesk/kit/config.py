"""Settings: every knob is a ``QUANTDESK_*`` environment variable (or a line in ``.env``)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_JWT_SECRET = "dev-insecure-change-me"  # noqa: S105 - the value production mode refuses
MIN_PRODUCTION_SECRET_LENGTH = 32


def default_data_dir(module_file: str | Path = __file__) -> Path:
    """Where the data lives when QUANTDESK_DATA_DIR is unset, whatever the working directory.

    Installed from a source checkout (``make install``, editable): the checkout's ``data/``, the
    folder ``make run`` uses. Installed as a package: the platform's user data directory
    (``~/.local/share/quantdesk`` on Linux, ``~/Library/Application Support/quantdesk`` on macOS).
    """
    src = Path(module_file).resolve().parents[2]  # <checkout>/src when run from a checkout
    if src.name == "src" and (src.parent / "pyproject.toml").is_file():
        return src.parent / "data"
    import platformdirs  # only needed outside a checkout

    return Path(platformdirs.user_data_dir("quantdesk", appauthor=False))


def default_frontend_dir(module_file: str | Path = __file__) -> Path | None:
    """The built dashboard of a source checkout (``frontend/dist``); None when installed."""
    src = Path(module_file).resolve().parents[2]
    if src.name == "src" and (src.parent / "pyproject.toml").is_file():
        return src.parent / "frontend" / "dist"
    return None


KEYLESS_PROVIDERS = ("yahoo", "coingecko")


def default_provider_chain(
    *, fmp_key: SecretStr | None, alphavantage_key: SecretStr | None
) -> list[str]:
    """The chain when QUANTDESK_PROVIDERS is unset: real data only, keyed providers when keyed."""
    chain = list(KEYLESS_PROVIDERS)
    for name, key in (("fmp", fmp_key), ("alphavantage", alphavantage_key)):
        if key is not None and key.get_secret_value().strip():
            chain.append(name)
    return chain


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QUANTDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Empty means the checkout's data/ or the user data directory; "
        "a relative path is taken from the current directory",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means SQLite at <data_dir>/quantdesk.db",
    )
    database_echo: bool = False
    frontend_dir: Path | None = Field(
        default_factory=default_frontend_dir,
        description="The built dashboard served at /; empty means the checkout's frontend/dist",
    )

    jwt_secret: SecretStr = SecretStr(DEFAULT_JWT_SECRET)
    jwt_access_ttl_seconds: int = Field(default=15 * 60, gt=0)
    jwt_refresh_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)

    login_rate_limit_per_ip: str = "20/minute"
    login_rate_limit_per_account: str = "5/minute"
    rate_limit_storage_url: str = "memory://"

    max_request_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    cors_origins: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = True

    # Market data: the network providers tried after the cache and the offline catalog, in order.
    # Unset: the keyless real ones, then the keyed ones whose key is set (see _default_providers).
    providers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Empty means yahoo, coingecko, then fmp and alphavantage when their API key "
        "is set; sim (simulated data) only when named",
    )
    redis_url: str | None = None
    alphavantage_base_url: str = "https://www.alphavantage.co"
    alphavantage_api_key: SecretStr | None = None
    alphavantage_timeout_seconds: float = Field(default=10.0, gt=0)
    alphavantage_requests_per_minute: float = Field(default=5.0, gt=0)
    # Per-day allowances (the free plans'), counted by the provider's day: from its reset time
    # (UTC, HH:MM) to the next. Unset: no daily limit.
    alphavantage_requests_per_day: int | None = Field(default=25, gt=0)
    alphavantage_day_resets_at: str = Field(default="00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    fmp_base_url: str = "https://financialmodelingprep.com"
    fmp_api_key: SecretStr | None = None
    fmp_timeout_seconds: float = Field(default=10.0, gt=0)
    fmp_requests_per_minute: float = Field(default=60.0, gt=0)
    fmp_requests_per_day: int | None = Field(default=250, gt=0)
    fmp_day_resets_at: str = Field(default="00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    coingecko_base_url: str = "https://api.coingecko.com/api/v3"
    coingecko_api_key: SecretStr | None = None
    coingecko_timeout_seconds: float = Field(default=10.0, gt=0)
    coingecko_requests_per_minute: float = Field(default=25.0, gt=0)
    coingecko_requests_per_day: int | None = Field(default=None, gt=0)
    coingecko_day_resets_at: str = Field(default="00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    yahoo_timeout_seconds: float = Field(default=10.0, gt=0)
    yahoo_requests_per_minute: float = Field(default=60.0, gt=0)
    yahoo_requests_per_day: int | None = Field(default=None, gt=0)
    yahoo_day_resets_at: str = Field(default="00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    cache_ttl_validation_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    cache_ttl_profile_seconds: int = Field(default=24 * 3600, gt=0)
    cache_ttl_quote_seconds: int = Field(default=60, gt=0)
    breaker_failure_threshold: int = Field(default=5, gt=0)
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    validation_concurrency: int = Field(default=8, gt=0, le=64)

    # Background jobs: who runs them (in process, or Celery workers), and how.
    executor: Literal["local", "celery"] = "local"
    local_executor_concurrency: int = Field(default=4, gt=0, le=256)
    local_executor_shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    celery_broker_url: str | None = Field(
        default=None, description="Celery broker; empty means redis_url"
    )
    job_lease_seconds: int = Field(default=60, gt=0)
    job_retry_base_seconds: float = Field(default=60.0, ge=0)
    operations_retention_days: int = Field(default=7, gt=0)
    scheduler_enabled: bool | None = Field(
        default=None, description="In-process periodic jobs; empty means on, except in tests"
    )

    # Metrics (GET /metrics, Prometheus) and the activity monitor (GET /api/v1/status).
    metrics_enabled: bool = True
    metrics_probe_timeout_seconds: float = Field(default=2.0, gt=0)
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="`quantdesk worker` serves its metrics here"
    )
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_dir: Path | None = Field(
        default=None, description="Empty means <data_dir>/prometheus/worker-<port>"
    )
    activity_window_seconds: float = Field(default=300.0, gt=0)
    activity_active_threshold: int = Field(default=5, ge=1)
    activity_idle_threshold: int = Field(default=1, ge=1)
    # The universes of users active within this many hours are watched in the background, their
    # quotes refreshed this often while the service is active / idle (the activity monitor).
    market_active_user_hours: float = Field(default=24.0, gt=0)
    market_background_refresh_active_seconds: int = Field(default=300, gt=0)
    market_background_refresh_idle_seconds: int = Field(default=1800, gt=0)
    # Completed and failed refresh-queue rows are kept this long (status pages, diagnosis).
    market_refresh_retention_hours: float = Field(default=24.0, gt=0)
    # The refresh engine (workers that serve the refresh queue, the sweep that fills it): in
    # `serve` when embedded (empty: yes with the local executor, except in tests), else in
    # `quantdesk market engine` processes. Workers are claim loops per process.
    market_engine_embedded: bool | None = None
    market_engine_workers: int = Field(default=1, ge=1, le=32)
    market_engine_batch: int = Field(default=50, ge=1, le=1000)
    market_engine_lease_seconds: int = Field(default=60, gt=0)
    market_engine_poll_seconds: float = Field(default=1.0, gt=0)
    market_engine_sweep_seconds: int = Field(default=15, gt=0)
    market_engine_call_timeout_seconds: float = Field(default=10.0, gt=0)
    market_engine_max_attempts: int = Field(default=5, ge=1)
    # While the engine (or a data type) is off, a read fetches a stale value on demand and waits
    # this long for the providers; a later answer is stored for the next read.
    market_read_budget_seconds: float = Field(default=3.0, gt=0)

    # Paper trading: a market order needs a quote at most this old (else it is fetched now, and
    # rejected as quote_stale if none comes); fills slip against the trader by this many basis
    # points; fees are bps of the fill with a minimum (0: commission free); resting orders are
    # looked at this often (and whenever a quote of theirs arrives).
    trading_quote_max_age_seconds: float = Field(default=60.0, gt=0)
    trading_slippage_bps: float = Field(default=5.0, ge=0, le=1000)
    trading_fee_bps: float = Field(default=0.0, ge=0, le=1000)
    trading_fee_minimum: float = Field(default=0.0, ge=0, le=1000)
    trading_match_seconds: float = Field(default=5.0, gt=0)
    # One fill takes at most this share of the volume its quote reports (0: fills are never
    # limited); the rest of a larger order fills at later quotes (partially_filled meanwhile).
    trading_max_volume_share: float = Field(default=0.025, ge=0, le=1)

    # Research vault: a local vault's root must lie inside one of these folders (empty: the
    # data dir's vaults/; a relative one is taken from the data dir); an S3 endpoint URL must be
    # https unless it starts with one of these prefixes. Credentials are encrypted with the key.
    vault_allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated or a JSON list; empty means <data_dir>/vaults",
    )
    vault_allowed_endpoints: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="URL prefixes (comma-separated or a JSON list) an S3 endpoint may start "
        "with besides public https ones, e.g. http://127.0.0.1:9000 for a local MinIO",
    )
    vault_secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts vault credentials at rest; required in production. Empty in "
        "development: derived from QUANTDESK_JWT_SECRET (stable while that is)",
    )
    vault_max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)

    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="Proxies whose X-Forwarded-For/-Proto `serve` believes: comma-separated "
        "addresses or networks, * for any; empty for none",
    )
    api_url: str = "http://127.0.0.1:8000"
    api_token: SecretStr | None = None

    @field_validator(
        "alphavantage_requests_per_day",
        "fmp_requests_per_day",
        "coingecko_requests_per_day",
        "yahoo_requests_per_day",
        mode="before",
    )
    @classmethod
    def _empty_is_unlimited(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("providers", mode="before")
    @classmethod
    def _split_providers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [name.strip().lower() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _default_providers(self) -> Settings:
        # QUANTDESK_PROVIDERS unset or empty: the default chain; a named chain is kept as is.
        if "providers" not in self.model_fields_set or not self.providers:
            self.providers = default_provider_chain(
                fmp_key=self.fmp_api_key, alphavantage_key=self.alphavantage_api_key
            )
        return self

    @field_validator("frontend_dir", mode="before")
    @classmethod
    def _default_frontend_dir(cls, value: Any) -> Any:
        return default_frontend_dir() if value == "" else value

    @field_validator("vault_allowed_roots", "vault_allowed_endpoints", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def resolved_vault_allowed_roots(self) -> list[Path]:
        """The folders local vaults may live in, absolute and with links resolved."""
        roots = self.vault_allowed_roots or [Path("vaults")]
        return [Path(os.path.realpath(self.data_dir / root)) for root in roots]

    @field_validator("data_dir", mode="before")
    @classmethod
    def _expand_data_dir(cls, value: Any) -> Any:
        if value == "":
            return default_data_dir()
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator(
        "celery_broker_url",
        "scheduler_enabled",
        "worker_metrics_port",
        "worker_metrics_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _idle_below_active(self) -> Settings:
        if self.activity_idle_threshold > self.activity_active_threshold:
            raise ValueError(
                "QUANTDESK_ACTIVITY_IDLE_THRESHOLD must not exceed "
                "QUANTDESK_ACTIVITY_ACTIVE_THRESHOLD"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'quantdesk.db').as_posix()}"

    @property
    def runs_scheduler(self) -> bool:
        """Whether `serve` runs the periodic schedule itself (embedded mode; Celery has beat)."""
        if self.executor != "local":
            return False
        if self.scheduler_enabled is None:
            return self.environment != "test"
        return self.scheduler_enabled

    @property
    def runs_market_engine(self) -> bool:
        """Whether `serve` runs the refresh engine itself (embedded mode)."""
        if self.market_engine_embedded is None:
            return self.executor == "local" and self.environment != "test"
        return self.market_engine_embedded

    @property
    def resolved_celery_broker_url(self) -> str | None:
        return self.celery_broker_url or self.redis_url

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.resolved_database_url.startswith("postgresql") else "sqlite"

    @model_validator(mode="after")
    def _refuse_weak_secret_in_production(self) -> Settings:
        if self.environment == "production":
            secret = self.jwt_secret.get_secret_value()
            if secret == DEFAULT_JWT_SECRET or len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
                raise ValueError(
                    "QUANTDESK_JWT_SECRET must be set to a random value of at least "
                    f"{MIN_PRODUCTION_SECRET_LENGTH} characters in production"
                )
            vault_key = self.vault_secret_key.get_secret_value() if self.vault_secret_key else ""
            if len(vault_key.strip()) < MIN_PRODUCTION_SECRET_LENGTH:
                raise ValueError(
                    "QUANTDESK_VAULT_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_PRODUCTION_SECRET_LENGTH} characters in production"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
