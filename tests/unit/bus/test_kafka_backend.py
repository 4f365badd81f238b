"""Kafka-specific behaviour of the ``kafka://`` backend, against a real (Tansu) broker."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from agent_os.bus import (
    BusClosed,
    ConfigError,
    Delivery,
    Envelope,
    SubscribeOptions,
    connect,
)
from agent_os.bus.backends._kafka import KafkaBus
from agent_os.bus.backends._kafka_codec import topic_for
from tests.buses import BusOpener
from tests.eventually import eventually
from tests.servers import RunningServer, Servers

TIMEOUT = 20.0

Factory = Callable[..., Awaitable[KafkaBus]]


@pytest.fixture
def server(servers: Servers) -> RunningServer:
    return servers.get("kafka")


@pytest.fixture
def bus_factory(servers: Servers, open_bus: BusOpener) -> Factory:
    return open_bus.on(servers.bus_url("kafka"), KafkaBus)  # with short group joins


async def _topics(server: RunningServer) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=server.url.removeprefix("kafka://"))
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_fetch_max_wait_zero_is_refused(server: RunningServer) -> None:
    with pytest.raises(ConfigError, match="fetch_max_wait_ms"):
        await connect(server.url, fetch_max_wait_ms=0)


async def test_odd_subjects_map_to_escaped_topics_and_keep_their_name(
    bus_factory: Factory, server: RunningServer
) -> None:
    bus = await bus_factory()
    subject = f"odd subject/é_{uuid.uuid4().hex[:8]}"
    got: list[Envelope] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.envelope)

    await bus.subscribe(subject, handler)
    await bus.publish(Envelope(subject, b"hi", key="k"))
    await eventually(lambda: len(got) == 1, TIMEOUT, "the message")
    assert got[0].subject == subject
    assert topic_for(subject) in await _topics(server)


async def test_reply_topic_exists_while_requesting_and_is_deleted_on_close(
    bus_factory: Factory, server: RunningServer
) -> None:
    worker, client = await bus_factory(), await bus_factory()
    subject = f"t.{uuid.uuid4().hex[:12]}"

    async def echo(delivery: Delivery) -> None:
        await worker.publish(delivery.envelope.reply(delivery.envelope.body[::-1]))
        await delivery.ack()

    await worker.subscribe(subject, echo, group=f"g{uuid.uuid4().hex[:8]}")
    reply = await client.request(Envelope(subject, b"abc"), timeout=TIMEOUT)
    assert reply.body == b"cba"
    reply_topic = topic_for(client._reply_subject)
    assert reply_topic.startswith("agentos.reply.")
    assert reply_topic in await _topics(server)
    await client.close()
    assert reply_topic not in await _topics(server)
    with pytest.raises(BusClosed):
        await client.request(Envelope(subject, b"late"), timeout=1)


async def test_commits_stop_at_the_first_unsettled_offset(
    bus_factory: Factory, server: RunningServer
) -> None:
    """One key keeps both records on one partition: the first is never acked, the
    second is. Closing must not commit either, so the group reads both again."""
    subject, group = f"t.{uuid.uuid4().hex[:12]}", f"g{uuid.uuid4().hex[:8]}"
    worker = await bus_factory()
    seen: list[bytes] = []

    async def first_stalls(delivery: Delivery) -> None:
        seen.append(delivery.envelope.body)
        if delivery.envelope.body == b"second":
            await delivery.ack()

    options = SubscribeOptions(ack_wait=60)
    await worker.subscribe(subject, first_stalls, group=group, options=options)
    for body in (b"first", b"second"):
        await worker.publish(Envelope(subject, body, key="same"))
    await eventually(lambda: seen == [b"first", b"second"], TIMEOUT, "both records")
    await worker.close()

    committed = await _committed(server, subject, group)
    assert all(offset is None for offset in committed), committed

    again: list[bytes] = []

    async def record(delivery: Delivery) -> None:
        again.append(delivery.envelope.body)
        await delivery.ack()

    await (await bus_factory()).subscribe(subject, record, group=group)
    await eventually(
        lambda: again == [b"first", b"second"], TIMEOUT, "both records again, in order"
    )


async def test_acked_offsets_are_committed(bus_factory: Factory, server: RunningServer) -> None:
    subject, group = f"t.{uuid.uuid4().hex[:12]}", f"g{uuid.uuid4().hex[:8]}"
    worker = await bus_factory()
    done: list[bytes] = []

    async def ack(delivery: Delivery) -> None:
        await delivery.ack()
        done.append(delivery.envelope.body)

    await worker.subscribe(subject, ack, group=group)
    for i in range(5):
        await worker.publish(Envelope(subject, f"m{i}".encode(), key="one"))
    await eventually(lambda: len(done) == 5, TIMEOUT, "five acks")
    await worker.close()
    committed = await _committed(server, subject, group)
    assert sorted(c for c in committed if c is not None) == [5]


async def test_nack_reproduces_with_the_attempt_in_a_header(bus_factory: Factory) -> None:
    subject, group = f"t.{uuid.uuid4().hex[:12]}", f"g{uuid.uuid4().hex[:8]}"
    bus = await bus_factory()
    attempts: list[int] = []

    async def flaky(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt < 3:
            await delivery.nack("again")
        else:
            await delivery.ack()

    await bus.subscribe(subject, flaky, group=group, options=SubscribeOptions(max_deliver=5))
    await bus.publish(Envelope(subject, b"x"))
    await eventually(lambda: attempts == [1, 2, 3], TIMEOUT, "three attempts")


async def _committed(server: RunningServer, subject: str, group: str) -> list[int | None]:
    """The offsets ``group`` has committed on each partition of ``subject``'s topic."""
    topic = topic_for(subject)
    raw = AIOKafkaConsumer(bootstrap_servers=server.url.removeprefix("kafka://"), group_id=group)
    await raw.start()
    try:
        partitions = raw.partitions_for_topic(topic) or set()
        return [await raw.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await raw.stop()
