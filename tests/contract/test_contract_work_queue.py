"""Work-queue groups: competing consumers, retention, ack / nack, concurrency, order."""

from __future__ import annotations

import asyncio
import time

import pytest
from contract_support import BackendCaps, BusFactory, Recorder, eventually

from agent_os.bus import Delivery, Envelope, SubscribeOptions


async def test_competing_consumers_share_the_work(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    publisher = await bus_factory()
    first, second = Recorder(), Recorder()
    await (await bus_factory()).subscribe(subject, first, group=group)
    await (await bus_factory()).subscribe(subject, second, group=group)
    sent: list[str] = []
    # Publish in rounds until both consumers got some: "enough messages" differs by
    # backend (Kafka spreads by partition, others round robin).
    for round_no in range(20):
        for i in range(10):
            envelope = Envelope(subject, f"r{round_no}-{i}".encode())
            sent.append(envelope.id)
            await publisher.publish(envelope)
        await eventually(
            lambda: set(sent) <= set(first.ids) | set(second.ids),
            backend_caps.timeout,
            "every published message to reach a consumer",
        )
        if first.ids and second.ids:
            break
    assert first.ids and second.ids, "one consumer got all the work"
    assert not set(first.ids) & set(second.ids), "a message went to both consumers"
    if not backend_caps.may_duplicate:
        assert sorted(first.ids + second.ids) == sorted(sent)


async def test_messages_published_before_the_first_consumer_are_kept(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    publisher = await bus_factory()
    sent = [Envelope(subject, f"early-{i}".encode()) for i in range(3)]
    for envelope in sent:
        await publisher.publish(envelope)
    rec = Recorder()
    await (await bus_factory()).subscribe(subject, rec, group=group)
    await eventually(lambda: len(set(rec.ids)) >= 3, backend_caps.timeout, "retained messages")
    assert set(rec.ids) == {e.id for e in sent}


async def test_acked_message_is_not_redelivered(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder()
    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    await bus.subscribe(subject, rec, group=group, options=options)
    await bus.publish(Envelope(subject, b"once"))
    await eventually(lambda: len(rec.deliveries) == 1, backend_caps.timeout, "the message")
    # Semantics are "nothing arrives": wait past the ack_wait a lost ack would trip.
    await asyncio.sleep(max(backend_caps.quiet, 2 * backend_caps.ack_wait))
    assert rec.attempts == [1]


async def test_nack_redelivers_with_the_next_attempt(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder(ack=False)

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if delivery.attempt == 1:
            await delivery.nack("try_again")
        else:
            await delivery.ack()

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    await bus.subscribe(subject, handler, group=group, options=options)
    sent = Envelope(subject, b"flaky")
    await bus.publish(sent)
    await eventually(lambda: len(rec.deliveries) >= 2, backend_caps.timeout, "the redelivery")
    assert rec.attempts[:2] == [1, 2]
    assert [e.id for e in rec.envelopes()[:2]] == [sent.id, sent.id]
    assert rec.bodies[1] == b"flaky"


async def test_nack_delay_is_honoured(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    delay = backend_caps.ack_wait
    rec = Recorder(ack=False)
    nacked_at: list[float] = []

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if delivery.attempt == 1:
            nacked_at.append(time.monotonic())
            await delivery.nack("later", delay=delay)
        else:
            await delivery.ack()

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait * 4)
    await bus.subscribe(subject, handler, group=group, options=options)
    await bus.publish(Envelope(subject, b"delayed"))
    await eventually(lambda: len(rec.deliveries) >= 2, backend_caps.timeout, "the redelivery")
    assert rec.times[1] - nacked_at[0] >= delay * 0.9


async def test_handler_error_nacks_and_the_subscription_survives(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder(ack=False)

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if delivery.envelope.body == b"bad" and delivery.attempt == 1:
            raise RuntimeError("handler bug")
        await delivery.ack()

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    await bus.subscribe(subject, handler, group=group, options=options)
    await bus.publish(Envelope(subject, b"bad"))
    await bus.publish(Envelope(subject, b"good"))
    await eventually(
        lambda: b"good" in rec.bodies and rec.bodies.count(b"bad") >= 2,
        backend_caps.timeout,
        "the next message and the failed one redelivered",
    )
    bad_attempts = [d.attempt for d in rec.deliveries if d.envelope.body == b"bad"]
    assert bad_attempts[:2] == [1, 2]


async def test_concurrency_is_capped_per_subscription(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    release = asyncio.Event()
    active = 0
    peak = 0
    done: list[str] = []

    async def handler(delivery: Delivery) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await release.wait()
        finally:
            active -= 1
        done.append(delivery.envelope.id)
        await delivery.ack()

    options = SubscribeOptions(concurrency=2, ack_wait=60)
    await bus.subscribe(subject, handler, group=group, options=options)
    for i in range(6):
        await bus.publish(Envelope(subject, f"job-{i}".encode()))
    await eventually(lambda: active == 2, backend_caps.timeout, "two handlers in flight")
    await asyncio.sleep(backend_caps.quiet)  # nothing more may start while both are busy
    assert peak == 2
    release.set()
    await eventually(lambda: len(set(done)) == 6, backend_caps.timeout, "all six jobs")
    assert peak == 2


async def test_messages_with_one_key_are_handled_in_order(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    if not backend_caps.per_key_order:
        pytest.skip(f"{backend_caps.name} does not promise per-key ordering")
    publisher = await bus_factory()
    finished: list[tuple[str, int]] = []
    busy: set[str] = set()
    overlaps: list[str] = []

    async def handler(delivery: Delivery) -> None:
        key, seq = delivery.envelope.body.decode().split(":")
        if key in busy:
            overlaps.append(f"{key}:{seq}")
        busy.add(key)
        # Uneven work: later messages would overtake earlier ones if run side by side.
        await asyncio.sleep(0.001 * (3 - int(seq) % 3))
        busy.discard(key)
        finished.append((key, int(seq)))
        await delivery.ack()

    options = SubscribeOptions(concurrency=8)
    for _ in range(2):
        await (await bus_factory()).subscribe(subject, handler, group=group, options=options)
    keys = ["a", "b", "c"]
    for seq in range(10):
        for key in keys:
            await publisher.publish(Envelope(subject, f"{key}:{seq}".encode(), key=key))
    await eventually(lambda: len(finished) >= 30, backend_caps.timeout, "thirty messages")
    assert overlaps == [], "two messages of one key were in flight at once"
    for key in keys:
        assert [s for k, s in finished if k == key] == list(range(10)), key
