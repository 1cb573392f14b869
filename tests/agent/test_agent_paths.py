"""Only documented provider paths are proxied; anything else is a JSON 404 from the agent that
never reaches an upstream (nor carries the caller's credentials there)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from lightkeeper.agent.proxy.paths import documented_paths
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.errors import ConfigError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "agent.md"
INGEST_TOKEN = "ingest-secret-0123456789"


@dataclass
class RecordingUpstream:
    """Answers every path 200 and records (method, path, Authorization) of each request."""

    url: str = ""
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


@pytest.fixture
async def recording_upstream() -> AsyncIterator[RecordingUpstream]:
    rec = RecordingUpstream()

    async def anything(request: web.Request) -> web.Response:
        await request.read()
        rec.seen.append((request.method, request.path, request.headers.get("Authorization")))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield rec
    await runner.cleanup()


def _export_one_metric() -> object:
    """Export one counter with the OpenTelemetry SDK's OTLP/HTTP metrics exporter configured
    only by the generic environment (``OTEL_EXPORTER_OTLP_ENDPOINT`` = the agent, headers with
    the ingest token), as an application that points "OTLP" at the agent does."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    exporter = OTLPMetricExporter(timeout=5)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("app").create_counter("app.requests").add(3)
    data = reader.get_metrics_data()
    assert data is not None
    try:
        return exporter.export(data, timeout_millis=5000)
    finally:
        exporter.shutdown()
        provider.shutdown()


async def test_otlp_metrics_exporter_pointed_at_the_agent_reaches_no_upstream(
    agent_factory, recording_upstream, monkeypatch
):
    from opentelemetry.sdk.metrics.export import MetricExportResult

    agent = await agent_factory(
        openai_base_url=recording_upstream.url,
        anthropic_base_url=recording_upstream.url,
        ingest_token=INGEST_TOKEN,
    )
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", agent.url)  # the exporter adds /v1/metrics
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{INGEST_TOKEN}")
    result = await asyncio.to_thread(_export_one_metric)
    assert result == MetricExportResult.FAILURE  # the agent answered 404 itself
    async with aiohttp.ClientSession() as s:
        for path in ("/v1/metrics", "/v1/unknown", "/v2/chat/completions", "/v1/files/../metrics"):
            url = URL(agent.url + path, encoded=True)
            async with s.post(url, data=b"x", headers={"Authorization": f"Bearer {INGEST_TOKEN}"}) as r:
                assert r.status == 404, path
                body = await r.json()
                assert body["error"]["type"] == "not_found"
                assert body["error"]["source"] == "lightkeeper-agent"
        async with s.get(agent.url + "/metrics") as r:
            text = await r.text()
    assert recording_upstream.seen == []
    assert re.search(r'lightkeeper_agent_requests_total\{route="/unmatched",status="404"\} 5\.0', text)


async def test_listed_paths_reach_their_provider(agent_factory, recording_upstream):
    agent = await agent_factory(
        openai_base_url=recording_upstream.url + "/oa",
        anthropic_base_url=recording_upstream.url + "/an",
    )
    async with aiohttp.ClientSession() as s:
        for method, path, headers in (
            ("GET", "/v1/models", {}),
            ("GET", "/v1/models", {"anthropic-version": "2023-06-01"}),
            ("POST", "/v1/messages/count_tokens", {}),
            ("GET", "/v1/files/file-abc/content", {}),
            ("GET", "/v1/batches/batch_1", {}),
            ("POST", "/v1/embeddings", {}),
        ):
            async with s.request(method, agent.url + path, data=b"{}", headers=headers) as r:
                assert r.status == 200, path
    assert [p for _, p, _ in recording_upstream.seen] == [
        "/oa/v1/models",
        "/an/v1/models",
        "/an/v1/messages/count_tokens",
        "/oa/v1/files/file-abc/content",
        "/oa/v1/batches/batch_1",
        "/oa/v1/embeddings",
    ]


def test_docs_list_every_proxied_path():
    text = DOCS.read_text()
    section = text[text.index("## Proxied paths") :]
    section = section[: section.index("\n## ", 4)]
    missing = [p for p in documented_paths() if f"`{p}`" not in section]
    assert missing == []


def test_upstream_names_cannot_shadow_agent_paths():
    with pytest.raises(ConfigError, match="v1"):
        AgentSettings.load(None, upstreams={"v1": {"base_url": "http://x:1"}})


def test_resolve_follows_the_allow_list():
    from lightkeeper.agent.proxy.handler import exact_routes, resolve

    s = AgentSettings.load(None, openai_base_url="http://o:1/v1", anthropic_base_url="http://a:2")
    for path in (
        "/v1/metrics",
        "/v1/logs",
        "/v1",
        "/v1/",
        "/v1/files/%2E%2E/metrics",
        "/v1/models/./x",
        "/x",
    ):
        assert resolve(s, path) is None, path
    models = resolve(s, "/v1/models/claude-3-5-haiku", anthropic_version=True)
    assert models is not None and models.url == "http://a:2/v1/models/claude-3-5-haiku"
    files = resolve(s, "/v1/files/file-1/content")
    assert files is not None and files.url == "http://o:1/v1/files/file-1/content" and files.kind == "openai"
    routes = exact_routes(s)
    assert routes["/v1/chat/completions"] == resolve(s, "/v1/chat/completions")
    assert routes["/v1/messages"].kind == "anthropic" and "/v1/models" not in routes
