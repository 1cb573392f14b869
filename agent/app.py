"""The agent's aiohttp application: proxy, OTLP receiver, ingest, health and metrics.

``build_app(settings)`` wires everything; ``run(settings)`` serves it (uvloop when installed).
Tests pass their own ``sink`` (e.g. :class:`~agent.publisher.MemorySink`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lightkeeper.agent.context import ContextCache
from lightkeeper.agent.ingest import IngestHandlers
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.otlp import OTLPHandler
from lightkeeper.agent.otlp_join import GenAIJoin
from lightkeeper.agent.otlp_logs import OTLPLogsHandler
from lightkeeper.agent.proxy.handler import ProxyHandler
from lightkeeper.agent.proxy.upstream import UpstreamClient
from lightkeeper.agent.publisher import EventSink, KafkaPublisher
from lightkeeper.agent.recorder import Recorder
from lightkeeper.agent.settings import AgentSettings

log = logging.getLogger(__name__)

SETTINGS_KEY = web.AppKey("settings", AgentSettings)
METRICS_KEY = web.AppKey("metrics", AgentMetrics)
SINK_KEY = web.AppKey("sink", object)
RECORDER_KEY = web.AppKey("recorder", Recorder)


def build_app(
    settings: AgentSettings, sink: EventSink | None = None, metrics: AgentMetrics | None = None
) -> web.Application:
    """The agent application; starts its publisher/recorder/upstream client on startup."""
    metrics = metrics or AgentMetrics()
    sink = sink if sink is not None else KafkaPublisher(settings, metrics)
    contexts = ContextCache(settings.context_ttl_s, settings.context_cache_size)
    recorder = Recorder(settings, sink, metrics, contexts)
    genai_join = GenAIJoin(settings, metrics, recorder.publish)
    app = web.Application(client_max_size=settings.max_request_bytes)
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = metrics
    app[SINK_KEY] = sink
    app[RECORDER_KEY] = recorder
    state: dict[str, Any] = {}

    async def on_startup(app: web.Application) -> None:
        upstream = UpstreamClient(
            limit=settings.upstream_pool_size,
            connect_timeout_s=settings.upstream_connect_timeout_s,
            read_timeout_s=settings.upstream_read_timeout_s,
        )
        state["upstream"] = upstream
        await sink.start()
        await recorder.start()
        genai_join.start()
        proxy = ProxyHandler(settings, upstream, recorder, metrics)
        state["proxy"] = proxy

    async def on_cleanup(app: web.Application) -> None:
        await genai_join.stop()  # held spans are published before the recorder stops
        await recorder.stop()
        await sink.stop()
        await state["upstream"].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        handler: ProxyHandler = state["proxy"]
        return await handler(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ready = sink.ready()
        detail: dict[str, Any] = {"ready": ready}
        if isinstance(sink, KafkaPublisher):
            detail["kafka"] = sink.kafka_healthy
            detail["spool_bytes"] = sink.spool.pending_bytes if sink.spool else None
            if sink.spool_error:
                detail["spool_error"] = sink.spool_error
            detail["spool_writable"] = sink.spool_writable
        return web.json_response(detail, status=200 if ready else 503)

    async def metrics_view(request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    ingest = IngestHandlers(settings, recorder, metrics, contexts)
    otlp = OTLPHandler(settings, recorder, metrics, genai_join)
    otlp_logs = OTLPLogsHandler(settings, recorder, metrics, genai_join)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_post("/v1/traces", otlp)
    app.router.add_post("/v1/logs", otlp_logs)
    app.router.add_post("/v1/events", ingest.events)
    app.router.add_post("/v1/context", ingest.context)
    app.router.add_route("*", "/{tail:.*}", proxy)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def freeze_startup_objects(app: web.Application | None = None) -> None:
    """Startup hook of :func:`run`: collect, then move every object alive after startup (modules,
    settings, metrics, the app, the pools) out of the garbage collector's view. They live as long
    as the process; without this, each full collection walks them all again (tens of ms here,
    the whole proxy stalled meanwhile). Not used by :func:`serve` (tests: many apps in one process)."""
    gc.collect()
    gc.freeze()


def run(settings: AgentSettings) -> None:
    """Serve the agent until interrupted."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - optional speed-up
        pass
    app = build_app(settings)
    app.on_startup.append(freeze_startup_objects)  # after the publisher, recorder and upstream start
    log.info(
        "lightkeeper agent on http://%s:%d  openai=%s anthropic=%s upstreams=%s kafka=%s topic=%s",
        settings.host,
        settings.port,
        settings.openai_base_url,
        settings.anthropic_base_url,
        sorted(settings.upstreams),
        settings.kafka.bootstrap_servers,
        settings.kafka.topic("events"),
    )
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        handle_signals=True,
        shutdown_timeout=15,
        # headers well above aiohttp's 8 KiB default: RAG context travels in X-Lightkeeper-Context
        max_field_size=settings.max_header_bytes,
        max_line_size=settings.max_header_bytes,
    )


async def serve(settings: AgentSettings, sink: EventSink | None = None) -> tuple[web.AppRunner, int]:
    """Start the agent inside a running loop; returns the runner and the bound port."""
    app = build_app(settings, sink)
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=5.0,
        max_field_size=settings.max_header_bytes,
        max_line_size=settings.max_header_bytes,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    server = site._server
    port = server.sockets[0].getsockname()[1] if server is not None and server.sockets else settings.port  # type: ignore[attr-defined]
    return runner, port


__all__ = ["asyncio", "build_app", "run", "serve"]
