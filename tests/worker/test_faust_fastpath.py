"""The worker's faust fast path: eager delivery keeps faust's race semantics, the raw schema
hands bytes through, and the lean app drops only the in-memory Monitor sensor."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lightkeeper.worker._faust_fastpath import AtLeastOnceConsumer, LeanApp, RawSchema, finish_started


def bare_consumer() -> Any:
    """An AtLeastOnceConsumer with only what ``wait_first`` reads (no Kafka, no app)."""
    consumer: Any = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    consumer.suspend_flow = asyncio.Event()
    consumer._stopped = asyncio.Event()
    consumer._crashed = asyncio.Event()
    consumer._loop = asyncio.get_running_loop()
    return consumer


async def test_delivery_that_does_not_wait_completes_without_a_task() -> None:
    consumer = bare_consumer()
    tasks_before = len(asyncio.all_tasks())

    async def deliver() -> str:
        return "delivered"

    other = consumer.suspend_flow.wait()
    result = await consumer.wait_first(deliver(), other)
    assert result.results == ["delivered"]
    assert not result.stopped
    assert len(asyncio.all_tasks()) == tasks_before
    assert other.cr_frame is None  # the flow-suspension waiter was closed, not leaked


async def test_delivery_that_waits_is_finished_in_the_race() -> None:
    consumer = bare_consumer()
    room = asyncio.get_running_loop().create_future()

    async def deliver() -> str:
        await room  # a full buffer: waits until the stream takes something
        return "delivered after waiting"

    asyncio.get_running_loop().call_later(0.05, room.set_result, None)
    result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
    assert result.results == ["delivered after waiting"]


async def test_waiting_delivery_is_cancelled_when_flow_is_suspended() -> None:
    consumer = bare_consumer()
    never = asyncio.get_running_loop().create_future()
    cleaned_up = []

    async def deliver() -> None:
        try:
            await never
        finally:
            cleaned_up.append(True)

    asyncio.get_running_loop().call_later(0.05, consumer.suspend_flow.set)
    result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
    await asyncio.sleep(0)  # let the cancelled delivery task run its finally block
    assert result.results == [True]  # the suspension won the race
    assert cleaned_up == [True]
    assert never.cancelled()


async def test_delivery_errors_propagate_on_the_fast_path() -> None:
    consumer = bare_consumer()

    async def deliver() -> None:
        raise ValueError("bad message")

    other = consumer.suspend_flow.wait()
    with pytest.raises(ValueError, match="bad message"):
        await consumer.wait_first(deliver(), other)
    assert other.cr_frame is None


async def test_finish_started_resumes_a_suspended_coroutine_to_its_result() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()

    async def two_waits() -> int:
        a = await first
        await asyncio.sleep(0)
        b = await second
        return int(a + b)

    coro = two_waits()
    waiting_on = coro.send(None)
    assert waiting_on is first
    task = asyncio.ensure_future(finish_started(coro, waiting_on))
    first.set_result(2)
    await asyncio.sleep(0.01)
    assert not task.done()
    second.set_result(40)
    assert await task == 42


async def test_finish_started_passes_a_future_exception_into_the_coroutine() -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    async def handles() -> str:
        try:
            await fut
        except KeyError:
            return "handled"
        return "not reached"

    coro = handles()
    task = asyncio.ensure_future(finish_started(coro, coro.send(None)))
    fut.set_exception(KeyError("x"))
    assert await task == "handled"


def test_raw_schema_events_carry_the_message_bytes() -> None:
    app = LeanApp("fastpath-test", broker="kafka://localhost:1", store="memory://", autodiscover=False)
    decode = RawSchema(key_serializer="raw", value_serializer="raw").compile(app)

    class Msg:
        key = b"k"
        value = b'{"not": "decoded"}'
        headers = ()

    event = asyncio.run(decode(Msg()))
    assert event.key == b"k"
    assert event.value == b'{"not": "decoded"}'
    assert event.message is not None


def test_lean_app_drops_only_the_monitor_sensor() -> None:
    app = LeanApp("fastpath-test-2", broker="kafka://localhost:1", store="memory://", autodiscover=False)
    app.on_init_dependencies()
    assert app.monitor not in set(app.sensors)
    assert app.monitor is not None  # faust's own calls (app.monitor.on_tp_commit...) still work


def test_observe_many_equals_observing_each_value() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from lightkeeper.processors.metrics import observe_many

    values = [i / 100 for i in range(300)] + [0.1, 0.25, 0.0, 1e9]
    one, many = CollectorRegistry(), CollectorRegistry()
    h_one = Histogram("lat", "latency", registry=one, buckets=(0.1, 0.25, 0.5, 1, 2.5))
    h_many = Histogram("lat", "latency", registry=many, buckets=(0.1, 0.25, 0.5, 1, 2.5))
    for v in values:
        h_one.observe(v)
    observe_many(h_many, values)

    def lines(reg: CollectorRegistry) -> list[str]:
        return [ln for ln in generate_latest(reg).decode().splitlines() if "_created" not in ln]

    assert lines(one) == lines(many)
    assert 'lat_bucket{le="0.1"} 13.0' in lines(many)


def _acking_consumer() -> Any:
    """An AtLeastOnceConsumer with the state faust's ``Consumer.ack`` keeps (no Kafka)."""
    from collections import defaultdict
    from types import SimpleNamespace
    from weakref import WeakSet

    consumer: Any = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    consumer.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: topic != "noack"))
    consumer._committed_offset = defaultdict(lambda: None)
    consumer._acked_index = defaultdict(set)
    consumer._acked = defaultdict(list)
    consumer._n_acked = 0
    consumer._unacked_messages = WeakSet()
    consumer._waiting_for_ack = None
    return consumer


def _messages() -> list[Any]:
    from faust.types.tuples import ConsumerMessage

    out = []
    for i, (topic, partition, tracked, refcount) in enumerate(
        [
            ("t", 0, True, 1),
            ("t", 1, True, 1),
            ("t", 0, False, 1),  # skipped during a rebalance: never acknowledged
            ("t", 0, True, 2),  # also held by another stream: only released
            ("noack", 0, True, 1),  # a topic without acks: marked acked, no offset
            ("t", 1, True, 1),
            ("t", 2, True, 1),  # below the committed offset of its partition: not recorded
        ]
    ):
        m = ConsumerMessage(topic, partition, 10 + i, 0.0, 0, [], b"k", b"v", None)
        m.tracked = tracked
        m.refcount = refcount
        out.append(m)
    out[5].acked = True  # acknowledged before: left alone
    return out


def test_ack_messages_matches_acking_each_message() -> None:
    one, many = _acking_consumer(), _acking_consumer()
    each, batch = _messages(), _messages()
    for consumer, messages in ((one, each), (many, batch)):
        consumer._committed_offset[messages[6].tp] = 100
        consumer._unacked_messages.update(m for m in messages if m.tracked)
    for m in each:
        m.ack(one)
    assert many.ack_messages(batch) == 2
    state = [(m.acked, m.refcount) for m in each]
    assert state == [(m.acked, m.refcount) for m in batch]
    assert state == [(True, 0), (True, 0), (False, 0), (False, 1), (True, 0), (True, 1), (True, 0)]
    assert dict(one._acked) == dict(many._acked) == {each[0].tp: [10], each[1].tp: [11]}
    assert one._n_acked == many._n_acked == 2
    assert {m.offset for m in one._unacked_messages} == {m.offset for m in many._unacked_messages}
    assert {m.offset for m in many._unacked_messages} == {13, 14, 15, 16}
    # A second pass: only the message another stream held is released now, as with Message.ack.
    assert sum(bool(m.ack(one)) for m in each) == many.ack_messages(batch) == 1
    assert dict(one._acked) == dict(many._acked) == {each[0].tp: [10, 13], each[1].tp: [11]}
    assert [(m.acked, m.refcount) for m in each] == [(m.acked, m.refcount) for m in batch]


def test_ack_messages_falls_back_to_message_acks_without_faust_internals(monkeypatch: Any) -> None:
    """A faust whose consumer lacks the state ack_messages updates inline is detected, and its
    messages are acknowledged one by one through faust's own Message.ack, same result."""
    bare: Any = AtLeastOnceConsumer.__new__(AtLeastOnceConsumer)
    assert not bare._inline_acks_supported() and _acking_consumer()._inline_acks_supported()
    inline, fallback = _acking_consumer(), _acking_consumer()
    monkeypatch.setattr(fallback, "_inline_acks_supported", lambda: False)
    a, b = _messages(), _messages()
    for consumer, messages in ((inline, a), (fallback, b)):
        consumer._committed_offset[messages[6].tp] = 100
        consumer._unacked_messages.update(m for m in messages if m.tracked)
    assert inline.ack_messages(a) == fallback.ack_messages(b) == 2
    assert [(m.acked, m.refcount) for m in a] == [(m.acked, m.refcount) for m in b]
    assert dict(inline._acked) == dict(fallback._acked)


def test_lean_producer_buffer_size_is_the_pending_queue() -> None:
    from faust.transport.producer import ProducerBuffer

    from lightkeeper.worker._faust_fastpath import LeanProducer, LeanProducerBuffer

    app = LeanApp("fastpath-test-3", broker="kafka://localhost:1", store="memory://", autodiscover=False)
    app.transport.Producer = LeanProducer  # type: ignore[misc]
    buffer = app.producer.buffer
    assert type(buffer) is LeanProducerBuffer
    assert buffer.size == ProducerBuffer.size.fget(buffer) == 0  # type: ignore[attr-defined]
    buffer.pending.put_nowait(object())
    assert buffer.size == ProducerBuffer.size.fget(buffer) == 1  # type: ignore[attr-defined]

    threaded = LeanApp(
        "fastpath-test-4",
        broker="kafka://localhost:1",
        store="memory://",
        autodiscover=False,
        producer_threaded=True,
    )
    threaded.transport.Producer = LeanProducer  # type: ignore[misc]
    assert type(threaded.producer.buffer) is ProducerBuffer  # faust's own: it reads the thread's queue


def test_worker_start_fails_loudly_when_faust_lacks_what_the_fast_path_relies_on(
    monkeypatch: Any, tmp_path: Any
) -> None:
    """A faust upgrade that drops a private part the fast path uses stops the worker at start-up
    with the faust version and the missing names, instead of failing or misbehaving later."""
    import faust.types.tuples

    from lightkeeper.errors import ConfigError
    from lightkeeper.processors.settings import WorkerSettings
    from lightkeeper.worker.faust_app import create_worker

    settings = WorkerSettings.load(data_dir=tmp_path, kafka__bootstrap_servers="localhost:1")
    monkeypatch.delattr(faust.types.tuples, "ack_lock")
    with pytest.raises(ConfigError, match=r"faust-streaming \S+ lacks .*faust\.types\.tuples\.ack_lock"):
        create_worker(settings, client=None)


def test_check_faust_accepts_the_installed_faust() -> None:
    from lightkeeper.worker._faust_fastpath import check_faust

    app = LeanApp("fastpath-test-3", broker="kafka://localhost:1", store="memory://", autodiscover=False)
    check_faust(app)
