"""SQS-specific behaviour of the ``sqs://`` backend, against moto's server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from agent_os.bus import (
    ERROR_CODE_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    BusClosed,
    ConfigError,
    ConnectError,
    Delivery,
    Envelope,
    PayloadTooLarge,
    SubscribeOptions,
    connect,
)
from agent_os.bus.backends._sqs import DEFAULT_SQS_MAX_PAYLOAD, SqsBus
from tests.buses import BusOpener
from tests.eventually import eventually
from tests.servers import RunningServer, Servers
from tests.servers import sqs as sqs_server


@pytest.fixture
def server(servers: Servers) -> RunningServer:
    return servers.get("sqs")


@pytest.fixture
def prefix() -> str:
    """A queue prefix unique to the test, so tests never see each other's queues."""
    return f"u{uuid.uuid4().hex[:10]}"


@pytest.fixture
def url(server: RunningServer, prefix: str) -> str:
    return server.url.replace("/agentos?", f"/{prefix}?")


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[Any]:
    session = aioboto3.Session()
    endpoint = sqs_server.endpoint_of(server.url)
    async with session.client("sqs", region_name="us-east-1", endpoint_url=endpoint) as client:
        yield client


@pytest.fixture
def buses(url: str, open_bus: BusOpener) -> Callable[..., Any]:
    return open_bus.on(url, SqsBus)


async def _queues(raw: Any, prefix: str) -> set[str]:
    got = await raw.list_queues(QueueNamePrefix=prefix)
    return {u.rsplit("/", 1)[-1] for u in got.get("QueueUrls", [])}


async def test_subjects_map_to_named_queues_with_a_redrive_policy(
    buses: Callable[..., Any], raw: Any, prefix: str
) -> None:
    bus = await buses()
    await bus.publish(Envelope("orders.new-v1", b"x"))
    assert f"{prefix}-orders-new_hv1" in await _queues(raw, prefix)

    async def ignore(delivery: Delivery) -> None:
        await delivery.ack()

    await bus.subscribe("jobs.run", ignore, group="w", options=SubscribeOptions(max_deliver=4))
    names = await _queues(raw, prefix)
    assert {f"{prefix}-jobs-run", f"{prefix}-jobs-run-dlq"} <= names
    work_url = (await raw.get_queue_url(QueueName=f"{prefix}-jobs-run"))["QueueUrl"]
    attrs = await raw.get_queue_attributes(QueueUrl=work_url, AttributeNames=["RedrivePolicy"])
    redrive = json.loads(attrs["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{prefix}-jobs-run-dlq")
    assert int(redrive["maxReceiveCount"]) == 4


async def test_private_queues_are_deleted_on_unsubscribe_and_close(
    buses: Callable[..., Any], raw: Any, prefix: str
) -> None:
    bus, responder = await buses(), await buses()

    async def echo(delivery: Delivery) -> None:
        await responder.publish(delivery.envelope.reply(delivery.envelope.body))
        await delivery.ack()

    async def nothing(delivery: Delivery) -> None:
        return None

    await responder.subscribe("svc", echo, group="w")
    fanout = await bus.subscribe("events", nothing)
    reply = await bus.request(Envelope("svc", b"ping"), timeout=10)
    assert reply.body == b"ping"
    names = await _queues(raw, prefix)
    assert any(n.startswith(f"{prefix}-events_s") for n in names)
    assert any(n.startswith(f"{prefix}-_r") for n in names)

    await fanout.unsubscribe()
    assert not any(n.startswith(f"{prefix}-events_s") for n in await _queues(raw, prefix))
    await bus.close()
    assert not any(n.startswith(f"{prefix}-_r") for n in await _queues(raw, prefix))
    with pytest.raises(BusClosed):
        await bus.publish(Envelope("svc", b"late"))


async def test_max_payload_accounts_for_base64(buses: Callable[..., Any]) -> None:
    bus = await buses()
    assert bus.max_payload == DEFAULT_SQS_MAX_PAYLOAD
    got: list[bytes] = []

    async def keep(delivery: Delivery) -> None:
        got.append(delivery.envelope.body)
        await delivery.ack()

    await bus.subscribe("big", keep, group="w")
    body = bytes(range(256)) * ((bus.max_payload - 128) // 256)
    await bus.publish(Envelope("big", body))
    await eventually(lambda: got == [body], 10.0, "the large body")
    with pytest.raises(PayloadTooLarge):
        await bus.publish(Envelope("big", body + b"x" * 256))
    with pytest.raises(ConfigError):
        await buses(max_payload=256 * 1024)


async def test_redrive_by_sqs_itself_is_labelled_on_the_dead_letter_subject(
    buses: Callable[..., Any],
) -> None:
    """A consumer that never settles: SQS moves the message; the reader adds the headers."""
    bus = await buses()
    seen: list[int] = []
    dead: list[Envelope] = []

    async def crash(delivery: Delivery) -> None:
        seen.append(delivery.attempt)

    async def dlq(delivery: Delivery) -> None:
        dead.append(delivery.envelope)
        await delivery.ack()

    opts = SubscribeOptions(ack_wait=1, max_deliver=1)
    await bus.subscribe("jobs", crash, group="w", options=opts)
    await bus.subscribe("jobs.dlq", dlq, group="ops")
    sent = Envelope("jobs", b"never acked", headers={"h": "v"})
    await bus.publish(sent)
    await eventually(lambda: len(dead) == 1, 15.0, "the dead letter moved by SQS")
    assert seen == [1]
    assert dead[0].id == sent.id and dead[0].subject == "jobs.dlq"
    assert dead[0].headers["h"] == "v"
    assert dead[0].headers[ERROR_CODE_HEADER] == "ack_timeout"
    assert dead[0].headers[ORIGINAL_SUBJECT_HEADER] == "jobs"


async def test_bad_urls_and_option_values_are_config_errors(server: RunningServer) -> None:
    endpoint = sqs_server.endpoint_of(server.url)
    for bad in (
        f"sqs:///agentos?endpoint_url={endpoint}",
        f"sqs://us-east-1/agent.os?endpoint_url={endpoint}",
        f"sqs://us-east-1/p?endpoint_url={endpoint}&wait_time=30",
        f"sqs://us-east-1/p?endpoint_url={endpoint}&aws_secret_access_key=s",
    ):
        with pytest.raises(ConfigError):
            await connect(bad)


async def test_a_server_that_dies_gives_connect_errors(tmp_path: Path) -> None:
    own = sqs_server.start(tmp_path)
    try:
        bus = await connect(own.url, connect_timeout=1, max_attempts=1)
        await bus.publish(Envelope("s", b"ok"))
        own.stop()
        with pytest.raises(ConnectError):
            await bus.publish(Envelope("s", b"lost"))
        await bus.close()
    finally:
        own.stop()
