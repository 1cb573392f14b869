"""Settings shared by every deployable.

Each deployable (agent, worker, embedded runtime, CLI tools) has one settings object derived
from :class:`LightkeeperSettings`. Precedence, highest first:

1. flags (keyword arguments given to :meth:`LightkeeperSettings.load`),
2. environment variables ``LIGHTKEEPER_<FIELD>``; nested fields use ``__``
   (``LIGHTKEEPER_KAFKA__BOOTSTRAP_SERVERS``),
3. the YAML file named by ``--config`` / ``LIGHTKEEPER_CONFIG`` (optional),
4. defaults.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lightkeeper.errors import ConfigError

DEFAULT_DATA_DIR = Path(".lightkeeper")


class KafkaSettings(BaseModel):
    """Connection to Kafka. Everything a real cluster needs is passed through to the clients."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "lightkeeper"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True
    topic_prefix: str = "lightkeeper."
    """Topic names are ``<prefix><name>``: events, scores, drift, anomalies, alerts, dead-letters."""
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    compression_type: Literal["lz4", "zstd", "gzip", "snappy", "producer", "uncompressed"] = "lz4"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


class StoreSettings(BaseModel):
    """ClickHouse. ``chdb:///path`` is the embedded engine; ``http(s)://user:pass@host:port/db``
    a server."""

    url: str | None = None
    """Default: the embedded store ``chdb://<data_dir>/store``."""
    database: str = "lightkeeper"
    cluster: str | None = None
    """Set to a cluster name to use the ON CLUSTER / Replicated migration variant."""
    events_ttl_days: int = Field(default=90, ge=0)
    """0 disables expiry."""
    derived_ttl_days: int = Field(default=365, ge=0)
    tenant_retention_days: dict[str, int] = Field(default_factory=dict)
    """Per-tenant retention of ``events`` and ``feedback`` (tenant -> days, 0: keep), overriding
    ``events_ttl_days`` / ``derived_ttl_days`` for that tenant; applied by ``lightkeeper migrate``."""

    @field_validator("tenant_retention_days")
    @classmethod
    def _tenant_days(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [t for t, days in value.items() if days < 0 or not t]
        if bad:
            raise ValueError(f"days must be >= 0 and tenants non-empty (check {bad})")
        return value

    def migrate_kwargs(self) -> dict[str, Any]:
        """The retention keyword arguments of :func:`lightkeeper.store.migrate.migrate`."""
        return {
            "events_ttl_days": self.events_ttl_days,
            "derived_ttl_days": self.derived_ttl_days,
            "tenant_retention_days": self.tenant_retention_days,
        }

    batch_rows: int = Field(default=5000, ge=1)
    flush_interval_s: float = Field(default=1.0, gt=0)


class PrivacySettings(BaseModel):
    """Erasure (``lightkeeper erase``) and what the worker does with erased subjects."""

    erasure_salt: SecretStr | None = None
    """Salt of the selector hashes in ``erasures`` / ``erased_subjects``. Default: a random salt
    kept in ``<data_dir>/erasure.salt``; set it explicitly when the worker and ``erase`` do not
    share a data directory (a server or cluster deployment)."""
    erased_drop_days: int = Field(default=30, ge=0)
    """The worker drops late events of an erased subject for this many days (0: never)."""
    erased_refresh_s: float = Field(default=30.0, gt=0)
    """How often the worker reloads the erased subjects from the store."""

    def salt(self, data_dir: Path) -> bytes:
        configured = self.erasure_salt.get_secret_value() if self.erasure_salt else None
        return load_salt(configured, data_dir)


def load_salt(configured: str | None, data_dir: Path) -> bytes:
    """The erasure salt: the configured one (``privacy.erasure_salt``), else the one kept in
    ``<data_dir>/erasure.salt`` (created, readable by the owner only, on first use). The worker
    and the ``erase`` command must use the same salt: set it in configuration on a cluster."""
    if configured:
        return configured.encode()
    path = data_dir / "erasure.salt"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except FileNotFoundError:
                raise ConfigError(f"config file not found: {path}") from None
            except yaml.YAMLError as exc:
                raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
            if not isinstance(loaded, dict):
                raise ConfigError(f"config file {path} must hold a mapping at the top level")
            section = getattr(settings_cls, "yaml_section", None)
            if section and isinstance(loaded.get(section), dict):
                shared = {
                    k: v
                    for k, v in loaded.items()
                    if not isinstance(v, dict) or k in ("kafka", "store", "privacy")
                }
                loaded = {**shared, **loaded[section]}
            self._data = loaded

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {k: v for k, v in self._data.items() if k in fields}


def make_private_dir(path: Path | str) -> Path:
    """Create directory ``path`` like ``mkdir -p``, every directory it creates readable by the
    owner only (0700): the data directory holds captured prompts (spool, store, dead letters).
    Existing directories are left as they are. Raises ``OSError`` when it cannot."""
    target = Path(path)
    missing: list[Path] = []
    current = target
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    if not target.is_dir():
        raise NotADirectoryError(f"{target} is not a directory")
    return target


class LightkeeperSettings(BaseSettings):
    """Base of every deployable's settings object."""

    model_config = SettingsConfigDict(
        env_prefix="LIGHTKEEPER_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    yaml_section: ClassVar[str | None] = None
    _config_file: ClassVar[Path | None] = None

    data_dir: Path = DEFAULT_DATA_DIR
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    environment: str = "dev"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _YamlSource(settings_cls, cls._config_file),
            file_secret_settings,
        )

    @property
    def store_url(self) -> str:
        """The store URL, defaulting to the embedded engine under ``data_dir``."""
        return self.store.url or f"chdb://{(self.data_dir / 'store').resolve()}"

    @classmethod
    def load(cls, config_file: str | Path | None = None, **flags: Any) -> Self:
        """Build settings from flags > env > YAML file > defaults; ``None`` flags are ignored."""
        path = config_file or os.environ.get("LIGHTKEEPER_CONFIG")
        overrides = _nest({k: v for k, v in flags.items() if v is not None})
        cls._config_file = Path(path) if path else None
        try:
            return cls(**overrides)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise ConfigError(f"invalid {cls.__name__}: {problems}") from None
        finally:
            cls._config_file = None


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"kafka__bootstrap_servers": x}`` -> ``{"kafka": {"bootstrap_servers": x}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split("__")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
