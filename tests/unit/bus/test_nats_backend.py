"""NATS-specific behaviour of the ``nats://`` backend, against a real nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import RetentionPolicy, StreamConfig

from agent_os.bus import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    BusError,
    ConfigError,
    ConnectError,
    Delivery,
    Envelope,
    NoResponders,
    NotSupported,
    PayloadTooLarge,
    SubscribeOptions,
    connect,
)
from agent_os.bus.backends._nats import NatsBus
from agent_os.bus.backends._nats_codec import consumer_name, delivery_count, stream_name
from agent_os.bus.backends._nats_fanout import server_has_seen
from tests.buses import BusOpener
from tests.eventually import eventually
from tests.servers import RunningServer, Servers
from tests.servers import nats as nats_server

Connect = Callable[..., Awaitable[NatsBus]]


@pytest.fixture
def server(servers: Servers) -> RunningServer:
    return servers.get("nats")


@pytest.fixture
def bus_factory(server: RunningServer, open_bus: BusOpener) -> Connect:
    return open_bus.on(server.url, NatsBus)


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[Client]:
    nc = await nats.connect(server.url)
    try:
        yield nc
    finally:
        await nc.close()


@pytest.fixture
def subject() -> str:
    return f"unit.{uuid.uuid4().hex[:12]}"


def test_names_are_valid_distinct_and_stable() -> None:
    assert stream_name("agentos.v1.action") == stream_name("agentos.v1.action")
    assert stream_name("agentos.v1.action").startswith("AGENTOS_agentos_v1_action_")
    assert stream_name("a.b") != stream_name("a_b")
    assert consumer_name("s", "workers") != consumer_name("s", "workers.x")
    assert consumer_name("s.a", "workers") != consumer_name("s.b", "workers")
    for name in (stream_name("a.*.>  x"), consumer_name("s", "g.*>/\\ x")):
        assert not set(name) & set(".*> /\\")


def test_delivery_count_reads_both_ack_subject_layouts() -> None:
    assert delivery_count("$JS.ACK.S.C.3.10.9.1700000000000000000.0") == 3
    assert delivery_count("$JS.ACK.dom.acchash.S.C.4.10.9.1700000000000000000.0.tok") == 4


async def test_publish_makes_one_work_queue_stream_per_subject(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory()
    await bus.publish(Envelope(subject, b"kept"))
    info = await raw.jetstream().stream_info(stream_name(subject))
    assert info.config.subjects == [subject]
    assert info.config.retention == RetentionPolicy.WORK_QUEUE
    assert info.state.messages == 1


async def test_group_is_a_durable_pull_consumer_with_the_options(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory()

    async def ignore(delivery: Delivery) -> None:
        await delivery.ack()

    await bus.subscribe(subject, ignore, group="workers", options=SubscribeOptions(ack_wait=7))
    info = await raw.jetstream().consumer_info(
        stream_name(subject), consumer_name(subject, "workers")
    )
    assert info.config.durable_name == consumer_name(subject, "workers")
    assert info.config.ack_wait == 7
    assert info.config.filter_subject == subject


async def test_a_second_group_on_one_work_subject_is_not_supported(
    bus_factory: Connect, subject: str
) -> None:
    bus = await bus_factory()

    async def ignore(delivery: Delivery) -> None:
        await delivery.ack()

    await bus.subscribe(subject, ignore, group="first")
    with pytest.raises(NotSupported):
        await bus.subscribe(subject, ignore, group="second")


async def test_envelope_is_plain_nats_message_with_headers(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    got: list[Msg] = []

    async def record(msg: Msg) -> None:
        got.append(msg)

    await raw.subscribe(subject, cb=record)
    await server_has_seen(raw)
    bus = await bus_factory()
    sent = Envelope(subject, b"\x00raw body", headers={"trace": "t"}, key="k", deadline=1e9)
    await bus.publish(sent)
    await eventually(lambda: len(got) == 1, 5.0, "the message")
    msg = got[0]
    assert msg.data == b"\x00raw body"  # no framing
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == sent.id
    assert (msg.headers["trace"], msg.headers["Agentos-Key"]) == ("t", "k")
    assert float(msg.headers["Agentos-Deadline"]) == 1e9


async def test_a_raw_nats_requester_gets_a_reply_from_a_bus_responder(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory()

    async def answer(delivery: Delivery) -> None:
        await bus.publish(delivery.envelope.reply(b"re:" + delivery.envelope.body))

    await bus.subscribe(subject, answer)
    reply = await raw.request(subject, b"hi", timeout=5)
    assert reply.data == b"re:hi"


async def test_a_deleted_stream_is_recreated_and_the_subscription_resumes(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    worker, publisher = await bus_factory(), await bus_factory()
    seen: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.envelope.body)
        await delivery.ack()

    await worker.subscribe(subject, handler, group="g")
    await publisher.publish(Envelope(subject, b"one"))
    await eventually(lambda: seen == [b"one"], 5.0, "the first message")
    # What a server restarted with an empty store looks like to the clients.
    await raw.jetstream().delete_stream(stream_name(subject))
    await publisher.publish(Envelope(subject, b"two"))  # recreates the stream
    await eventually(lambda: b"two" in seen, 5.0, "the message after the stream was recreated")


async def test_a_stream_made_by_an_operator_is_used(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    js = raw.jetstream()
    await js.add_stream(
        StreamConfig(
            name=f"OPS_{uuid.uuid4().hex[:8]}",
            subjects=[f"{subject}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
        )
    )
    bus = await bus_factory()
    seen: list[tuple[str, bytes]] = []

    async def handler(delivery: Delivery) -> None:
        seen.append((delivery.envelope.subject, delivery.envelope.body))
        await delivery.ack()

    jobs, other = f"{subject}.jobs", f"{subject}.other"
    await bus.publish(Envelope(jobs, b"early"))
    await bus.subscribe(jobs, handler, group="g")
    await bus.subscribe(other, handler, group="g")  # same group name, same stream
    await bus.publish(Envelope(other, b"late"))
    await eventually(lambda: len(seen) == 2, 5.0, "both messages")
    assert sorted(seen) == [(jobs, b"early"), (other, b"late")]


async def test_payload_limit_leaves_room_for_the_headers(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory()
    assert 0 < bus.max_payload < raw.max_payload
    with pytest.raises(PayloadTooLarge):
        await bus.publish(Envelope(subject, b"x" * (raw.max_payload - 10)))
    fits = Envelope(subject, b"x" * (bus.max_payload - 200))
    await bus.publish(fits)  # still connected and accepted


async def test_bad_option_values_are_config_errors(server: RunningServer) -> None:
    with pytest.raises(ConfigError):
        await connect(server.url + "?stream_storage=tape")
    with pytest.raises(ConfigError):
        await connect(server.url, pull_expires="soon")


async def test_tls_scheme_reaches_the_nats_client(server: RunningServer) -> None:
    # The test server speaks plain TCP, so a tls:// connect must fail as a ConnectError.
    with pytest.raises(ConnectError):
        await connect(server.url.replace("nats://", "tls://"), connect_attempts=1)


async def test_subscriptions_resume_after_a_restart_with_an_empty_store(
    tmp_path: Path, subject: str
) -> None:
    private = nats_server.start(tmp_path)
    if private.external:
        pytest.skip("AGENT_OS_TEST_NATS_URL names an external server; it cannot be restarted")
    bus = await connect(private.url, reconnect_time_wait=0.05)
    try:
        seen: list[bytes] = []

        async def handler(delivery: Delivery) -> None:
            seen.append(delivery.envelope.body)
            await delivery.ack()

        await bus.subscribe(subject, handler, group="g")
        await bus.publish(Envelope(subject, b"before"))
        await eventually(lambda: seen == [b"before"], 5.0, "the message before the restart")
        private.stop()
        shutil.rmtree(tmp_path / "jetstream")  # the server comes back without streams
        (tmp_path / "jetstream").mkdir()
        await asyncio.to_thread(private.start)

        async def resumed() -> bool:
            with contextlib.suppress(BusError):
                await bus.publish(Envelope(subject, b"after"))
            return b"after" in seen

        await eventually(resumed, 10.0, "the subscription resumed", interval=0.05)
    finally:
        await bus.close()
        private.stop()


async def test_publish_without_ack_is_still_kept_for_a_later_group(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    publisher = await bus_factory(publish_ack="false")
    await publisher.publish(Envelope(subject, b"early"))
    await publisher.close()  # flushes what is buffered
    seen: list[bytes] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.envelope.body)
        await delivery.ack()

    await (await bus_factory()).subscribe(subject, handler, group="g")
    await eventually(lambda: seen == [b"early"], 5.0, "the message kept for the group")
    with pytest.raises(ConfigError):
        await bus_factory(publish_ack="maybe")


async def test_a_reply_to_a_foreign_inbox_makes_no_stream(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory()
    got: list[Msg] = []

    async def record(msg: Msg) -> None:
        got.append(msg)

    inbox = f"_MYINBOX.{subject}.1"  # a client with its own inbox prefix
    await raw.subscribe(inbox, cb=record)
    await server_has_seen(raw)
    request = Envelope(subject, b"q", reply_to=inbox)
    await bus.publish(request.reply(b"answer"))
    await eventually(lambda: len(got) == 1, 5.0, "the message")
    assert got[0].data == b"answer"
    with pytest.raises(nats.js.errors.NotFoundError):
        await raw.jetstream().stream_info(stream_name(inbox))


async def test_server_has_seen_means_a_subscription_is_live(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    # nats-py's flush() alone can return before a buffered SUB reaches the server;
    # publishing from another connection right after it then loses the message.
    bus = await bus_factory()
    for i in range(40):
        got: list[bytes] = []

        async def record(msg: Msg, into: list[bytes] = got) -> None:
            into.append(msg.data)

        sub = await raw.subscribe(f"_MYINBOX.{subject}.{i}", cb=record)
        await server_has_seen(raw)
        await bus.publish(Envelope(subject, b"q", reply_to=f"_MYINBOX.{subject}.{i}").reply(b"a"))
        await eventually(lambda into=got: into == [b"a"], 2.0, "the reply")  # type: ignore[misc]
        await sub.unsubscribe()


async def test_a_group_on_a_core_subject_is_a_queue_group(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    members = [await bus_factory(core_prefixes="fast.") for _ in range(2)]
    fast = f"fast.{subject}"
    got: list[list[bytes]] = [[], []]
    for bus, into in zip(members, got, strict=True):

        async def handler(delivery: Delivery, into: list[bytes] = into) -> None:
            into.append(delivery.envelope.body)
            await delivery.ack()

        await bus.subscribe(fast, handler, group="workers")
    for i in range(40):
        await members[0].publish(Envelope(fast, str(i).encode()))
    await eventually(lambda: len(got[0]) + len(got[1]) == 40, 5.0, "all 40 messages")
    assert sorted(got[0] + got[1], key=int) == [str(i).encode() for i in range(40)]
    assert got[0] and got[1]  # the server spread the work over the group
    with pytest.raises(nats.js.errors.NotFoundError):  # nothing was stored
        await raw.jetstream().stream_info(stream_name(fast))


async def test_core_queue_group_request_reply_and_no_responders(
    bus_factory: Connect, subject: str
) -> None:
    bus = await bus_factory(core_prefixes="fast.")
    fast = f"fast.{subject}"
    with pytest.raises(NoResponders):
        await bus.request(Envelope(fast, b"anyone?"), 2.0)

    async def answer(delivery: Delivery) -> None:
        await bus.publish(delivery.envelope.reply(b"re:" + delivery.envelope.body))
        await delivery.ack()

    await bus.subscribe(fast, answer, group="workers")
    reply = await (await bus_factory(core_prefixes="fast.")).request(Envelope(fast, b"hi"), 5.0)
    assert reply.body == b"re:hi"


async def test_core_queue_group_nack_redelivers_then_dead_letters(
    bus_factory: Connect, subject: str
) -> None:
    bus = await bus_factory(core_prefixes="fast.")
    fast = f"fast.{subject}"
    attempts: list[int] = []
    dead: list[Delivery] = []

    async def refuse(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        await delivery.nack("busy")

    async def record_dead(delivery: Delivery) -> None:
        dead.append(delivery)
        await delivery.ack()

    await bus.subscribe(fast, refuse, group="g", options=SubscribeOptions(max_deliver=3))
    await bus.subscribe(f"{fast}.dlq", record_dead, group="dlq")  # kept by JetStream
    await bus.publish(Envelope(fast, b"job", headers={"trace": "t1"}))
    await eventually(lambda: len(dead) == 1, 5.0, "the dead letter")
    assert attempts == [1, 2, 3]
    letter = dead[0].envelope
    assert letter.body == b"job" and letter.headers["trace"] == "t1"
    assert letter.headers[ERROR_CODE_HEADER] == "busy"
    assert letter.headers[ATTEMPTS_HEADER] == "3"
    assert "Agentos-Attempt" not in letter.headers


async def test_core_queue_group_reject_and_garbage_are_dead_lettered(
    bus_factory: Connect, raw: Client, subject: str
) -> None:
    bus = await bus_factory(core_prefixes="fast.")
    fast = f"fast.{subject}"
    dead: list[Delivery] = []

    async def reject(delivery: Delivery) -> None:
        await delivery.reject("bad_input", "no thanks")

    async def record_dead(delivery: Delivery) -> None:
        dead.append(delivery)
        await delivery.ack()

    await bus.subscribe(fast, reject, group="g")
    await bus.subscribe(f"{fast}.dlq", record_dead, group="dlq")
    await raw.publish(fast, b"x", headers={"Agentos-Deadline": "soon"})  # no envelope
    await bus.publish(Envelope(fast, b"y"))
    await eventually(lambda: len(dead) == 2, 5.0, "both dead letters")
    codes = sorted(d.envelope.headers[ERROR_CODE_HEADER] for d in dead)
    assert codes == ["bad_input", "malformed_envelope"]


async def test_core_queue_group_delayed_nack_frees_the_handler_meanwhile(
    bus_factory: Connect, subject: str
) -> None:
    bus = await bus_factory(core_prefixes="fast.")
    fast = f"fast.{subject}"
    seen: list[tuple[bytes, int, float]] = []

    async def handler(delivery: Delivery) -> None:
        seen.append((delivery.envelope.body, delivery.attempt, time.monotonic()))
        if delivery.envelope.body == b"later" and delivery.attempt == 1:
            await delivery.nack("busy", delay=0.5)
        else:
            await delivery.ack()

    await bus.subscribe(fast, handler, group="g", options=SubscribeOptions(concurrency=1))
    await bus.publish(Envelope(fast, b"later"))
    await eventually(lambda: len(seen) == 1, 5.0, "the first delivery")
    await bus.publish(Envelope(fast, b"now"))
    await eventually(lambda: len(seen) == 3, 5.0, "three deliveries")
    assert [(body, attempt) for body, attempt, _ in seen] == [
        (b"later", 1),
        (b"now", 1),  # the one handler slot was free during the delay
        (b"later", 2),
    ]
    assert seen[2][2] - seen[0][2] >= 0.45
