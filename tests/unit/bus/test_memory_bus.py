"""What only the memory backend can show: broker naming, buffers, internal state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from agent_os.bus import (
    ConfigError,
    Delivery,
    Envelope,
    NoResponders,
    SubscribeOptions,
    connect,
)
from agent_os.bus.backends._memory import MemoryBus, reset_memory_brokers
from tests.eventually import eventually


@pytest.fixture(autouse=True)
async def _fresh_brokers() -> AsyncIterator[None]:
    reset_memory_brokers()
    yield
    reset_memory_brokers()


async def test_anonymous_brokers_are_private() -> None:
    a, b = await connect("memory://"), await connect("memory://")
    got: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.envelope.body)

    await b.subscribe("s", handler)
    await a.publish(Envelope("s", b"x"))
    await b.publish(Envelope("s", b"y"))
    await eventually(lambda: got == [b"y"], 2.0, "only its own message")
    await asyncio.sleep(0.02)
    assert got == [b"y"]
    await a.close()
    await b.close()


async def test_named_brokers_are_shared_until_reset() -> None:
    a = await connect("memory://shared")
    b = await connect("memory://shared")
    got: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.envelope.body)
        await delivery.ack()

    await b.subscribe("s", handler, group="g")
    await a.publish(Envelope("s", b"x"))
    await eventually(lambda: got == [b"x"], 2.0, "the message on the shared broker")
    reset_memory_brokers()
    c = await connect("memory://shared")
    await c.publish(Envelope("s", b"after-reset"))
    await asyncio.sleep(0.02)
    assert got == [b"x"]
    for bus in (a, b, c):
        await bus.close()


async def test_timed_out_request_leaves_no_waiter_and_late_reply_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = await connect("memory://")
    assert isinstance(bus, MemoryBus)
    held: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        held.append(delivery)

    await bus.subscribe("svc", handler)
    request = Envelope("svc", b"q")
    with pytest.raises(Exception, match="no reply"):
        await bus.request(request, timeout=0.02)
    assert len(bus._waiters) == 0
    caplog.set_level(logging.DEBUG, logger="agent_os.bus")
    await bus.publish(held[0].envelope.reply(b"late"))
    await eventually(lambda: "dropped reply" in caplog.text, 2.0, "the late reply dropped")
    assert held[0].envelope.reply_to is not None
    assert held[0].envelope.deadline is not None  # request() stamps a deadline
    await bus.close()


async def test_no_responders_when_the_group_has_no_live_consumer() -> None:
    bus = await connect("memory://")
    sub = await bus.subscribe("svc", _ack, group="workers")
    await sub.unsubscribe()
    with pytest.raises(NoResponders):
        await bus.request(Envelope("svc", b"q"), timeout=1)
    await bus.close()


async def _ack(delivery: Delivery) -> None:
    await delivery.ack()


async def test_slow_fanout_subscriber_has_a_bounded_buffer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = await connect("memory://", max_pending=3)
    release = asyncio.Event()
    got: list[bytes] = []

    async def slow(delivery: Delivery) -> None:
        await release.wait()
        got.append(delivery.envelope.body)

    await bus.subscribe("s", slow, options=SubscribeOptions(concurrency=1))
    for i in range(10):
        await bus.publish(Envelope("s", str(i).encode()))
    assert "slow consumer" in caplog.text
    release.set()
    await eventually(lambda: len(got) == 4, 2.0, "four deliveries")
    assert got == [b"0", b"7", b"8", b"9"]  # one in flight, the newest three buffered
    await bus.close()


async def test_retention_before_any_group_is_bounded() -> None:
    bus = await connect("memory://", max_retained=2)
    for i in range(5):
        await bus.publish(Envelope("s", str(i).encode()))
    got: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.envelope.body)
        await delivery.ack()

    await bus.subscribe("s", handler, group="g")
    await eventually(lambda: len(got) == 2, 2.0, "two deliveries")
    assert got == [b"3", b"4"]
    await bus.close()


async def test_close_cancels_a_stuck_handler_after_the_grace_and_requeues_its_work() -> None:
    worker = await connect("memory://grace", drain_timeout=0.05)
    other = await connect("memory://grace")
    cancelled = asyncio.Event()

    async def stuck(delivery: Delivery) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    attempts: list[int] = []

    async def healthy(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        await delivery.ack()

    await worker.subscribe("s", stuck, group="g")
    await other.publish(Envelope("s", b"job"))
    await asyncio.wait_for(worker.close(), 1.0)
    assert cancelled.is_set()
    await other.subscribe("s", healthy, group="g")
    await eventually(lambda: attempts == [2], 2.0, "the requeued work as attempt 2")
    await other.close()


async def test_options_from_url_and_unknown_options() -> None:
    bus = await connect("memory://opts?max_payload=1000")
    assert bus.max_payload == 1000
    await bus.close()
    with pytest.raises(ConfigError):
        await connect("memory://?max_payload=lots")
