"""``lightkeeper agent``: run the sidecar agent (proxy, OTLP receiver, ingest)."""

from __future__ import annotations

import argparse
from typing import Any

from lightkeeper.agent import DEFAULT_AGENT_PORT
from lightkeeper.errors import ConfigError


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "agent",
        help="run the sidecar agent: LLM proxy, OTLP receiver and event ingest, publishing to Kafka",
        description="Run beside an application; point its OpenAI/Anthropic client at http://HOST:PORT. "
        "Flags override LIGHTKEEPER_* environment variables, which override the YAML config "
        "(section 'agent').",
    )
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"listen port (default {DEFAULT_AGENT_PORT})")
    p.add_argument("--openai-base-url", help="OpenAI-compatible upstream (default https://api.openai.com)")
    p.add_argument("--anthropic-base-url", help="Anthropic upstream (default https://api.anthropic.com)")
    p.add_argument(
        "--route",
        action="append",
        default=[],
        metavar="NAME=[KIND:]URL",
        help="extra upstream under /NAME/...; KIND is openai (default) or anthropic. Repeatable. "
        "Example: --route vllm=http://gpu-box:8000/v1",
    )
    p.add_argument("--app-name", help="app of events whose requests carry no X-Lightkeeper-App header")
    p.add_argument("--environment", help="environment label of events (default dev)")
    p.add_argument("--kafka-bootstrap", help="Kafka bootstrap servers (host:port[,host:port])")
    p.add_argument("--topic-prefix", help="Kafka topic prefix (default 'lightkeeper.')")
    p.add_argument("--spool-dir", help="on-disk spool directory (default <data_dir>/spool)")
    p.add_argument("--data-dir", help="data directory (default .lightkeeper)")
    p.add_argument("--ingest-token", help="bearer token required on /v1/events, /v1/context and /v1/traces")
    p.add_argument("--no-pii-redaction", action="store_true", help="keep PII (secrets are always scrubbed)")
    p.add_argument(
        "--no-publish", action="store_true", help="do not connect to Kafka; events go to the spool"
    )
    p.set_defaults(handler=_run)


def parse_route(spec: str) -> tuple[str, dict[str, str]]:
    """``name=[kind:]url`` -> (name, {"base_url": url, "provider": kind})."""
    name, sep, rest = spec.partition("=")
    if not sep or not name or not rest:
        raise ConfigError(f"--route {spec!r}: expected NAME=[openai:|anthropic:]URL")
    kind = "openai"
    for candidate in ("openai:", "anthropic:"):
        if rest.startswith(candidate):
            kind, rest = candidate[:-1], rest[len(candidate) :]
    if not rest.startswith(("http://", "https://")):
        raise ConfigError(f"--route {spec!r}: URL must start with http:// or https://")
    return name, {"base_url": rest, "provider": kind}


def _run(args: argparse.Namespace) -> int:
    from lightkeeper.agent.app import run
    from lightkeeper.agent.settings import AgentSettings

    flags: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "openai_base_url": args.openai_base_url,
        "anthropic_base_url": args.anthropic_base_url,
        "app_name": args.app_name,
        "environment": args.environment,
        "kafka__bootstrap_servers": args.kafka_bootstrap,
        "kafka__topic_prefix": args.topic_prefix,
        "spool_dir": args.spool_dir,
        "data_dir": args.data_dir,
        "ingest_token": args.ingest_token,
        "log_level": args.log_level.upper() if args.log_level else None,
    }
    if args.no_pii_redaction:
        flags["pii_redaction"] = False
    if args.no_publish:
        flags["publish_enabled"] = False
    if args.route:
        flags["upstreams"] = dict(parse_route(spec) for spec in args.route)
    settings = AgentSettings.load(args.config, **flags)
    run(settings)
    return 0
