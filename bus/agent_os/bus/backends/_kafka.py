"""The ``kafka://`` backend (aiokafka), tested against Tansu and meant for Apache Kafka.

URL: ``kafka://host:port[,host:port...][?option=value&...]``; options may also
be given as keyword arguments to ``connect`` (they win over the query).

Mapping onto Kafka:

* **subject → topic** of the same name when the subject is made of
  ``[A-Za-z0-9.-]``; other characters are escaped (``_`` + hex), long names
  are cut and hashed (see ``_kafka_codec``). ``topic_prefix`` is prepended.
  Topics are created on first use with ``partitions`` partitions (admin
  CreateTopics, else broker auto-creation).
* **work queue** (``group="name"``) → Kafka consumer group ``name``,
  ``auto_offset_reset=earliest`` (messages published before the group's first
  consumer are delivered), manual commits of the highest contiguously settled
  offset per partition. Competing consumers split *partitions*, so more
  consumers than partitions leaves some idle.
* **nack** → Kafka cannot un-read a record: the message is produced again to
  its topic (same key, so same partition) with attempt + 1 (``delay`` is
  honoured by a timer in this process), then the original counts as settled.
* **ack_wait** on a live consumer → the same re-produce, from a timer. A
  consumer that dies or closes never commits its unsettled offsets: the group
  rebalances and the next owner reads them again (attempt restarts from the
  record's own count: the crash is invisible to the broker).
* **dead letters** → produced to ``<subject>.dlq``'s topic with the
  ``x-agentos-*`` headers after ``max_deliver`` deliveries, or on ``reject``.
* **fan-out** (``group=None``) → a consumer without a group, assigned every
  partition, starting at the end offsets read when subscribing (no group
  join to wait for).
* **request/reply** → one reply topic per bus, ``agentos.reply.<client id>``,
  created at the first request, read from partition 0 without a group from
  its end offset; replies are always produced to partition 0 and matched by
  correlation id. Deleted on close where the broker allows it. A reply whose
  requester is gone may re-create the topic by auto-creation.
* **envelope** → record value = body, key = envelope key (per-key order within
  a partition), other fields in record headers.

Tuning: Tansu does not wake a waiting fetch when data arrives, so latency per
hop is about ``fetch_max_wait_ms`` (default 10 ms: ~9 ms request/reply; at
aiokafka's 500 ms default it is ~250 ms). Each idle consumer then polls 100
times a second, a few % of a core; raise it where latency matters less
(real Kafka wakes fetches on arrival, so larger values cost nothing there).
``fetch_max_wait_ms=0`` never delivers on Tansu and is refused. Group joins
take about half of ``session_timeout_ms`` (default 10000; tests use 2000 with
``heartbeat_interval_ms=300``); a crashed consumer's records move after the
session times out. The producer uses ``acks`` (default ``1``, the leader
wrote it; ``all`` for replicated clusters), ``linger_ms=0`` and no
idempotence (Tansu rejects InitProducerId), so a retried send may duplicate:
consumers must be idempotent, as at-least-once requires anyway.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError

from .._envelope import Envelope
from .._errors import ConfigError, ConnectError, MalformedEnvelope
from .._protocol import DEFAULT_MAX_PAYLOAD, Handler, SubscribeOptions, Subscription
from ._base import BusBase, Route
from ._kafka_codec import correlation_of, decode_record, kafka_errors, to_headers, topic_for
from ._kafka_sub import KafkaSubscription, _stop_consumer
from ._options import Kind, parse_options

__all__ = ["KafkaBus", "connect"]

log = logging.getLogger("agent_os.bus.kafka")

#: Subjects of reply topics start with this; their replies go to partition 0.
REPLY_PREFIX = "agentos.reply."
_TOPIC_EXISTS = 36
_OVERHEAD = 64 * 1024  # record headers and batch framing on top of max_payload

_OPTIONS: dict[str, Kind] = {
    "fetch_max_wait_ms": int,
    "session_timeout_ms": int,
    "heartbeat_interval_ms": int,
    "request_timeout_ms": int,
    "max_payload": int,
    "acks": str,
    "client_id": str,
    "drain_timeout": float,
    "join_timeout": float,
    "topic_prefix": str,
    "partitions": int,
    "replication_factor": int,
}


class KafkaBus(BusBase):
    """A :class:`~agent_os.bus.Bus` over Kafka (see the module docstring)."""

    reply_prefix = REPLY_PREFIX

    #: The record's pseudo-headers (id, subject, attempt, origin, ...): see ``_kafka_codec``.
    reserved_headers = (":",)

    def __init__(self, url: str, bootstrap: list[str], settings: dict[str, Any]) -> None:
        super().__init__(url, int(settings.get("max_payload", DEFAULT_MAX_PAYLOAD)))
        self._bootstrap = bootstrap
        self._client_id = str(settings.get("client_id") or f"agentos-{uuid.uuid4().hex[:12]}")
        self._fetch_wait = int(settings.get("fetch_max_wait_ms", 10))
        self._session = int(settings.get("session_timeout_ms", 10_000))
        self._heartbeat = int(settings.get("heartbeat_interval_ms", 3_000))
        self._request_timeout = int(settings.get("request_timeout_ms", 30_000))
        self._drain_timeout = float(settings.get("drain_timeout", 5.0))
        self._join_timeout = float(settings.get("join_timeout", 30.0))
        self._prefix = str(settings.get("topic_prefix", ""))
        self._partitions = int(settings.get("partitions", 4))
        self._replication = int(settings.get("replication_factor", 1))
        acks = str(settings.get("acks", "1"))
        if acks not in ("0", "1", "all", "-1"):
            raise ConfigError(f"kafka:// acks must be 0, 1 or all, not {acks!r}")
        if self._fetch_wait < 1:
            raise ConfigError("kafka:// fetch_max_wait_ms must be >= 1 (0 never delivers on Tansu)")
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=self._client_id,
            acks="all" if acks in ("all", "-1") else int(acks),
            linger_ms=0,
            enable_idempotence=False,
            max_request_size=self._max_payload + _OVERHEAD,
            request_timeout_ms=self._request_timeout,
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._known_topics: set[str] = set()
        self._subs: set[KafkaSubscription] = set()
        self._reply_subject = f"{REPLY_PREFIX}{self._client_id}"
        self._reply_topic = topic_for(self._reply_subject, self._prefix)
        self._reply_consumer: AIOKafkaConsumer | None = None
        self._reply_task: asyncio.Task[None] | None = None
        self._reply_lock = asyncio.Lock()

    async def start(self) -> None:
        with kafka_errors(f"connect to {self._shown}"):
            await self._producer.start()

    async def ping(self) -> None:
        """A fresh connection to a bootstrap broker, closed at once (readiness).

        Not through the producer's client: after a broker stop, aiokafka drops a
        broken connection from its pool without closing its socket.
        """
        self._check_open()
        errors: list[BaseException] = []
        for server in self._bootstrap:
            host, _, port = server.rpartition(":")
            try:
                conn = await create_conn(
                    host, int(port), client_id=self._client_id,
                    request_timeout_ms=self._request_timeout,
                )  # fmt: skip
            except (OSError, KafkaError) as exc:
                errors.append(exc)
                continue
            conn.close()
            return
        raise ConnectError(f"kafka ping: no bootstrap broker answers: {errors}")

    # -- publishing --------------------------------------------------------

    async def _produce(self, envelope: Envelope, headers: list[tuple[str, bytes]]) -> None:
        subject = envelope.subject
        key = envelope.key
        with kafka_errors(f"publish to {subject!r}"):
            await self._producer.send_and_wait(
                topic_for(subject, self._prefix),
                envelope.body,
                key=None if key is None else key.encode(),
                headers=headers,
                partition=0 if subject.startswith(REPLY_PREFIX) else None,
            )

    async def publish(self, envelope: Envelope) -> None:
        """Produce ``envelope`` and wait for the broker's acknowledgement (``acks``)."""
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        await self._produce(envelope, to_headers(envelope))

    async def resend(
        self, envelope: Envelope, *, attempt: int = 1, origin: str | None = None
    ) -> None:
        """Produce again: a redelivery (``attempt`` of record ``origin``) or a dead letter."""
        self._check_open(draining_ok=True)
        await self._produce(envelope, to_headers(envelope, attempt=attempt, origin=origin))

    # -- subscriptions -----------------------------------------------------

    def new_consumer(self, group: str | None) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=group,
            enable_auto_commit=False,
            # New groups read retained messages; a fan-out position lost with a
            # restarted broker's topics restarts at the beginning of the new topic.
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_wait,
            max_partition_fetch_bytes=max(1024 * 1024, self._max_payload + _OVERHEAD),
            session_timeout_ms=self._session,
            heartbeat_interval_ms=self._heartbeat,
            request_timeout_ms=max(self._request_timeout, self._session + 5000),
        )

    async def partitions(self, topic: str) -> set[int]:
        """Partitions of ``topic``, creating it first (``partitions`` of them) if needed."""
        if topic not in self._known_topics:
            await self._create_topic(topic, self._partitions)
        found = await self._producer.partitions_for(topic)
        self._known_topics.add(topic)
        return set(found)

    async def _create_topic(self, topic: str, partitions: int) -> None:
        try:
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._bootstrap, client_id=self._client_id
                )
                await admin.start()
                self._admin = admin
            response = await self._admin.create_topics(
                [NewTopic(topic, partitions, self._replication)]
            )
            for _name, code, *_ in response.topic_errors:
                if code not in (0, _TOPIC_EXISTS):
                    log.debug("create topic %s: error code %s", topic, code)
        except KafkaError as exc:
            # Fall back to broker auto-creation through the metadata request.
            log.debug("create topic %s failed: %s", topic, exc)

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """Fan-out (``group=None``) or work-queue subscription; a group waits for its join."""
        sub = KafkaSubscription(
            self,
            subject,
            topic_for(subject, self._prefix),
            handler,
            group,
            opts,
            drain_timeout=self._drain_timeout,
        )
        await sub.start(self._join_timeout)
        self._subs.add(sub)
        return sub

    # -- request / reply ---------------------------------------------------

    async def _start_replies(self) -> None:
        async with self._reply_lock:
            if self._reply_task is not None:
                return
            topic = self._reply_topic
            consumer = self.new_consumer(None)
            try:
                with kafka_errors("open the reply topic"):
                    await self._create_topic(topic, 1)
                    await self._producer.partitions_for(topic)
                    await consumer.start()
                    tp = TopicPartition(topic, 0)
                    consumer.assign([tp])
                    # An explicit position: a reply produced after this point is read
                    # even if the first fetch has not happened yet.
                    ends = await consumer.end_offsets([tp])
                    consumer.seek(tp, ends[tp])
            except BaseException:
                await _stop_consumer(consumer)
                raise
            self._reply_consumer = consumer
            self._reply_task = asyncio.get_running_loop().create_task(self._read_replies(consumer))

    async def _read_replies(self, consumer: AIOKafkaConsumer) -> None:
        waiters = self._waiters
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=1000)
            except KafkaError as exc:
                log.warning("reading replies failed (retrying): %s", exc)
                await asyncio.sleep(0.2)
                continue
            for records in batch.values():
                for record in records:
                    corr = correlation_of(record.headers)
                    key = corr.decode(errors="replace") if corr else None
                    if key is None or waiters.get(key) is None:
                        continue  # late (timed out) or not ours
                    try:
                        reply, _, _ = decode_record(record)
                    except MalformedEnvelope as exc:
                        log.warning("dropped a malformed reply: %s", exc)
                        continue
                    waiters.offer(key, reply)

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """With ``reply_to`` = this bus's reply topic, read from the first request on."""
        if self._reply_task is None:
            await self._start_replies()
        headers = to_headers(envelope, reply_to=self._reply_subject, deadline=deadline)
        return envelope.id, lambda: self._produce(envelope, headers)

    # -- closing -----------------------------------------------------------

    async def close(self) -> None:
        """Drain subscriptions (``drain_timeout``), delete the reply topic, stop clients."""
        if not await self._start_closing():
            return
        try:
            await asyncio.gather(*(sub.unsubscribe() for sub in self._subs))
            self._fail_waiting()
            if self._reply_task is not None:
                self._reply_task.cancel()
                await asyncio.gather(self._reply_task, return_exceptions=True)
            if self._reply_consumer is not None:
                await _stop_consumer(self._reply_consumer)
            if self._admin is not None:
                if self._reply_task is not None:
                    try:
                        async with asyncio.timeout(2):
                            await self._admin.delete_topics([self._reply_topic])
                    except (KafkaError, TimeoutError) as exc:
                        log.debug("could not delete reply topic %s: %s", self._reply_topic, exc)
                await self._admin.close()
            try:
                await self._producer.stop()
            except KafkaError as exc:
                log.debug("producer stop: %s", exc)
        finally:
            self._closed.set()


def _parse(url: str, options: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    parts = urlsplit(url)
    if parts.scheme.lower() != "kafka":
        raise ConfigError(f"not a kafka:// URL: {url!r}")
    hosts = [h.strip() for h in parts.netloc.split(",") if h.strip()]
    if not hosts:
        raise ConfigError(f"kafka:// URL names no broker: {url!r}")
    bootstrap = [h if ":" in h.rsplit("]", 1)[-1] else f"{h}:9092" for h in hosts]
    settings, _ = parse_options(url, options, _OPTIONS)
    return bootstrap, settings


async def connect(url: str, **options: Any) -> KafkaBus:
    """Connect to the Kafka brokers named by ``url``; ``ConnectError`` if none answers."""
    bootstrap, settings = _parse(url, options)
    bus = KafkaBus(url, bootstrap, settings)
    try:
        await bus.start()
    except BaseException:
        await bus.close()
        raise
    return bus
