"""The provider paths the agent proxies to its default upstreams: the one allow-list.

A request reaches ``openai_base_url`` or ``anthropic_base_url`` only when its path is listed
here, exactly or under one of the listed prefixes (an id after it: ``/v1/files/file-abc/content``).
Everything else (``/v1/metrics`` from an OTLP exporter pointed at the agent, typos, scanners)
is answered ``404`` by the agent itself and never leaves the process: a request sent to the
agent by mistake must not carry its credentials (an ingest token) to a provider.

Named upstreams (``upstreams.<name>``, ``/<name>/...``) are forwarded whole: the operator chose
that base URL.

``docs/agent.md`` ("Proxied paths") lists the same paths; ``tests/agent/test_agent_paths.py``
checks that the two agree.
"""

from __future__ import annotations

from typing import Literal

# First path segments the agent serves itself, defined with the settings that refuse them as
# upstream route names.
from lightkeeper.agent.settings import RESERVED_ROUTE_NAMES as RESERVED_ROUTE_NAMES

Kind = Literal["openai", "anthropic"]

#: OpenAI-compatible API paths (OpenAI, Azure OpenAI v1, vLLM, LiteLLM, Ollama, ...).
OPENAI_PATHS: frozenset[str] = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/moderations",
        "/v1/audio/speech",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
        "/v1/images/generations",
        "/v1/images/edits",
        "/v1/images/variations",
        "/v1/batches",
        "/v1/uploads",
        "/v1/fine_tuning/jobs",
        "/v1/vector_stores",
    }
)
#: OpenAI paths followed by an id (stored completions, responses, batches, uploads, jobs...).
OPENAI_PREFIXES: tuple[str, ...] = (
    "/v1/chat/completions/",
    "/v1/responses/",
    "/v1/batches/",
    "/v1/uploads/",
    "/v1/fine_tuning/jobs/",
    "/v1/vector_stores/",
)

#: Anthropic Messages API paths.
ANTHROPIC_PATHS: frozenset[str] = frozenset(
    {
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/messages/batches",
        "/v1/complete",
    }
)
ANTHROPIC_PREFIXES: tuple[str, ...] = ("/v1/messages/batches/",)

#: Paths both providers serve (models list, files). They go to Anthropic when the request
#: carries an ``anthropic-version`` header (every Anthropic SDK sends one), else to OpenAI.
SHARED_PATHS: frozenset[str] = frozenset({"/v1/models", "/v1/files"})
SHARED_PREFIXES: tuple[str, ...] = ("/v1/models/", "/v1/files/")


def exact_kind(path: str) -> Kind | None:
    """The wire format of an exactly listed, unambiguous path (None: not one)."""
    if path in OPENAI_PATHS:
        return "openai"
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    return None


def _safe_tail(path: str) -> bool:
    """No dot segments (``/v1/files/../metrics``), encoded or not: an upstream would
    normalise them into a path that is not on the list."""
    return "/." not in path and "%2e" not in path.lower()


def provider_kind(path: str, anthropic_version: bool) -> Kind | None:
    """The wire format for ``path`` (None: not a proxied path). ``anthropic_version``: the
    request carries an ``anthropic-version`` header (decides the shared paths)."""
    kind = exact_kind(path)
    if kind is not None:
        return kind
    if path in SHARED_PATHS:
        return "anthropic" if anthropic_version else "openai"
    if not _safe_tail(path):
        return None
    if path.startswith(ANTHROPIC_PREFIXES):
        return "anthropic"
    if path.startswith(OPENAI_PREFIXES):
        return "openai"
    if path.startswith(SHARED_PREFIXES):
        return "anthropic" if anthropic_version else "openai"
    return None


def documented_paths() -> list[str]:
    """Every listed path, prefixes written ``<prefix>{id}``: what the docs must list."""
    exact = OPENAI_PATHS | ANTHROPIC_PATHS | SHARED_PATHS
    prefixed = {p + "{id}" for p in (*OPENAI_PREFIXES, *ANTHROPIC_PREFIXES, *SHARED_PREFIXES)}
    return sorted(exact | prefixed)
