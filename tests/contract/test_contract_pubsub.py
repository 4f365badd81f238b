"""Fan-out subscriptions and envelope fidelity."""

from __future__ import annotations

import time

from contract_support import BackendCaps, BusFactory, Recorder, eventually

from agent_os.bus import Delivery, Envelope


async def test_fanout_every_subscriber_gets_every_message(
    bus_factory: BusFactory, subject: str, backend_caps: BackendCaps
) -> None:
    bus_a, bus_b = await bus_factory(), await bus_factory()
    first, second = Recorder(), Recorder()
    await bus_a.subscribe(subject, first)
    await bus_b.subscribe(subject, second)
    sent = [f"m{i}".encode() for i in range(5)]
    for body in sent:
        await bus_a.publish(Envelope(subject, body))
    await eventually(
        lambda: len(first.deliveries) >= 5 and len(second.deliveries) >= 5,
        backend_caps.timeout,
        "both subscribers to get all five",
    )
    assert sorted(first.bodies) == sent
    assert sorted(second.bodies) == sent


async def test_fanout_sees_only_messages_published_after_subscribing(
    bus_factory: BusFactory, subject: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    await bus.publish(Envelope(subject, b"before"))
    rec = Recorder()
    await bus.subscribe(subject, rec)
    await bus.publish(Envelope(subject, b"after"))
    await eventually(lambda: b"after" in rec.bodies, backend_caps.timeout, "the later message")
    assert b"before" not in rec.bodies


async def test_envelope_fields_survive_the_trip(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder()
    await bus.subscribe(subject, rec, group=group)
    sent = Envelope(
        subject,
        bytes(range(256)) * 3,
        headers={"trace": "abc", "x-unicode": "é✓ ok"},
        key="k-1",
        deadline=time.time() + 60,
    )
    await bus.publish(sent)
    await eventually(lambda: len(rec.deliveries) == 1, backend_caps.timeout, "the message")
    got = rec.deliveries[0].envelope
    assert (got.subject, got.id, got.body, got.key) == (sent.subject, sent.id, sent.body, sent.key)
    assert dict(sent.headers).items() <= dict(got.headers).items()
    assert got.deadline is not None and sent.deadline is not None
    assert abs(got.deadline - sent.deadline) < 1e-3
    assert rec.deliveries[0].attempt == 1


async def test_fanout_handler_error_keeps_the_subscription(
    bus_factory: BusFactory, subject: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    seen: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.envelope.body)
        if delivery.envelope.body == b"bad":
            raise RuntimeError("handler bug")

    await bus.subscribe(subject, handler)
    await bus.publish(Envelope(subject, b"bad"))
    await bus.publish(Envelope(subject, b"good"))
    await eventually(lambda: b"good" in seen, backend_caps.timeout, "the message after the error")
    assert seen.count(b"bad") == 1
