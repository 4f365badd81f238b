"""Raw client round trips: the floor the governed path is compared with.

Each function drives the broker's own Python client over the same delivery
path our backend uses for action requests — a durable work queue consumed by
a group, acknowledged, answered on a reply path — with a trivial responder
that echoes the payload. No agent_os code runs here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def _ms() -> str:
    return uuid.uuid4().hex[:10]


async def nats_core(url: str, payload: bytes, n: int) -> list[float]:
    """Core NATS request/reply through a queue group (no persistence)."""
    import nats

    nc = await nats.connect(url)
    subject = f"rawbench.core.{_ms()}"

    async def echo(msg: Any) -> None:
        await msg.respond(msg.data)

    await nc.subscribe(subject, queue="q", cb=echo)
    await nc.flush()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await nc.request(subject, payload, timeout=5)
        out.append(time.perf_counter() - t)
    await nc.close()
    return out


async def _reply_inbox(nc: Any) -> tuple[str, dict[str, asyncio.Future[bytes]]]:
    """A wildcard inbox whose replies resolve the future waiting under header ``c``."""
    inbox = nc.new_inbox()
    waiting: dict[str, asyncio.Future[bytes]] = {}

    async def on_reply(msg: Any) -> None:
        fut = waiting.pop(msg.headers["c"], None)
        if fut is not None and not fut.done():
            fut.set_result(msg.data)

    await nc.subscribe(inbox + ".*", cb=on_reply)
    return inbox, waiting


async def nats_jetstream(url: str, payload: bytes, n: int) -> list[float]:
    """JetStream: publish into a work-queue stream, durable pull, ack, core reply."""
    import nats
    from nats.js.api import RetentionPolicy

    nc = await nats.connect(url)
    js = nc.jetstream()
    tag = _ms()
    subject = f"rawbench.js.{tag}"
    await js.add_stream(name=f"RAWBENCH_{tag}", subjects=[subject],
                        retention=RetentionPolicy.WORK_QUEUE)  # fmt: skip
    psub = await js.pull_subscribe(subject, durable=f"raw{tag}")
    inbox, waiting = await _reply_inbox(nc)

    task = asyncio.create_task(_echo(nc, psub))
    loop = asyncio.get_running_loop()
    out = []
    for i in range(n):
        cid = str(i)
        fut: asyncio.Future[bytes] = loop.create_future()
        waiting[cid] = fut
        t = time.perf_counter()
        await nc.publish(subject, payload, headers={"r": f"{inbox}.x", "c": cid})
        await asyncio.wait_for(fut, 5)
        out.append(time.perf_counter() - t)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await psub.unsubscribe()
    await js.delete_stream(f"RAWBENCH_{tag}")
    await nc.close()
    return out


async def _jetstream_echo(url: str, subject: str, durable: str) -> None:
    """The raw responder as a process of its own: durable pull, reply, ack; forever."""
    import nats

    nc = await nats.connect(url)
    psub = await nc.jetstream().pull_subscribe(subject, durable=durable)
    print("ready", flush=True)
    await _echo(nc, psub)


async def _echo(nc: Any, psub: Any) -> None:
    """The trivial responder: pull up to 64, reply with the payload, ack; forever."""
    import nats

    while True:
        try:
            msgs = await psub.fetch(64, timeout=1)
        except nats.errors.TimeoutError:
            continue
        for m in msgs:
            await nc.publish(m.headers["r"], m.data, headers={"c": m.headers["c"]})
            await m.ack()


async def nats_jetstream_load(
    url: str, payload: bytes, seconds: float, in_flight: int, cpu: Callable[[int], float | None]
) -> dict[str, float]:
    """One raw responder process under ``in_flight`` requesters: messages/s and its CPU."""
    import nats
    from nats.js.api import RetentionPolicy

    nc = await nats.connect(url)
    tag = _ms()
    subject, stream = f"rawbench.load.{tag}", f"RAWLOAD_{tag}"
    await nc.jetstream().add_stream(name=stream, subjects=[subject],
                                    retention=RetentionPolicy.WORK_QUEUE)  # fmt: skip
    echo = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "nats-echo", url, subject, f"raw{tag}",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert echo.stdout is not None
    await echo.stdout.readline()
    inbox, waiting = await _reply_inbox(nc)
    loop = asyncio.get_running_loop()
    ids = itertools.count()
    done = 0
    stop = time.perf_counter() + seconds

    async def requester() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            cid = str(next(ids))
            fut: asyncio.Future[bytes] = loop.create_future()
            waiting[cid] = fut
            await nc.publish(subject, payload, headers={"r": f"{inbox}.x", "c": cid})
            await asyncio.wait_for(fut, 30)
            done += 1

    try:
        before, start = cpu(echo.pid), time.perf_counter()
        await asyncio.gather(*(requester() for _ in range(in_flight)))
        elapsed, after = time.perf_counter() - start, cpu(echo.pid)
    finally:
        echo.terminate()
        await echo.wait()
        await nc.jetstream().delete_stream(stream)
        await nc.close()
    out = {"raw_msgs_per_s": round(done / elapsed)}
    if before is not None and after is not None and done:
        out["raw_cpu_us_per_msg"] = round((after - before) / done * 1e6, 1)
        out["raw_cores"] = round((after - before) / elapsed, 2)
    return out


async def nats_drop_stream_of(url: str, subject: str) -> None:
    """Delete the JetStream stream that keeps ``subject``, if any."""
    import nats
    import nats.js.errors

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(await js.find_stream_name_by_subject(subject))
    finally:
        await nc.close()


async def redis_streams(url: str, payload: bytes, n: int) -> list[float]:
    """XADD → XREADGROUP → XADD reply + XACK → XREAD on the reply stream."""
    import redis.asyncio as aioredis

    tag = _ms()
    stream, reply, group = f"rawbench:{tag}", f"rawbench:reply:{tag}", "g"
    client = aioredis.Redis.from_url(url)
    consumer = aioredis.Redis.from_url(url)
    await client.xgroup_create(stream, group, id="0", mkstream=True)

    async def responder() -> None:
        while True:
            got = await consumer.xreadgroup(group, "c1", {stream: ">"}, count=64, block=1000)
            for _, entries in got or []:
                for entry_id, fields in entries:
                    await consumer.xadd(reply, {b"b": fields[b"b"]}, maxlen=1000)
                    await consumer.xack(stream, group, entry_id)

    task = asyncio.create_task(responder())
    reader = aioredis.Redis.from_url(url)
    last = "0"
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await client.xadd(stream, {b"b": payload})
        while True:
            got = await reader.xread({reply: last}, count=1, block=5000)
            if got:
                last = got[0][1][-1][0]
                break
        out.append(time.perf_counter() - t)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.delete(stream, reply)
    for c in (client, consumer, reader):
        await c.aclose()
    return out


async def kafka(url: str, payload: bytes, n: int) -> list[float]:
    """Produce → group consume → produce reply → consume reply (fetch wait from URL)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    servers = parts.netloc
    wait_ms = int(query.get("fetch_max_wait_ms", 10))
    tag = _ms()
    topic, reply_topic = f"rawbench.{tag}", f"rawbench.reply.{tag}"
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=0, enable_idempotence=False)
    await producer.start()
    await producer.send_and_wait(reply_topic, b"probe")
    await producer.send_and_wait(topic, b"probe")
    group = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, group_id=f"g{tag}", enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=wait_ms,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,
    )  # fmt: skip
    await group.start()
    replies = AIOKafkaConsumer(
        bootstrap_servers=servers, fetch_max_wait_ms=wait_ms, auto_offset_reset="latest"
    )
    await replies.start()
    partitions = [TopicPartition(reply_topic, p)
                  for p in (replies.partitions_for_topic(reply_topic) or {0})]  # fmt: skip
    replies.assign(partitions)
    await replies.seek_to_end(*partitions)

    async def responder() -> None:
        async for msg in group:
            if msg.value != b"probe":
                await producer.send_and_wait(reply_topic, msg.value, key=msg.key)
            await group.commit()

    task = asyncio.create_task(responder())
    out = []
    for i in range(n):
        key = str(i).encode()
        t = time.perf_counter()
        await producer.send_and_wait(topic, payload, key=key)
        while True:
            msg = await replies.getone()
            if msg.key == key:
                break
        out.append(time.perf_counter() - t)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for c in (group, replies):
        await c.stop()
    await producer.stop()
    return out


async def sqs(url: str, payload: bytes, n: int) -> list[float]:
    """send → receive (long poll) → send reply + delete → receive reply."""
    import base64

    import aioboto3

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    session = aioboto3.Session()
    body = base64.b64encode(payload).decode()
    async with session.client(
        "sqs", region_name=parts.netloc or "us-east-1", endpoint_url=query.get("endpoint_url"),
        aws_access_key_id="bench", aws_secret_access_key="bench",
    ) as client:  # fmt: skip
        tag = _ms()
        work = (await client.create_queue(QueueName=f"rawbench-{tag}"))["QueueUrl"]
        reply = (await client.create_queue(QueueName=f"rawbench-reply-{tag}"))["QueueUrl"]

        async def responder() -> None:
            while True:
                got = await client.receive_message(
                    QueueUrl=work, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
                for m in got.get("Messages", []):
                    await client.send_message(QueueUrl=reply, MessageBody=m["Body"])
                    await client.delete_message(QueueUrl=work, ReceiptHandle=m["ReceiptHandle"])

        task = asyncio.create_task(responder())
        out = []
        for _ in range(n):
            t = time.perf_counter()
            await client.send_message(QueueUrl=work, MessageBody=body)
            while True:
                got = await client.receive_message(
                    QueueUrl=reply, MaxNumberOfMessages=1, WaitTimeSeconds=1
                )
                msgs = got.get("Messages", [])
                if msgs:
                    await client.delete_message(
                        QueueUrl=reply, ReceiptHandle=msgs[0]["ReceiptHandle"]
                    )
                    break
            out.append(time.perf_counter() - t)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for q in (work, reply):
            await client.delete_queue(QueueUrl=q)
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["nats-echo"]:
        asyncio.run(_jetstream_echo(*sys.argv[2:5]))
