"""Request / reply with deadlines and correlation ids."""

from __future__ import annotations

import asyncio
import time

import pytest
from contract_support import BackendCaps, BusFactory, eventually

from agent_os.bus import Bus, BusError, BusTimeout, Delivery, Envelope, NoResponders


async def _echo(bus: Bus, subject: str, group: str, hold: asyncio.Event | None = None) -> list[str]:
    """A worker-style responder (group consumer) replying ``re:<body>``; returns replied ids."""
    replied: list[str] = []

    async def handler(delivery: Delivery) -> None:
        if hold is not None and delivery.envelope.body == b"slow":
            await hold.wait()
        await bus.publish(delivery.envelope.reply(b"re:" + delivery.envelope.body))
        replied.append(delivery.envelope.id)
        await delivery.ack()

    await bus.subscribe(subject, handler, group=group)
    return replied


async def test_request_gets_its_reply(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    await _echo(await bus_factory(), subject, group)
    client = await bus_factory()
    request = Envelope(subject, b"ping", headers={"h": "v"})
    reply = await client.request(request, timeout=backend_caps.timeout)
    assert reply.body == b"re:ping"
    assert reply.correlation_id == request.id


async def test_request_times_out_cleanly_and_a_late_reply_is_dropped(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    hold = asyncio.Event()
    replied = await _echo(await bus_factory(), subject, group, hold)
    client = await bus_factory()
    slow = Envelope(subject, b"slow")
    deadline = backend_caps.request_timeout
    started = time.monotonic()
    with pytest.raises(BusTimeout) as caught:
        await client.request(slow, timeout=deadline)
    elapsed = time.monotonic() - started
    assert deadline * 0.9 <= elapsed < deadline + backend_caps.timeout
    assert caught.value.retryable and caught.value.code == "timeout"

    hold.set()  # now the late reply goes out to the client's reply subject
    await eventually(lambda: slow.id in replied, backend_caps.timeout, "the late reply")
    fresh = Envelope(subject, b"fast")
    reply = await client.request(fresh, timeout=backend_caps.timeout)
    assert (reply.correlation_id, reply.body) == (fresh.id, b"re:fast")


async def test_request_without_responders_fails(
    bus_factory: BusFactory, subject: str, backend_caps: BackendCaps
) -> None:
    client = await bus_factory()
    deadline = backend_caps.request_timeout
    started = time.monotonic()
    expected: type[BusError] = NoResponders if backend_caps.no_responders else BusTimeout
    with pytest.raises(expected) as caught:
        await client.request(Envelope(f"{subject}.nobody", b"hello?"), timeout=deadline)
    assert caught.value.retryable
    if backend_caps.no_responders:
        assert time.monotonic() - started < deadline, "NoResponders should not wait"


async def test_concurrent_requests_get_their_own_replies(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    await _echo(await bus_factory(), subject, group)
    await _echo(await bus_factory(), subject, group)
    client = await bus_factory()
    requests = [Envelope(subject, f"q{i}".encode()) for i in range(20)]
    replies = await asyncio.gather(
        *(client.request(r, timeout=backend_caps.timeout) for r in requests)
    )
    for request, reply in zip(requests, replies, strict=True):
        assert reply.correlation_id == request.id
        assert reply.body == b"re:" + request.body


async def test_a_reply_the_requester_refuses_does_not_end_the_wait(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    """Whoever answers first with garbage cannot end a request that checks its replies."""
    responder = await bus_factory()

    async def handler(delivery: Delivery) -> None:
        for body in (b"rogue-1", b"rogue-2", b"re:" + delivery.envelope.body):
            await responder.publish(delivery.envelope.reply(body))
        await delivery.ack()

    await responder.subscribe(subject, handler, group=group)
    client = await bus_factory()
    seen: list[bytes] = []

    def accept(reply: Envelope) -> bool:
        seen.append(reply.body)
        return reply.body.startswith(b"re:")

    request = Envelope(subject, b"ping")
    reply = await client.request(request, timeout=backend_caps.timeout, accept=accept)
    assert (reply.correlation_id, reply.body) == (request.id, b"re:ping")
    assert seen == [b"rogue-1", b"rogue-2", b"re:ping"]
    assert client.refused_replies == 2  # type: ignore[attr-defined]

    # Only refused replies: the wait ends at the timeout, not at the first reply.
    never = Envelope(subject, b"pong")
    with pytest.raises(BusTimeout):
        await client.request(never, timeout=backend_caps.request_timeout, accept=lambda r: False)
