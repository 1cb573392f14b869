"""Entry point of the ``lightkeeper`` command."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from lightkeeper.errors import LightkeeperError

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "lightkeeper.cli.cmd_version",
    "lightkeeper.cli.cmd_store",  # migrate, sql
    "lightkeeper.cli.cmd_kafka",  # dev kafka up|down|status, topics
    "lightkeeper.cli.cmd_agent",  # agent
    "lightkeeper.cli.cmd_worker",  # worker, up, demo
    "lightkeeper.cli.cmd_score",  # score, train
    "lightkeeper.cli.cmd_drift",  # drift
    "lightkeeper.cli.cmd_alerts",  # alerts
    "lightkeeper.cli.cmd_report",  # report
    "lightkeeper.cli.cmd_privacy",  # erase
    "lightkeeper.cli.cmd_compare",  # compare
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightkeeper",
        description="Lightkeeper: LLM observability and monitoring. Capture, score, detect drift "
        "and anomalies, alert.",
    )
    parser.add_argument("--config", help="YAML settings file (also LIGHTKEEPER_CONFIG)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(args.log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    # Every settings object the command builds (agent, worker, alerts...) reads the same file;
    # restored afterwards so an in-process caller's environment is left as it was.
    previous = os.environ.get("LIGHTKEEPER_CONFIG")
    if args.config:
        os.environ["LIGHTKEEPER_CONFIG"] = args.config
    try:
        return int(handler(args) or 0)
    except LightkeeperError as exc:
        print(f"lightkeeper: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if args.config:
            if previous is None:
                os.environ.pop("LIGHTKEEPER_CONFIG", None)
            else:
                os.environ["LIGHTKEEPER_CONFIG"] = previous


if __name__ == "__main__":
    sys.exit(main())
