"""The embedded runtime: agent + processors + embedded store in one asyncio process.

The agent (``lightkeeper.agent.app``) publishes into an :class:`EventQueue` instead of Kafka; a processor
task takes batches from it (at most ``batch_max`` within ``batch_within_s``, fewer when the stages
are slow: :class:`~lightkeeper.runtime._batch_size.BatchSizer` keeps a batch near ``batch_target_s``
of processing), runs the same :class:`Pipeline` and :class:`Sink` into the same tables,
and acknowledges (releases spooled records) only after the insert. Dead letters go to
``<data_dir>/dead-letters.jsonl`` (there is no Kafka topic here).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import orjson

from lightkeeper.agent.settings import AgentSettings
from lightkeeper.processors.pipeline import Batch, DeadLetter, Pipeline, RawEvent
from lightkeeper.processors.settings import WorkerSettings
from lightkeeper.processors.sink import Sink
from lightkeeper.runtime._batch_size import BatchSizer
from lightkeeper.runtime._queue import EventQueue
from lightkeeper.settings import make_private_dir

log = logging.getLogger(__name__)


class EmbeddedRuntime:
    """Start with :meth:`start`, stop with :meth:`stop` (drains the queue first).

    ``stages`` overrides the stages built from ``worker.stages``; ``client`` an already open
    store client (tests share the session's embedded store); ``query_port`` the port of the
    read-only SQL endpoint for ``lightkeeper sql`` (0: any free port, None: no endpoint)."""

    def __init__(
        self,
        agent: AgentSettings,
        worker: WorkerSettings,
        *,
        client: Any = None,
        stages: list[Any] | None = None,
        queue_max: int = 50_000,
        query_port: int | None = 0,
    ) -> None:
        self.agent_settings = agent
        self.worker_settings = worker
        self.client = client
        self._stages = stages
        self.data_dir = Path(worker.data_dir)
        self.queue = EventQueue(queue_max, self.data_dir / "runtime" / "overflow")
        self.pipeline: Pipeline | None = None
        self.sink: Sink | None = None
        self.port: int | None = None
        self.stored = 0
        self.dead = 0
        self.batches = 0
        self._runner: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._batch_hooks: list[Any] = []
        self._query_port = query_port
        self.query_endpoint: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.agent_settings.host}:{self.port}"

    def on_batch(self, hook: Any) -> None:
        """Call ``hook(batch)`` after each stored batch (summaries, alerting, tests)."""
        self._batch_hooks.append(hook)

    async def start(self) -> None:
        from lightkeeper.agent.app import serve
        from lightkeeper.processors.enrich import Enricher
        from lightkeeper.processors.metrics import WorkerMetrics
        from lightkeeper.store import connect
        from lightkeeper.store.migrate import migrate
        from lightkeeper.worker.stages import build_stages

        w = self.worker_settings
        if self.client is None:
            self.client = await asyncio.to_thread(connect, w.store_url, w.store.database)
            await asyncio.to_thread(
                lambda: migrate(self.client, w.store.database, w.store.cluster, **w.store.migrate_kwargs())
            )
        stages = self._stages if self._stages is not None else await asyncio.to_thread(build_stages, w)
        from lightkeeper.processors.erased import for_settings

        erased = await asyncio.to_thread(for_settings, w, self.client)
        self.pipeline = Pipeline(
            Enricher(w.pricing_table(), estimate=w.estimate_tokens), stages, erased=erased
        )
        self._start_dispatchers(stages, w.store.database)
        self.sink = Sink(
            self.client,
            database=w.store.database,
            metrics=WorkerMetrics(),
            retry_initial_s=w.retry_initial_s,
            retry_max_s=w.retry_max_s,
        )
        await self.queue.start()
        self._task = asyncio.create_task(self._consume(), name="lightkeeper-processors")
        self._runner, self.port = await serve(self.agent_settings, self.queue)
        await self._start_query_endpoint()
        log.info(
            "embedded runtime: agent on %s, store %s, stages %s",
            self.url,
            w.store_url,
            [s.name for s in self.pipeline.stages],
        )

    async def _start_query_endpoint(self) -> None:
        """The read-only SQL endpoint for ``lightkeeper sql`` (embedded store only; ``query_port``
        None: off). Failing to start it is logged; the runtime runs on."""
        from lightkeeper.runtime.query_endpoint import QueryEndpoint
        from lightkeeper.store.client import chdb_path

        w = self.worker_settings
        if self._query_port is None or chdb_path(w.store_url) in (None, ":memory:"):
            return
        from lightkeeper.runtime.sql_tokens import TOKENS_FILE, load_tokens

        try:
            tokens = load_tokens(self.data_dir / TOKENS_FILE)
        except Exception:
            log.exception("named SQL tokens not loaded; only the per-start token works")
            tokens = []
        endpoint = QueryEndpoint(
            w.store_url, w.store.database, self.data_dir, port=self._query_port, tokens=tokens
        )
        try:
            await endpoint.start()
        except Exception:
            log.exception("the read-only SQL endpoint did not start; `lightkeeper sql` cannot reach it")
            return
        self.query_endpoint = endpoint

    def _start_dispatchers(self, stages: list[Any], database: str) -> None:
        """Alert notifications: each stage with a dispatcher delivers its outbox in a task."""
        self._dispatch_stop = asyncio.Event()
        self._dispatch_tasks: list[asyncio.Task[None]] = []
        for stage in stages:
            if getattr(stage, "dispatcher", None) is None:
                continue
            stage.attach_store(self.client, database)
            self._dispatch_tasks.append(
                asyncio.create_task(stage.run_dispatcher(self._dispatch_stop), name="lightkeeper-alerts")
            )

    async def wait_idle(self, stall_s: float = 60.0) -> None:
        """Wait until every submitted event went through the processors; fails after
        ``stall_s`` seconds without progress."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + stall_s
        seen = self.stored + self.dead
        while len(self.queue) or self._in_flight:
            if self.stored + self.dead != seen:
                seen = self.stored + self.dead
                deadline = loop.time() + stall_s
            if loop.time() > deadline:
                raise TimeoutError(
                    f"{len(self.queue) + self._in_flight} events not processed after {stall_s}s"
                )
            self._idle.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), 0.2)

    async def stop(self, drain_timeout: float = 60.0) -> None:
        """Stop the agent, process what is queued, stop the processors."""
        if self.query_endpoint is not None:
            await self.query_endpoint.stop()
            self.query_endpoint = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        try:
            await self.wait_idle(drain_timeout)
        except TimeoutError:
            saved = self.queue.persist_pending()
            log.warning("store not draining: %d queued events saved to the overflow spool", saved)
        if self.pipeline is not None and self.sink is not None:
            final = await asyncio.to_thread(self.pipeline.finish)
            if any(final.rows.values()):
                await self.sink.store(final, should_stop=lambda: True)
                await self._run_hooks(final)
        self._stopping = True
        if getattr(self, "_dispatch_tasks", None):
            self._dispatch_stop.set()
            await asyncio.gather(*self._dispatch_tasks, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.sink is not None:
            self.sink.close()
        self.queue.close()

    async def _consume(self) -> None:
        w = self.worker_settings
        assert self.pipeline is not None and self.sink is not None
        sizer = BatchSizer(w.batch_max, w.batch_target_s)
        while not self._stopping:
            taken = await self.queue.take(sizer.next_size(), w.batch_within_s)
            if not taken.records:
                self._idle.set()
                continue
            self._in_flight = len(taken.records)
            try:
                started = time.monotonic()
                raws = [RawEvent(v, k, "embedded", 0, -1) for k, v in taken.records]
                batch = await asyncio.to_thread(self.pipeline.process, raws)
                processed = time.monotonic()
                stored = await self.sink.store(batch, should_stop=lambda: self._stopping)
                if not stored:
                    self.queue.requeue(taken)
                    return
                sizer.observe(len(raws), processed - started, time.monotonic() - processed)
                self.queue.commit(taken)
                await asyncio.to_thread(self._write_dead_letters, batch.dead)
                self.stored += len(batch.events)
                self.dead += len(batch.dead)
                self.batches += 1
                await self._run_hooks(batch)
            except asyncio.CancelledError:
                self.queue.requeue(taken)
                raise
            except Exception:
                log.exception("processing a batch of %d events failed; retrying it", len(taken.records))
                self.queue.requeue(taken)
                await asyncio.sleep(1.0)
            finally:
                self._in_flight = 0
                self._idle.set()

    async def _run_hooks(self, batch: Batch) -> None:
        for hook in self._batch_hooks:
            try:
                result = hook(batch)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("batch hook failed")

    def _write_dead_letters(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        path = self.data_dir / "dead-letters.jsonl"
        make_private_dir(path.parent)
        with path.open("ab") as out:
            for d in dead:
                out.write(
                    orjson.dumps(
                        {
                            "reason": d.reason,
                            "stage": d.stage,
                            "value_b64": base64.b64encode(d.value).decode(),
                        }
                    )
                    + b"\n"
                )


def batch_summary(batch: Batch) -> dict[str, int]:
    """Counts of one processed batch (for progress displays)."""
    return {
        "events": len(batch.events),
        "dead": len(batch.dead),
        **{f"rows_{table}": len(rows) for table, rows in batch.rows.items()},
    }
