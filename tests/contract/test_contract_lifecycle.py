"""Payload limits, close / drain, and connect errors."""

from __future__ import annotations

import asyncio

import pytest
from contract_support import ALL_BACKENDS, BackendCaps, BusFactory, Recorder, eventually

from agent_os.bus import (
    BusClosed,
    ConfigError,
    ConnectError,
    Delivery,
    Envelope,
    PayloadTooLarge,
    SubscribeOptions,
    UnknownScheme,
    connect,
)
from tests.servers import free_port


async def test_oversized_payload_is_refused(
    bus_factory: BusFactory, subject: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder()
    await bus.subscribe(subject, rec)
    huge = Envelope(subject, b"x" * (bus.max_payload + 1))
    with pytest.raises(PayloadTooLarge):
        await bus.publish(huge)
    with pytest.raises(PayloadTooLarge):
        await bus.request(huge, timeout=backend_caps.request_timeout)
    await bus.publish(Envelope(subject, b"small"))  # the bus is still usable
    await eventually(lambda: rec.bodies == [b"small"], backend_caps.timeout, "small message")


async def test_close_is_idempotent_and_final(bus_factory: BusFactory, subject: str) -> None:
    bus = await bus_factory()
    await bus.subscribe(subject, Recorder())
    await bus.close()
    await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish(Envelope(subject, b"late"))
    with pytest.raises(BusClosed):
        await bus.subscribe(subject, Recorder())
    with pytest.raises(BusClosed):
        await bus.request(Envelope(subject, b"late"), timeout=1.0)


async def test_close_drains_in_flight_work_and_keeps_its_acks(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    worker = await bus_factory()
    started, release = asyncio.Event(), asyncio.Event()
    acked: list[str] = []

    async def handler(delivery: Delivery) -> None:
        started.set()
        await release.wait()
        await delivery.ack()
        acked.append(delivery.envelope.id)

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait * 2)
    await worker.subscribe(subject, handler, group=group, options=options)
    sent = Envelope(subject, b"in-flight")
    await (await bus_factory()).publish(sent)
    await asyncio.wait_for(started.wait(), backend_caps.timeout)

    closing = asyncio.create_task(worker.close())
    done, _ = await asyncio.wait({closing}, timeout=0.05)
    assert not done, "close() returned while a handler was still running"
    release.set()
    await asyncio.wait_for(closing, backend_caps.timeout)
    assert acked == [sent.id]

    successor = Recorder()
    await (await bus_factory()).subscribe(subject, successor, group=group, options=options)
    await asyncio.sleep(max(backend_caps.quiet, backend_caps.ack_wait * 2.5))
    assert successor.ids == [], "acknowledged work was delivered again"


async def test_published_work_survives_the_publisher_closing(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    publisher = await bus_factory()
    sent = [Envelope(subject, f"job-{i}".encode()) for i in range(10)]
    for envelope in sent:
        await publisher.publish(envelope)
    await publisher.close()
    rec = Recorder()
    await (await bus_factory()).subscribe(subject, rec, group=group)
    await eventually(lambda: len(set(rec.ids)) >= 10, backend_caps.timeout, "all ten jobs")
    assert set(rec.ids) == {e.id for e in sent}


async def test_unknown_scheme_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownScheme) as caught:
        await connect("carrier-pigeon://coop:1")
    for name in ALL_BACKENDS:
        assert name in str(caught.value)


_UNREACHABLE = {
    "nats": "nats://127.0.0.1:{port}",
    "redis": "redis://127.0.0.1:{port}/0",
    "kafka": "kafka://127.0.0.1:{port}",
    "sqs": "sqs://us-east-1/agentos?endpoint_url=http://127.0.0.1:{port}&max_attempts=1",
}
_CREDENTIALS = {"sqs": {"aws_access_key_id": "test", "aws_secret_access_key": "test"}}


async def test_an_unreachable_server_is_a_retryable_connect_error(backend: str) -> None:
    if backend not in _UNREACHABLE:
        pytest.skip(f"{backend} has no server to be unreachable")
    url = _UNREACHABLE[backend].format(port=free_port())
    with pytest.raises(ConnectError) as caught:
        await asyncio.wait_for(connect(url, **_CREDENTIALS.get(backend, {})), 60)
    assert caught.value.retryable and caught.value.code == "bus_unavailable"


async def test_settling_after_close_raises_bus_closed(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    held = Recorder(ack=False)
    await bus.subscribe(subject, held, group=group, options=SubscribeOptions(ack_wait=30))
    await (await bus_factory()).publish(Envelope(subject, b"held"))
    await eventually(lambda: len(held.deliveries) == 1, backend_caps.timeout, "the delivery")
    await bus.close()
    for settle in (held.deliveries[0].ack(), held.deliveries[0].nack("late")):
        with pytest.raises(BusClosed):
            await settle


async def test_bad_subscribe_options_raise_config_error(
    bus_factory: BusFactory, subject: str, group: str
) -> None:
    bus = await bus_factory()
    for bad in (
        SubscribeOptions(concurrency=0),
        SubscribeOptions(max_deliver=0),
        SubscribeOptions(ack_wait=0),
    ):
        with pytest.raises(ConfigError):
            await bus.subscribe(subject, Recorder(), group=group, options=bad)
