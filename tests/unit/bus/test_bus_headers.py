"""Bus-internal headers cannot be forged: publish refuses them, receivers do not trust them.

Where the broker itself counts deliveries (JetStream, Redis, SQS) the attempt
is the broker's. Where it does not (a NATS core queue group, a Kafka
re-produced redelivery) the bus writes the attempt and the origin in headers
that ``publish`` refuses from callers; a message that claims to be a
redelivery without the bus's origin token counts as a new message.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from agent_os.bus import Bus, Delivery, Envelope, MalformedEnvelope, SubscribeOptions, connect
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

RESERVED = {"nats": ["Agentos-Attempt", "agentos-origin", "Nats-Rollup"], "kafka": [":a", ":o"]}


@pytest.fixture
async def buses() -> AsyncIterator[list[Bus]]:
    opened: list[Bus] = []
    yield opened
    for bus in reversed(opened):
        await bus.close()


@pytest.mark.parametrize(
    ("backend", "header"),
    [(b, h) for b in selected_backends(("nats", "kafka")) for h in RESERVED[b]],
)
async def test_publish_refuses_a_bus_internal_header(
    backend: str, header: str, servers: Servers, buses: list[Bus]
) -> None:
    bus = await connect(servers.bus_url(backend))
    buses.append(bus)
    subject = f"t.{uuid.uuid4().hex[:12]}"
    with pytest.raises(MalformedEnvelope) as refused:
        await bus.publish(Envelope(subject, b"x", headers={header: "5"}))
    assert refused.value.code == "reserved_header"
    with pytest.raises(MalformedEnvelope):
        await bus.request(Envelope(subject, b"x", headers={header: "5"}), 1.0)


async def _record_then_nack(got: list[Delivery], delivery: Delivery) -> None:
    got.append(delivery)
    await delivery.nack("busy")


@pytest.mark.skipif("nats" not in selected_backends(), reason="nats not selected")
async def test_nats_fast_path_forged_attempt_is_not_a_redelivery_of_anything(
    servers: Servers, buses: list[Bus]
) -> None:
    """A raw publisher's ``Agentos-Attempt`` without the bus's origin token gets a fresh
    origin (a worker then checks its nonce as for any new message); the bus's own
    re-publish after a nack carries the first delivery's origin."""
    url = servers.bus_url("nats")
    bus = await connect(url, core_prefixes="fast.")
    buses.append(bus)
    fast = f"fast.t{uuid.uuid4().hex[:12]}"
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        await _record_then_nack(got, delivery)

    await bus.subscribe(fast, handler, group="g", options=SubscribeOptions(max_deliver=2))
    raw = Client()
    await raw.connect(servers.get("nats").url)
    try:
        await raw.publish(fast, b"forged", headers={"Agentos-Attempt": "2", "Nats-Msg-Id": "f"})
        await bus.publish(Envelope(fast, b"real"))
        await eventually(lambda: len(got) == 3, 10.0, "the forged message and two of the real")
    finally:
        await raw.close()
    forged = [d for d in got if d.envelope.body == b"forged"]
    real = [d for d in got if d.envelope.body == b"real"]
    assert [d.attempt for d in real] == [1, 2]
    assert real[0].origin is not None and real[1].origin == real[0].origin
    assert len(forged) == 1 and forged[0].origin not in (None, real[0].origin)
    assert all(not k.lower().startswith(("agentos-", "nats-")) for k in forged[0].envelope.headers)


@pytest.mark.skipif("kafka" not in selected_backends(), reason="kafka not selected")
async def test_kafka_redelivery_names_the_record_it_stands_for(
    servers: Servers, buses: list[Bus]
) -> None:
    bus = await connect(servers.bus_url("kafka"))
    buses.append(bus)
    subject, group = f"t.{uuid.uuid4().hex[:12]}", f"g{uuid.uuid4().hex[:12]}"
    got: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        await _record_then_nack(got, delivery)

    await bus.subscribe(subject, handler, group=group, options=SubscribeOptions(max_deliver=2))
    await bus.publish(Envelope(subject, b"job"))
    await eventually(lambda: len(got) == 2, 30.0, "a delivery and its redelivery")
    assert [d.attempt for d in got] == [1, 2]
    assert got[0].origin is not None and got[1].origin == got[0].origin
    assert got[1].envelope.headers == {}  # the origin rides in a pseudo-header, not the envelope's
