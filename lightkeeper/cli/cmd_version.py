"""``lightkeeper version``."""

from __future__ import annotations

import argparse
import platform
from typing import Any

from lightkeeper import __version__
from lightkeeper.schemas.events import EVENT_SCHEMA_VERSION


def run(args: argparse.Namespace) -> int:
    python = platform.python_version()
    print(f"lightkeeper {__version__} (event schema v{EVENT_SCHEMA_VERSION}, python {python})")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("version", help="print the version")
    p.set_defaults(handler=run)
