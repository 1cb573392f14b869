"""``lightkeeper worker`` (faust stream processor), ``lightkeeper up`` (embedded runtime) and
``lightkeeper demo`` (the embedded runtime with simulated traffic and a summary)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from lightkeeper.agent import DEFAULT_AGENT_PORT

log = logging.getLogger(__name__)


def run_worker(args: argparse.Namespace) -> int:
    try:  # faust's event loop on uvloop: measured -15 % CPU on the worker's loop thread
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - optional speed-up
        pass
    import faust

    from lightkeeper.kafka.topics import ensure_topics
    from lightkeeper.processors.enrich import Enricher
    from lightkeeper.processors.erased import for_settings
    from lightkeeper.processors.pipeline import Pipeline
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.store import connect
    from lightkeeper.store.migrate import migrate
    from lightkeeper.worker._faust_fastpath import tune_gc
    from lightkeeper.worker.faust_app import create_worker
    from lightkeeper.worker.stages import KEYED_STAGES, build_stages

    settings = WorkerSettings.load(
        args.config,
        app_id=args.app_id,
        batch_max=args.batch_max,
        batch_within_s=args.batch_within,
        metrics_port=args.metrics_port,
        stages=None if args.stages is None else [s for s in args.stages.split(",") if s],
        kafka__bootstrap_servers=args.bootstrap,
        kafka__topic_prefix=args.topic_prefix,
        store__url=args.store_url,
        store__database=args.database,
        data_dir=args.data_dir,
        log_level=args.log_level,
    )
    ensure_topics(settings.kafka)
    client = connect(settings.store_url, settings.store.database)
    migrate(client, settings.store.database, settings.store.cluster, **settings.store.migrate_kwargs())
    stages = build_stages(settings)
    enricher = Enricher(settings.pricing_table(), estimate=settings.estimate_tokens)
    keyed = [s for s in stages if s.name in KEYED_STAGES]
    erased = for_settings(settings, client)
    pipeline = Pipeline(enricher, [s for s in stages if s.name not in KEYED_STAGES], erased=erased)
    monitors = Pipeline(enricher, keyed) if keyed else None
    parts = create_worker(settings, client, pipeline=pipeline, monitors=monitors)
    server = parts.metrics.serve(settings.metrics_port, settings.metrics_host)
    log.info(
        "worker %s: events from %s, store %s, stages %s, metrics on :%s",
        settings.app_id,
        settings.kafka.topic("events"),
        settings.store_url,
        [s.name for s in stages],
        settings.metrics_port or "off",
    )
    worker = faust.Worker(parts.app, loglevel=settings.log_level.lower(), override_logging=False, quiet=True)
    tune_gc()
    try:
        worker.execute_from_commandline()
    finally:
        parts.sink.close()
        if server is not None:
            server.shutdown()
    return 0


def run_up(args: argparse.Namespace) -> int:
    from lightkeeper.runtime import run_embedded

    return run_embedded(args)


def run_demo(args: argparse.Namespace) -> int:
    from lightkeeper.demo import run_demo as demo

    return demo(args)


def _store_flags(p: Any) -> None:
    p.add_argument("--store-url", default=None, help="chdb:///path (embedded) or http(s)://host:8123")
    p.add_argument("--database", default=None, help="store database (default lightkeeper)")
    p.add_argument("--data-dir", default=None, help="data directory (default .lightkeeper)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("worker", help="run the stream-processing worker (faust, Kafka -> store)")
    p.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers (host:port,...)")
    p.add_argument("--topic-prefix", default=None, help="topic name prefix (default lightkeeper.)")
    p.add_argument(
        "--app-id", default=None, help="faust app id = consumer group (default lightkeeper-worker)"
    )
    p.add_argument("--batch-max", type=int, default=None, help="largest batch (default 2000)")
    p.add_argument(
        "--batch-within", type=float, default=None, help="longest batch wait in seconds (default 0.5)"
    )
    p.add_argument("--metrics-port", type=int, default=None, help="Prometheus /metrics port (0 = off)")
    p.add_argument(
        "--stages", default=None, help="comma-separated stages (scores,drift,anomalies,alerts); '' = none"
    )
    _store_flags(p)
    p.set_defaults(handler=run_worker)

    up = subparsers.add_parser("up", help="run agent + processors + alerting + embedded store in one process")
    up.add_argument("--host", default=None, help="agent listen address (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=None, help=f"agent port (default {DEFAULT_AGENT_PORT})")
    up.add_argument(
        "--openai-base-url", default=None, help="OpenAI-compatible upstream (default https://api.openai.com)"
    )
    up.add_argument(
        "--anthropic-base-url", default=None, help="Anthropic upstream (default https://api.anthropic.com)"
    )
    up.add_argument(
        "--upstream",
        default=None,
        help="one base URL for BOTH OpenAI and Anthropic traffic (a gateway or a simulated provider "
        "serving both); --openai-base-url / --anthropic-base-url override it per provider",
    )
    up.add_argument(
        "--stages", default=None, help="comma-separated stages; '' = none (default: all available)"
    )
    _store_flags(up)
    up.set_defaults(handler=run_up)

    d = subparsers.add_parser(
        "demo", help="run the whole pipeline on simulated LLM traffic and print a summary"
    )
    d.add_argument("--quick", action="store_true", help="short run (about 200 calls, for tests)")
    d.add_argument("--events", type=int, default=None, help="number of simulated calls")
    d.add_argument(
        "--stages", default=None, help="comma-separated stages; '' = none (default: all available)"
    )
    d.add_argument("--no-progress", action="store_true", help="do not show progress")
    _store_flags(d)
    d.set_defaults(handler=run_demo)
