"""Settings: every knob is a ``QUANTDESK_*`` environment variable (or a line in ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "dev-insecure-change-me"  # noqa: S105 - the value production mode refuses
MIN_PRODUCTION_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="QUANTDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means SQLite at <data_dir>/quantdesk.db",
    )
    database_echo: bool = False

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

    host: str = "127.0.0.1"
    port: int = 8000
    api_url: str = "http://127.0.0.1:8000"
    api_token: SecretStr | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'quantdesk.db').as_posix()}"

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
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
