"""Bytes that are not an envelope, written straight to each broker with its own client.

A deployment's broker can hold anything another producer wrote: the bus must
dead-letter such an entry rather than crash a consumer or drop it unseen. Each
function writes one message on ``subject`` whose body is :data:`NOT_AN_ENVELOPE`
and whose deadline cannot be read, where the bus's default settings (the
contract's bus URL) look for it. ``memory`` has no wire, so no entry there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aioboto3
import nats
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from agent_os.bus.backends._kafka_codec import topic_for
from agent_os.bus.backends._sqs_names import work_queue_name
from tests.servers.sqs import endpoint_of

NOT_AN_ENVELOPE = b"not an envelope"


async def _nats(url: str, subject: str) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().publish(subject, NOT_AN_ENVELOPE, headers={"Agentos-Deadline": "soon"})
    finally:
        await nc.close()


async def _redis(url: str, subject: str) -> None:
    client = aioredis.from_url(url)
    try:
        fields = {"b": NOT_AN_ENVELOPE, "i": "raw-1", "d": "soon"}
        await client.xadd(f"agentos:{subject}", fields)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def _kafka(url: str, subject: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=url.removeprefix("kafka://").split("?")[0])
    await producer.start()
    try:
        await producer.send_and_wait(topic_for(subject), NOT_AN_ENVELOPE, headers=[(":d", b"soon")])
    finally:
        await producer.stop()


async def _sqs(url: str, subject: str) -> None:
    session = aioboto3.Session()
    async with session.client(
        "sqs", region_name="us-east-1", endpoint_url=endpoint_of(url)
    ) as client:
        queue = await client.get_queue_url(QueueName=work_queue_name("agentos", subject))
        await client.send_message(QueueUrl=queue["QueueUrl"], MessageBody=NOT_AN_ENVELOPE.decode())


#: backend → ``await write(server_url, subject)``: one malformed message on ``subject``.
WRITE_MALFORMED: dict[str, Callable[[str, str], Awaitable[None]]] = {
    "nats": _nats,
    "redis": _redis,
    "kafka": _kafka,
    "sqs": _sqs,
}
