"""Settings of the sidecar agent (``lightkeeper agent``).

YAML section ``agent``; environment ``LIGHTKEEPER_<FIELD>`` (e.g. ``LIGHTKEEPER_OPENAI_BASE_URL``,
``LIGHTKEEPER_KAFKA__BOOTSTRAP_SERVERS``); flags of ``lightkeeper agent`` override both.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from lightkeeper.agent import DEFAULT_AGENT_PORT
from lightkeeper.settings import LightkeeperSettings

ProviderKind = Literal["openai", "anthropic"]
SpoolFullPolicy = Literal["drop_newest", "drop_oldest"]
#: Structured identifiers redacted by default.
DEFAULT_PII_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "API_KEY", "IP_ADDRESS", "NATIONAL_ID")


class UpstreamRoute(BaseModel):
    """A named upstream reached under ``/<name>/...`` (e.g. ``/azure/openai/deployments/...``).

    ``provider`` selects the wire format the agent parses (OpenAI-compatible or Anthropic);
    ``provider_name`` is what events record (``azure.ai.openai``, ``vllm``...; default: the name).
    """

    base_url: str
    provider: ProviderKind = "openai"
    provider_name: str | None = None

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


#: First path segments the agent serves itself: not usable as named upstream routes.
RESERVED_ROUTE_NAMES = frozenset({"v1", "healthz", "readyz", "metrics"})


class AgentSettings(LightkeeperSettings):
    """Everything ``lightkeeper agent`` reads. Defaults are safe: loopback only, bounded memory."""

    yaml_section: ClassVar[str | None] = "agent"

    host: str = "127.0.0.1"
    """Listen address. Loopback by default: set 0.0.0.0 only behind a network policy."""
    port: int = Field(default=DEFAULT_AGENT_PORT, ge=0, le=65535)
    """Listen port (0 picks a free port)."""
    app_name: str = "default"
    """``app`` of events whose request carries no ``X-Lightkeeper-App`` header."""

    openai_base_url: str = "https://api.openai.com"
    anthropic_base_url: str = "https://api.anthropic.com"
    upstreams: dict[str, UpstreamRoute] = Field(default_factory=dict)
    """Further upstreams by route prefix: ``{"azure": {"base_url": ..., "provider": "openai"}}``."""

    ingest_token: SecretStr | None = None
    """When set, ``/v1/events``, ``/v1/context``, ``/v1/traces`` and ``/v1/logs`` need
    ``Authorization: Bearer <token>``."""
    max_request_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest request body the agent accepts (proxy, ingest, OTLP); larger gets 413."""
    max_header_bytes: int = Field(default=1024 * 1024, ge=8190)
    """Longest request header (and request line) the agent's HTTP server accepts (aiohttp's
    ``max_field_size`` / ``max_line_size``); a longer one is refused by the HTTP layer (400)."""
    max_context_header_bytes: int = Field(default=512 * 1024, ge=1024)
    """Longest ``X-Lightkeeper-Context`` header that is captured; a longer one is left out of the
    event (counted, ``metadata.context_header_error``) and the call proceeds. Larger contexts:
    ``POST /v1/context``."""
    max_body_bytes: int = Field(default=256 * 1024, ge=256)
    """Cap on each captured text field of an event (prompt, output); longer is cut, ``truncated=True``."""
    body_sample_rate: dict[str, float] = Field(default_factory=dict)
    """Per route (e.g. ``/v1/chat/completions`` or a route name), the share of calls whose bodies
    are kept; key ``*`` is the default (1.0). Metadata (usage, timing, status) is always kept."""
    pii_redaction: bool = True
    pii_types: list[str] | None = Field(default_factory=lambda: list(DEFAULT_PII_TYPES))
    """PII types to redact (names from ``lightkeeper.text.pii.PII_TYPES``); None = every type the detector
    knows, including the heuristic PERSON/ADDRESS/DATE_OF_BIRTH (off by default: they cut
    ordinary words and hurt the quality scorers)."""

    pii_hash_key: SecretStr | None = None
    """Key of the hash that replaces a ``user_id`` holding PII (an email: ``<EMAIL:9f86d081884c7d65>``).
    Without a key the hash is the same everywhere, and anyone can hash a guessed email and
    compare; set one (the same on every agent) so that only holders of the key can."""

    upstream_connect_timeout_s: float = Field(default=10.0, gt=0)
    upstream_read_timeout_s: float = Field(default=600.0, gt=0)
    """Longest wait for the next bytes of an upstream response (headers or a stream chunk)."""
    client_timeout_s: float = Field(default=120.0, gt=0)
    """Longest wait for a client to send its request body."""
    upstream_pool_size: int = Field(default=512, ge=1)

    buffer_size: int = Field(default=10_000, ge=1)
    """Events held in memory awaiting Kafka; beyond it they go to the spool."""
    publish_batch_size: int = Field(default=1000, ge=1)
    publish_timeout_s: float = Field(default=10.0, gt=0)
    """Kafka request timeout (connect, metadata, a produce request)."""
    spool_unacked_after_ms: int = Field(default=750, ge=10)
    """A batch Kafka has not acknowledged within this is copied to the spool (Kafka is marked down):
    what a SIGKILL can lose stays under a second. A copy Kafka acknowledges later is not replayed."""
    linger_ms: int = Field(default=100, ge=0)
    """How long the first event of a batch waits for others before the batch goes to Kafka (or
    the spool). Each Kafka request costs CPU in the agent and the broker, CPU that the proxied
    calls compete for: at 100 events/s, 100 ms puts ~10 events in a request instead of 1."""
    spool_dir: Path | None = None
    """Default ``<data_dir>/spool``."""
    spool_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    spool_segment_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    spool_full_policy: SpoolFullPolicy = "drop_newest"
    spool_fsync: Literal["batch", "interval", "never"] = "batch"
    """``batch``: fsync after each spooled batch; ``interval``: at most every ``spool_fsync_interval_ms``;
    ``never``: leave it to the OS."""
    spool_fsync_interval_ms: int = Field(default=200, ge=1)
    replay_interval_s: float = Field(default=2.0, gt=0)
    """How often the replay task checks whether Kafka is back."""
    context_ttl_s: float = Field(default=300.0, gt=0)
    """How long RAG context posted to ``/v1/context`` waits for (or after) its call."""
    context_cache_size: int = Field(default=10_000, ge=1)
    late_context_events: int = Field(default=500, ge=0)
    """Recent traced events kept so that context posted after the call still attaches
    (re-published with the same event_id); 0 disables."""
    otlp_join_window_s: float = Field(default=10.0, ge=0)
    """How long a GenAI span without prompt/completion content waits for the OTLP log records
    (``/v1/logs``) that carry it, and log records wait for their span; 0 disables waiting."""
    otlp_join_max_pending: int = Field(default=10_000, ge=1)
    """Spans plus log groups held for joining; beyond it the oldest leaves (span published as is,
    log records counted unmatched)."""
    ensure_topics: bool = True
    """Create the events topic at connect when it is missing (needs admin rights; failure is logged)."""
    publish_enabled: bool = True
    """False: build events but do not connect to Kafka (spool only). For air-gapped debugging."""

    @field_validator("openai_base_url", "anthropic_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("upstreams")
    @classmethod
    def _route_names(cls, value: dict[str, UpstreamRoute]) -> dict[str, UpstreamRoute]:
        clash = sorted(set(value) & RESERVED_ROUTE_NAMES)
        if clash:
            raise ValueError(f"upstream names {clash} are paths the agent serves itself; choose another name")
        return value

    @property
    def resolved_spool_dir(self) -> Path:
        return self.spool_dir or (self.data_dir / "spool")

    def sample_rate(self, route: str) -> float:
        rates = self.body_sample_rate
        return rates.get(route, rates.get("*", 1.0))
