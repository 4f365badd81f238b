"""Redis-specific behaviour of the ``redis://`` backend, against a real server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from agent_os.bus import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    BusClosed,
    BusError,
    ConnectError,
    Delivery,
    Envelope,
    SubscribeOptions,
    connect,
)
from agent_os.bus.backends._redis import RedisBus
from agent_os.bus.backends._redis_batch import CommandBatcher
from tests.buses import BusOpener
from tests.eventually import eventually
from tests.servers import RunningServer, Servers
from tests.servers import redis as redis_server


@pytest.fixture
def server(servers: Servers) -> RunningServer:
    return servers.get("redis")


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(server.url)
    try:
        yield client
    finally:
        await client.aclose()


Buses = Callable[..., Awaitable[RedisBus]]


@pytest.fixture
def buses(server: RunningServer, open_bus: BusOpener) -> Buses:
    """``await buses(**options)`` → a RedisBus on the session's server, closed at test end."""
    return open_bus.on(server.url, RedisBus)


@pytest.fixture
def subject() -> str:
    return f"t.{uuid.uuid4().hex[:12]}"


def _collect(into: list[Delivery], *, ack: bool = True) -> object:
    async def handler(delivery: Delivery) -> None:
        into.append(delivery)
        if ack:
            await delivery.ack()

    return handler


async def test_subject_is_a_stream_under_the_prefix_with_one_field_per_part(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    bus = await buses(prefix="myapp:")
    sent = Envelope(subject, b"\x00body", headers={"trace": "t1"}, key="k", deadline=12.5)
    await bus.publish(sent)
    entries = await raw.xrange(f"myapp:{subject}")
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"b"] == b"\x00body"
    assert fields[b"i"] == sent.id.encode()
    assert fields[b"h:trace"] == b"t1"
    assert (fields[b"k"], fields[b"d"]) == (b"k", b"12.5")
    assert not await raw.exists(f"agentos:{subject}")


async def test_options_come_from_the_url_query_too(
    server: RunningServer, open_bus: BusOpener, raw: aioredis.Redis, subject: str
) -> None:
    bus = await open_bus(f"{server.url}?prefix=q:&max_payload=4096")
    assert bus.max_payload == 4096
    await bus.publish(Envelope(subject, b"x"))
    assert await raw.xlen(f"q:{subject}") == 1


async def test_group_is_created_at_id_zero_so_earlier_messages_are_delivered(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    bus = await buses()
    await bus.publish(Envelope(subject, b"early"))
    got: list[Delivery] = []
    await bus.subscribe(subject, _collect(got), group="workers")  # type: ignore[arg-type]
    await eventually(lambda: len(got) == 1, 5.0, "the early message")
    groups = await raw.xinfo_groups(f"agentos:{subject}")
    assert [g["name"] for g in groups] == [b"workers"]


async def test_a_consumer_that_died_is_reclaimed_with_the_servers_delivery_count(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    key = f"agentos:{subject}"
    bus = await buses()
    await raw.xgroup_create(key, "g", id="0", mkstream=True)
    await bus.publish(Envelope(subject, b"work"))
    # A foreign consumer takes the entry and dies without acking.
    taken = await raw.xreadgroup("g", "dead-worker", {key: ">"}, count=1)
    assert taken
    got: list[Delivery] = []
    opts = SubscribeOptions(ack_wait=0.2)
    await bus.subscribe(subject, _collect(got), group="g", options=opts)  # type: ignore[arg-type]
    await eventually(lambda: len(got) == 1, 5.0, "the reclaimed entry")
    assert got[0].envelope.body == b"work"
    assert got[0].attempt == 2
    await eventually(lambda: _none_pending(raw, key), 5.0, "the ack")


async def test_nack_keeps_the_entry_and_counts_the_redelivery(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    bus = await buses()
    attempts: list[int] = []

    async def handler(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if delivery.attempt < 3:
            await delivery.nack("busy")
        else:
            await delivery.ack()

    opts = SubscribeOptions(ack_wait=30.0)  # redelivery must not wait for ack_wait
    await bus.subscribe(subject, handler, group="g", options=opts)
    await bus.publish(Envelope(subject, b"retry me"))
    await eventually(lambda: attempts == [1, 2, 3], 3.0, "three attempts")
    # Redelivery reuses the entry: no copy was appended.
    assert await raw.xlen(f"agentos:{subject}") == 1


async def test_timed_out_entry_past_max_deliver_is_dead_lettered_without_delivery(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    key = f"agentos:{subject}"
    bus = await buses()
    await raw.xgroup_create(key, "g", id="0", mkstream=True)
    await bus.publish(Envelope(subject, b"poison"))
    await raw.xreadgroup("g", "dead-worker", {key: ">"}, count=1)
    got: list[Delivery] = []
    opts = SubscribeOptions(ack_wait=0.1, max_deliver=1)
    await bus.subscribe(subject, _collect(got), group="g", options=opts)  # type: ignore[arg-type]
    dlq: list[Delivery] = []
    await bus.subscribe(f"{subject}.dlq", _collect(dlq), group="audit")  # type: ignore[arg-type]
    await eventually(lambda: len(dlq) == 1, 5.0, "the dead letter")
    headers = dlq[0].envelope.headers
    assert headers[ERROR_CODE_HEADER] == "ack_timeout"
    assert headers[ATTEMPTS_HEADER] == "1"
    assert headers[ORIGINAL_SUBJECT_HEADER] == subject
    assert got == []


async def test_each_group_gets_every_message(
    server: RunningServer, buses: Buses, subject: str
) -> None:
    bus = await buses()
    first: list[Delivery] = []
    second: list[Delivery] = []
    await bus.subscribe(subject, _collect(first), group="a")  # type: ignore[arg-type]
    await bus.subscribe(subject, _collect(second), group="b")  # type: ignore[arg-type]
    for i in range(5):
        await bus.publish(Envelope(subject, str(i).encode()))
    await eventually(lambda: len(first) == 5 and len(second) == 5, 5.0, "both groups")


async def test_trimming_removes_only_what_every_group_is_done_with(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    key = f"agentos:{subject}"
    bus = await buses(trim_interval=0.05)
    held: list[Delivery] = []
    done: list[Delivery] = []
    await bus.subscribe(subject, _collect(done), group="fast")  # type: ignore[arg-type]
    await bus.subscribe(subject, _collect(held, ack=False), group="slow")  # type: ignore[arg-type]
    for i in range(10):
        await bus.publish(Envelope(subject, str(i).encode()))
    await eventually(lambda: len(done) == 10 and len(held) == 10, 5.0, "both groups")
    await asyncio.sleep(0.2)  # several trim periods: nothing may go while "slow" holds it all
    assert await raw.xlen(key) == 10
    for delivery in held[:6]:
        await delivery.ack()

    async def trimmed() -> bool:
        return bool(await raw.xlen(key) == 4)

    await eventually(trimmed, 5.0, "trim to the oldest entry still pending")


async def _none_pending(raw: aioredis.Redis, key: str) -> bool:
    return int((await raw.xpending(key, "g"))["pending"]) == 0


async def test_reply_stream_has_a_ttl_and_is_deleted_on_close(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    worker = await buses(reply_ttl=60)  # the responder arms the TTL
    client = await buses()
    reply_to: list[str] = []

    async def echo(delivery: Delivery) -> None:
        reply_to.append(delivery.envelope.reply_to or "")
        await worker.publish(delivery.envelope.reply(delivery.envelope.body))
        await delivery.ack()

    await worker.subscribe(subject, echo, group="g")
    reply = await client.request(Envelope(subject, b"ping"), timeout=5.0)
    assert reply.body == b"ping"
    assert reply_to[0].startswith("reply:")
    key = f"agentos:{reply_to[0]}"
    assert 0 < await raw.ttl(key) <= 60
    await client.close()
    assert not await raw.exists(key)


async def test_a_deleted_stream_and_group_are_recreated(
    server: RunningServer, buses: Buses, raw: aioredis.Redis, subject: str
) -> None:
    # What a restart without persistence does: the stream and its group vanish.
    bus = await buses()
    got: list[Delivery] = []
    await bus.subscribe(subject, _collect(got), group="g")  # type: ignore[arg-type]
    await bus.publish(Envelope(subject, b"one"))
    await eventually(lambda: len(got) == 1, 5.0, "the first message")
    await raw.delete(f"agentos:{subject}")
    for i in range(200):
        await bus.publish(Envelope(subject, f"again-{i}".encode()))
        if any(d.envelope.body.startswith(b"again") for d in got):
            break
        await asyncio.sleep(0.02)
    assert any(d.envelope.body.startswith(b"again") for d in got)


async def test_publish_while_the_server_is_down_is_a_connect_error(tmp_path: Path) -> None:
    own = redis_server.start(tmp_path)
    bus = await connect(own.url)
    try:
        await bus.publish(Envelope("x", b"up"))
        own.stop()
        with pytest.raises(ConnectError):
            await bus.publish(Envelope("x", b"down"))
    finally:
        own.stop()
        await bus.close()
    with pytest.raises(BusClosed):
        await bus.publish(Envelope("x", b"closed"))


async def test_request_reply_and_fanout_recover_after_a_restart(tmp_path: Path) -> None:
    own = redis_server.start(tmp_path)
    worker, client = await connect(own.url), await connect(own.url)
    events: list[bytes] = []

    async def echo(delivery: Delivery) -> None:
        await worker.publish(delivery.envelope.reply(delivery.envelope.body))
        await delivery.ack()

    async def on_event(delivery: Delivery) -> None:
        events.append(delivery.envelope.body)

    try:
        await worker.subscribe("svc", echo, group="g")
        await client.subscribe("events", on_event)
        assert (await client.request(Envelope("svc", b"before"), timeout=5.0)).body == b"before"
        await asyncio.to_thread(own.restart)

        async def answered() -> Envelope | None:
            try:
                return await client.request(Envelope("svc", b"after"), timeout=0.5)
            except BusError as exc:
                assert exc.retryable
                return None

        reply = await eventually(answered, 10.0, "a reply after the restart")
        assert reply.body == b"after"
        await worker.publish(Envelope("events", b"evt"))
        await eventually(lambda: b"evt" in events, 5.0, "the fan-out event after the restart")
    finally:
        await client.close()
        await worker.close()
        own.stop()


# -- pipelining of hot-path commands --------------------------------------------


async def test_concurrent_commands_share_round_trips_and_keep_their_order(
    raw: aioredis.Redis,
) -> None:
    batcher = CommandBatcher(raw)
    key = f"t:{uuid.uuid4().hex}"
    results = await asyncio.gather(*(batcher.execute("RPUSH", key, str(i)) for i in range(300)))
    # RPUSH answers the list's new length: issue order is execution order.
    assert results == list(range(1, 301))
    assert await raw.lrange(key, 0, -1) == [str(i).encode() for i in range(300)]
    assert batcher.round_trips < 30  # one alone, then pipelines of what queued meanwhile


async def test_a_lone_command_goes_out_at_once(raw: aioredis.Redis) -> None:
    batcher = CommandBatcher(raw)
    key = f"t:{uuid.uuid4().hex}"
    assert await batcher.execute("SET", key, "v") is True
    assert await batcher.execute("GET", key) == b"v"
    assert batcher.round_trips == 2


async def test_a_failing_command_fails_only_its_caller(raw: aioredis.Redis) -> None:
    batcher = CommandBatcher(raw)
    key = f"t:{uuid.uuid4().hex}"
    await raw.set(key, "not a list")
    ok = f"t:{uuid.uuid4().hex}"
    results = await asyncio.gather(
        batcher.execute("INCR", ok),
        batcher.execute("RPUSH", key, "x"),  # WRONGTYPE, inside a pipeline
        batcher.execute("INCR", ok),
        batcher.execute("LPUSH", key, "y"),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert isinstance(results[3], ResponseError)
    with pytest.raises(ResponseError):  # alone, too
        await batcher.execute("RPUSH", key, "z")


async def test_a_cancelled_caller_does_not_disturb_the_others(raw: aioredis.Redis) -> None:
    batcher = CommandBatcher(raw)
    key = f"t:{uuid.uuid4().hex}"
    first = asyncio.ensure_future(batcher.execute("INCR", key))
    queued = [asyncio.ensure_future(batcher.execute("INCR", key)) for _ in range(5)]
    await asyncio.sleep(0)
    queued[2].cancel()
    assert await first == 1
    done = await asyncio.gather(*queued, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != 2] == [2, 3, 4, 5]
    assert await raw.get(key) == b"5"  # the cancelled command never ran


async def test_lost_connection_fails_the_batch_and_later_commands_recover(
    tmp_path: Path,
) -> None:
    running = redis_server.start(tmp_path)
    redis = aioredis.from_url(running.url)
    batcher = CommandBatcher(redis)
    try:
        await batcher.execute("PING")
        running.stop()
        results = await asyncio.gather(
            *(batcher.execute("INCR", "k") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
        assert not batcher._busy  # nothing stays stuck behind the failure
    finally:
        await redis.aclose()
