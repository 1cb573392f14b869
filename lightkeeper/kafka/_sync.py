"""Run a coroutine to completion from synchronous code, even inside a running event loop.

The coroutine runs on a private event loop in a short-lived thread, so sync callers (fixtures,
CLI handlers, the broker's readiness check) need not care whether a loop is already running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(factory: Callable[[], Awaitable[T]], timeout_s: float | None = None) -> T:
    """Run ``factory()`` on a fresh loop in a worker thread and return its result (or raise)."""
    result: dict[str, Any] = {}

    def target() -> None:
        async def main() -> T:
            return await factory()

        try:
            result["value"] = asyncio.run(main())
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, name="lightkeeper-kafka-sync", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"operation did not finish within {timeout_s}s")
    if "error" in result:
        raise result["error"]
    return result["value"]


async def broker_ready(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """Whether a real client can fetch cluster metadata listing at least one broker."""
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return bool(client.cluster.brokers())
    except Exception:
        return False
    finally:
        await client.close()


def probe(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """Blocking :func:`broker_ready`."""
    return run_sync(lambda: broker_ready(bootstrap, timeout_s), timeout_s + 5)
