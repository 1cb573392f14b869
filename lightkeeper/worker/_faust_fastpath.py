"""Per-message cost of faust's delivery path, cut down for the worker's hot topics.

faust hands every consumed message through several layers (fetch loop -> conductor -> schema
decode -> channel queue -> stream -> take buffer -> ack), each with sensors and tasks. At
10,000 events/s that per-message work, not the pipeline, bounds one worker process. What is
here keeps faust's semantics (flow control, buffers, acks and offsets are still faust's own)
and removes work the worker does not need:

* :class:`AtLeastOnceConsumer` never acknowledges a message no stream took, and delivers a
  message to the stream buffer eagerly (no task and loop turn per message) when the delivery
  completes without waiting — the usual case; anything that would wait runs in faust's race
  against flow suspension, unchanged.
* :class:`RawSchema` builds the event from the message's key and value bytes without the
  serializer registry (the worker decodes the bytes itself, in batches).
* :class:`LeanApp` does not register faust's in-memory ``Monitor`` sensor, which records
  several timings per message for faust's web views (disabled in the worker); the worker
  exports its own Prometheus metrics. ``app.monitor`` still exists for faust's own calls.
* :func:`tune_gc` keeps the garbage collector from walking the worker's long-lived objects
  every few events.
* :func:`ack_events` acknowledges a stored batch in one pass under faust's ack lock
  (:meth:`AtLeastOnceConsumer.ack_messages`), without ``Event.ack``/``Message.ack``'s per-event
  calls and lock round trips.
* :class:`LeanProducer` gives the producer a buffer whose size (read by faust before every
  message is delivered, to wait for the producer buffer to ebb) does not go through faust's
  settings object each time.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
from collections.abc import Coroutine, Iterable
from importlib.metadata import version
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Consumer as _AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Producer as _AIOKafkaProducer
from faust.transport.producer import ProducerBuffer
from faust.types.tuples import ConsumerMessage
from mode.services import WaitResults
from mode.utils.futures import notify

from lightkeeper.errors import ConfigError

try:
    from faust.types.tuples import ack_lock as _ack_lock
except ImportError:  # refused at start-up by check_faust(): acks must share faust's lock
    _ack_lock = threading.RLock()

#: faust-streaming releases this module was measured and tested with.
TESTED_FAUST = "0.15"
#: The private parts of faust this module relies on: (where, attribute).
_RELIED_ON: tuple[tuple[Any, str], ...] = (
    (faust.types.tuples, "ack_lock"),
    (ConsumerMessage, "on_final_ack"),
    (_AIOKafkaConsumer, "wait_first"),
    (_AIOKafkaConsumer, "ack"),
    (faust.App, "on_init_dependencies"),
    (faust.Schema, "compile"),
    (ProducerBuffer, "size"),
)
_MESSAGE_SLOTS = ("acked", "refcount", "tracked", "tp", "offset", "topic")


def check_faust(app: Any) -> None:
    """Fail at start-up, with the faust version and what is missing, when the installed faust
    lacks a private part the fast path relies on (a faust upgrade that still has them all runs
    unchanged; the consumer's per-partition ack state is checked when it first acknowledges,
    falling back to faust's own per-message path when absent)."""
    missing = [
        f"{getattr(where, '__name__', where)}.{name}"
        for where, name in _RELIED_ON
        if not hasattr(where, name)
    ]
    slots = set(getattr(ConsumerMessage, "__slots__", ()))
    missing += [f"ConsumerMessage.{name}" for name in _MESSAGE_SLOTS if name not in slots]
    if "timeout" not in inspect.signature(_AIOKafkaConsumer.wait_first).parameters:
        missing.append("Consumer.wait_first(timeout=)")
    if not hasattr(app, "monitor") or not hasattr(app.conf, "Event"):
        missing.append("App.monitor / App.conf.Event")
    if missing:
        raise ConfigError(
            f"faust-streaming {version('faust-streaming')} lacks what the worker's fast path relies on "
            f"(tested with {TESTED_FAUST}.x): {', '.join(missing)}"
        )


class AtLeastOnceConsumer(_AIOKafkaConsumer):
    """faust's aiokafka consumer, except that it never acknowledges a message no stream took
    and hands messages to the streams without a task per message.

    During a rebalance faust skips the messages already buffered (flow control suspended or an
    old generation) and acknowledges them "so the lag does not grow"; that lets the offset be
    committed past events that were never stored, and the partition's next owner never sees
    them. Refusing those acks keeps the committed offset before them: after the rebalance the
    consumer seeks back to the committed offset and the events are delivered again."""

    def ack(self, message: Any) -> bool:
        if not message.tracked:
            return False
        return bool(super().ack(message))

    def ack_messages(self, messages: Iterable[Any]) -> int:
        """``message.ack(self)`` for each message (what ``Event.ack`` does), in one pass under
        faust's ack lock, with ``Message.ack`` and ``Consumer.ack`` inlined as faust's own
        Cython stream iterator inlines them: a message still referenced by another stream is
        only released (``refcount`` decremented); an untracked one is refused (see
        :meth:`ack`); the others are marked acknowledged and their offsets recorded for the
        commit. Returns how many offsets were recorded."""
        if not self._inline_acks_supported():
            recorded = 0
            for message in messages:  # faust's own path, message by message
                recorded += bool(message.ack(self))
            return recorded
        acks_enabled_for = self.app.topics.acks_enabled_for
        committed_offsets = self._committed_offset
        acked_indexes = self._acked_index
        acked_offsets = self._acked
        unacked = self._unacked_messages
        enabled: dict[str, bool] = {}
        recorded = 0
        with _ack_lock:
            try:
                for message in messages:
                    if message.acked:
                        continue
                    refcount = message.refcount = max(message.refcount - 1, 0)
                    if refcount:
                        continue
                    if type(message).on_final_ack is not ConsumerMessage.on_final_ack:
                        recorded += bool(message.on_final_ack(self))
                        continue
                    if not message.tracked:
                        continue
                    message.acked = True
                    topic = message.topic
                    acking = enabled.get(topic)
                    if acking is None:
                        acking = enabled[topic] = bool(acks_enabled_for(topic))
                    if not acking:
                        continue
                    tp = message.tp
                    offset = message.offset
                    committed = committed_offsets[tp]
                    if committed is None or offset >= committed:
                        index = acked_indexes[tp]
                        if offset not in index:
                            unacked.discard(message)
                            index.add(offset)
                            acked_offsets[tp].append(offset)
                            recorded += 1
            finally:
                self._n_acked += recorded
                if any(enabled.values()):
                    notify(self._waiting_for_ack)
        return recorded

    def _inline_acks_supported(self) -> bool:
        """Whether this faust has the consumer state :meth:`ack_messages` updates inline (it
        does for the versions pyproject.toml allows; checked once, so a faust that renamed
        them falls back to acknowledging message by message instead of failing)."""
        ok = self.__dict__.get("_lk_inline_acks")
        if ok is None:
            names = ("_committed_offset", "_acked_index", "_acked", "_unacked_messages", "_n_acked")
            ok = all(hasattr(self, n) for n in names) and hasattr(self, "_waiting_for_ack")
            self.__dict__["_lk_inline_acks"] = ok
        return bool(ok)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109
        """faust's fetch loop hands every message over with ``wait_first(callback(message),
        suspend_flow.wait())``: four tasks, ``asyncio.wait`` and three cancellations per
        message. Fast path: step the delivery coroutine directly; when it finishes without
        waiting (the stream buffer had room, flow not suspended: the usual case) that is the
        result the race would have found, with no task and no loop turn. When it waits (buffer
        full, flow control, producer buffer), the started coroutine is finished in a task that
        runs faust's full race against ``suspend_flow``, so nothing changes for those cases."""
        if (
            len(coros) != 2
            or timeout is not None
            or not asyncio.iscoroutine(coros[0])
            or self.suspend_flow.is_set()
            or self.should_stop
        ):
            return await super().wait_first(*coros, timeout=timeout)
        delivery, other = coros
        try:
            waiting_on = delivery.send(None)
        except StopIteration as done:
            _close(other)
            return WaitResults([delivery], [done.value], False)
        except BaseException:
            _close(other)  # the error propagates as the race would have propagated it
            raise
        task = asyncio.ensure_future(finish_started(delivery, waiting_on))
        return await super().wait_first(task, other)


def _close(awaitable: Any) -> None:
    if asyncio.iscoroutine(awaitable):
        awaitable.close()


async def finish_started(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Run ``coro`` — already started and suspended on ``waiting_on`` (what its last step
    yielded: a future, or ``None`` for a bare yield) — to its end, as its task would have:
    wait for the future, resume, repeat. Cancelling this coroutine cancels the awaited future
    and throws ``CancelledError`` into ``coro`` (its ``finally`` blocks run), like a task."""
    while True:
        cancelled: asyncio.CancelledError | None = None
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            elif asyncio.isfuture(waiting_on):
                waiting_on._asyncio_future_blocking = False
                await asyncio.wait((waiting_on,))
            else:
                coro.close()
                raise RuntimeError(f"delivery coroutine yielded {waiting_on!r}, not a future")
        except asyncio.CancelledError as exc:
            if asyncio.isfuture(waiting_on):
                waiting_on.cancel()
            cancelled = exc
        try:
            waiting_on = coro.send(None) if cancelled is None else coro.throw(cancelled)
        except StopIteration as done:
            if cancelled is not None:
                raise cancelled from None
            return done.value


class RawSchema(faust.Schema):
    """Events carry the message's key and value bytes as they are (no serializer registry
    lookup per message; the worker decodes values itself, in batches)."""

    def compile(self, app: Any, **kwargs: Any) -> Any:
        event_type = app.conf.Event  # looked up once: faust's settings object is slow to read

        async def decode(message: Any, *, propagate: bool = False) -> Any:
            return event_type(app, message.key, message.value, message.headers, message)

        return decode


class LeanApp(faust.App):
    """A faust app without the in-memory ``Monitor`` sensor (see the module docstring)."""

    def on_init_dependencies(self) -> Iterable[Any]:
        deps = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return deps


def ack_events(events: Iterable[Any], consumer: Any = None) -> None:
    """Acknowledge stored events: faust commits an offset once every earlier message of the
    partition is acknowledged. ``consumer`` is the app's consumer: an
    :class:`AtLeastOnceConsumer` acknowledges the batch in one pass (``ack_messages``);
    without one each event is acknowledged with ``Event.ack``."""
    if isinstance(consumer, AtLeastOnceConsumer):
        consumer.ack_messages([event.message for event in events])
        return
    for event in events:
        event.ack()


class LeanProducerBuffer(ProducerBuffer):
    """faust's producer buffer, sized without a settings lookup per call (see
    :class:`LeanProducer`)."""

    @property
    def size(self) -> int:
        """Messages waiting to be produced (``ProducerBuffer.size`` for a producer that is not
        threaded: the length of the pending queue)."""
        return len(self.pending._queue)  # type: ignore[attr-defined]


class LeanProducer(_AIOKafkaProducer):
    """faust's aiokafka producer with a :class:`LeanProducerBuffer` (unless the producer is
    threaded: faust's own buffer then reads the thread's queue). faust waits for the buffer to
    ebb before delivering every consumed message, and ``ProducerBuffer.size`` reads
    ``app.conf.producer_threaded`` through faust's slow settings object each time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if (
            type(self.buffer) is ProducerBuffer
            and not self.app.conf.producer_threaded
            and hasattr(getattr(self.buffer, "pending", None), "_queue")
        ):
            self.buffer.__class__ = LeanProducerBuffer


def tune_gc(young_threshold: int = 100_000) -> None:
    """Call once after start-up: move everything allocated so far (modules, settings, the
    pricing table) out of the collector's reach (``gc.freeze``) and collect the young
    generation every ``young_threshold`` net container allocations instead of 700. The worker
    allocates several dicts and lists per event, so with the defaults the collector ran every
    few events and its full passes walked every long-lived object each time. A young
    collection walks every live young object — mostly the rows of the batches in flight — so
    its cost hardly depends on the threshold: 100,000 runs it about once per 10,000 events
    (it was 20,000: five times as often for the same walk, ~3 µs per event)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)


__all__ = [
    "AtLeastOnceConsumer",
    "LeanApp",
    "LeanProducer",
    "LeanProducerBuffer",
    "RawSchema",
    "ack_events",
    "finish_started",
    "tune_gc",
]
