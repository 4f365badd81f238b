"""The ``sqs://`` backend: AWS SQS (or a compatible server) through aioboto3.

URL: ``sqs://<region>/<prefix>?endpoint_url=http://127.0.0.1:PORT&wait_time=1``.
Credentials come from the usual AWS chain (environment, profile, instance
role) or from the ``aws_access_key_id`` / ``aws_secret_access_key`` /
``aws_session_token`` options; never from the URL.

Mapping (names are spelled by :mod:`._sqs_names`: ``.`` becomes ``-``, other
characters are escaped injectively, long names are cut and hashed):

* **subject → work queue** ``<prefix>-<subject>``, created on first use by
  ``publish`` or ``subscribe``, so messages published before any consumer
  joined are kept. Every group on a subject consumes this one queue: two
  *different* groups on one subject compete instead of each getting a copy.
* **work-queue consumers**: long polling (``wait_time``), up to 10 messages per
  receive, ``VisibilityTimeout = ceil(ack_wait)`` (at least 1 s), ``attempt`` =
  ``ApproximateReceiveCount``. ``ack`` = ``DeleteMessage`` (coalesced into
  ``DeleteMessageBatch``); ``nack(delay)`` = ``ChangeMessageVisibility(delay)``
  (0 = at once).
* **dead letters**, two paths. (1) A ``nack`` on the last attempt, a
  ``reject`` or a malformed message: the consumer publishes the envelope to
  the dead-letter subject (``<subject>.dlq``) with the error headers and then
  deletes it. (2) A consumer that never settles (crash): the work queue has a
  redrive policy to the dead-letter subject's own queue with
  ``maxReceiveCount = max_deliver``, so SQS moves the message itself; it
  carries no headers, so a reader of the dead-letter subject adds
  ``x-agentos-error-code: ack_timeout``, the original subject and the
  approximate attempt count.
* **fan-out** (``group=None``): SQS has none, so each fan-out subscriber owns a
  queue ``<prefix>-<subject>_s<token>`` (60 s retention), deleted on
  unsubscribe / close. ``publish`` finds a subject's fan-out queues with
  ``ListQueues(QueueNamePrefix)`` and caches the answer ``route_ttl`` seconds
  (default 1): a subscriber on *another* bus may miss up to that long of
  messages after it subscribes (real SQS lists new queues with a further
  eventual-consistency lag). A subject that has fan-out queues and no work
  queue yet is treated as fan-out only: nothing is retained for it.
* **request/reply**: each bus owns a reply inbox ``_inbox.<client id>`` →
  queue ``<prefix>-_r<client id>`` (60 s retention), created at its first
  request, polled by one task, matched by correlation id, deleted on close.
  A reply to an inbox that no longer exists is dropped. SQS cannot tell
  whether anyone consumes a subject, so ``request`` never raises
  ``NoResponders``: it waits for ``BusTimeout``.
* **envelope**: the :func:`encode` frame, base64 in the message body (bodies
  are text and may not hold raw bytes; attributes are capped at 10 per
  message). Base64 costs 4/3, so ``max_payload`` defaults to 188 KiB under
  the 256 KiB SQS limit.

Tuning: ``wait_time`` (0-20 s) is how long an idle receive waits on the
server. Delivery latency does not depend on it (a waiting receive returns as
soon as a message arrives) but unsubscribe/close and, on moto, redelivery
after a visibility timeout may take up to ``wait_time``; higher means fewer
empty receives (cost on AWS). Use 20 in production, 1 in tests. Other
options: ``route_ttl``, ``drain_timeout``, ``max_payload``,
``dead_letter_retention`` (seconds a dead-letter queue keeps a message, 1 day),
``max_pool_connections`` (each polling subscription holds one connection),
``connect_timeout``, ``max_attempts`` (botocore's total attempts per call, with
its standard backoff). Standard (not FIFO) queues: ``key`` ordering is not kept,
and delivery is at least once (duplicates happen; consumers are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from .._envelope import Envelope
from .._errors import BusError, ConfigError
from .._protocol import Handler, SubscribeOptions, Subscription
from ._base import BusBase, Route, adopt_group_settings
from ._sqs_client import SESSION_OPTIONS, QueueGone, SqsClient, parse_url, to_body
from ._sqs_consumer import SqsSubscription
from ._sqs_names import (
    INBOX_PREFIX,
    fanout_queue_name,
    fanout_queue_prefix,
    is_fanout_of,
    queue_name_of,
    reply_client_id,
    work_queue_name,
)

__all__ = ["DEFAULT_SQS_MAX_PAYLOAD", "SqsBus", "connect"]

log = logging.getLogger("agent_os.bus.sqs")

#: 256 KiB of base64 holds 192 KiB of frame; 4 KiB is left for the frame's metadata.
DEFAULT_SQS_MAX_PAYLOAD = 188 * 1024
_MAX_INBOX_URLS = 4096
_PRIVATE_RETENTION = {"MessageRetentionPeriod": "60"}


@dataclass(frozen=True, slots=True)
class _Route:
    expires: float
    work: str | None
    fanout: tuple[str, ...]


class SqsBus(BusBase):
    """A :class:`~agent_os.bus.Bus` over SQS queues; see the module docstring."""

    reply_prefix = INBOX_PREFIX

    def __init__(
        self,
        url: str,
        sqs: SqsClient,
        *,
        prefix: str,
        wait_time: int = 20,
        route_ttl: float = 1.0,
        drain_timeout: float = 5.0,
        max_payload: int = DEFAULT_SQS_MAX_PAYLOAD,
        dead_letter_retention: int = 86_400,
    ) -> None:
        super().__init__(url, max_payload)
        self.sqs, self._prefix = sqs, prefix
        self._dead_letter_retention = dead_letter_retention
        self.wait_time, self.drain_timeout = wait_time, drain_timeout
        self._route_ttl = route_ttl
        self._client_id = uuid.uuid4().hex[:16]
        self._reply_subject = f"{INBOX_PREFIX}{self._client_id}"
        self._inbox: SqsSubscription | None = None
        self._inbox_lock = asyncio.Lock()
        self._subs: set[SqsSubscription] = set()
        self._work_urls: dict[str, str] = {}
        self._inbox_urls: dict[str, str] = {}
        self._routes: dict[str, _Route] = {}
        self._refreshing: dict[str, asyncio.Future[_Route]] = {}

    async def ping(self) -> None:
        """A one-result ListQueues (readiness)."""
        self._check_open()
        await self.sqs.call("list_queues", QueueNamePrefix=self._prefix, MaxResults=1)

    async def publish(self, envelope: Envelope) -> None:
        """Send to the subject's work queue and to each of its fan-out queues."""
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        body = to_body(envelope)
        subject = envelope.subject
        if reply_client_id(subject) is not None:
            await self._reply(subject, body)
            return
        for retry in (False, True):
            route = self._routes.get(subject)
            if route is None or route.expires < time.monotonic():
                route = await self._refresh(subject)
            try:
                if route.work is not None:
                    await self.sqs.send(route.work, body)
                if route.fanout:
                    await asyncio.gather(*(self._send_fanout(u, body) for u in route.fanout))
                return
            except QueueGone:
                # The server lost the queue (deleted, or restarted without state).
                self._routes.pop(subject, None)
                self._work_urls.pop(subject, None)
                if retry:
                    raise

    async def _send_fanout(self, url: str, body: str) -> None:
        try:
            await self.sqs.send(url, body)
        except QueueGone:
            log.debug("fan-out queue %s is gone (subscriber left)", url)

    async def _reply(self, subject: str, body: str) -> None:
        # Never created here: a reply to a requester that has gone is dropped, not kept.
        url = self._inbox_urls.get(subject)
        if url is None:
            url = await self.sqs.queue_url(work_queue_name(self._prefix, subject))
            if url is None:
                log.debug("dropped reply to %s: the requester's inbox is gone", subject)
                return
            if len(self._inbox_urls) >= _MAX_INBOX_URLS:
                self._inbox_urls.clear()  # a responder meets many short-lived clients
            self._inbox_urls[subject] = url
        try:
            await self.sqs.send(url, body)
        except QueueGone:
            self._inbox_urls.pop(subject, None)
            log.debug("dropped reply to %s: the requester's inbox is gone", subject)

    async def _refresh(self, subject: str) -> _Route:
        pending = self._refreshing.get(subject)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Route] = asyncio.get_running_loop().create_future()
        self._refreshing[subject] = future
        try:
            route = await self._lookup(subject)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved here; waiters re-raise it
            raise
        else:
            future.set_result(route)
            self._routes[subject] = route
            return route
        finally:
            self._refreshing.pop(subject, None)

    async def _lookup(self, subject: str) -> _Route:
        list_prefix = fanout_queue_prefix(self._prefix, subject)
        urls = await self.sqs.list_queues(list_prefix)
        fanout = tuple(u for u in urls if is_fanout_of(queue_name_of(u), list_prefix))
        work = self._work_urls.get(subject)
        if work is None:
            name = work_queue_name(self._prefix, subject)
            work = await (self.sqs.queue_url(name) if fanout else self.sqs.create_queue(name))
            if work is not None:
                self._work_urls[subject] = work
        return _Route(time.monotonic() + self._route_ttl, work, fanout)

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """Consume the subject's work queue (``group``) or a private fan-out queue."""
        sub = SqsSubscription(self, subject, handler, opts, "fanout" if group is None else "work")
        await sub.start()
        self._subs.add(sub)
        return sub

    async def setup_queue(self, sub: SqsSubscription) -> str:
        """Create (or re-create) the queue ``sub`` reads; called by the subscription."""
        subject = sub.subject
        if sub.kind == "inbox":
            url = await self.sqs.create_queue(
                work_queue_name(self._prefix, subject), _PRIVATE_RETENTION
            )
            self._inbox_urls[subject] = url
            return url
        self._routes.pop(subject, None)
        if sub.kind == "fanout":
            name = fanout_queue_name(self._prefix, subject, sub.token)
            return await self.sqs.create_queue(name, _PRIVATE_RETENTION)
        url = await self.sqs.create_queue(work_queue_name(self._prefix, subject))
        self._work_urls[subject] = url
        dlq_subject = sub.dead_letter_subject
        dlq = await self.sqs.create_queue(work_queue_name(self._prefix, dlq_subject))
        self._work_urls[dlq_subject] = dlq
        # Dead letters age out: a garbage flood must not be kept for SQS's default 4 days.
        await self.sqs.call(
            "set_queue_attributes",
            QueueUrl=dlq,
            Attributes={"MessageRetentionPeriod": str(self._dead_letter_retention)},
        )
        # The redrive policy keeps the group's max_deliver (SQS moves a message after
        # maxReceiveCount receives): the first member sets it, later ones adopt it.
        got = await self.sqs.call(
            "get_queue_attributes", QueueUrl=url, AttributeNames=["RedrivePolicy"]
        )
        existing = _max_receive_count(got.get("Attributes", {}).get("RedrivePolicy"))
        if existing is not None:
            where = f"queue {work_queue_name(self._prefix, subject)}"
            sub.options = adopt_group_settings(sub.options, {"max_deliver": existing}, where)
            return url
        redrive = {
            "deadLetterTargetArn": await self.sqs.queue_arn(dlq),
            "maxReceiveCount": min(1000, sub.options.max_deliver),
        }
        await self.sqs.call(
            "set_queue_attributes", QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(redrive)}
        )
        return url

    async def release(self, sub: SqsSubscription) -> None:
        """A subscription stopped: forget it and delete its private queue."""
        self._subs.discard(sub)
        if sub.kind == "work" or not sub.url:
            return
        self._routes.pop(sub.subject, None)
        if sub.kind == "inbox":
            self._inbox_urls.pop(sub.subject, None)
        try:
            await self.sqs.call("delete_queue", QueueUrl=sub.url)
        except BusError as exc:
            log.warning("could not delete private queue %s: %s", sub.url, exc)

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """With ``reply_to`` = this bus's inbox queue, created by the first request."""

        async def send() -> None:
            if self._inbox is None:
                await self._open_inbox()
            await self.publish(replace(envelope, reply_to=self._reply_subject, deadline=deadline))

        return envelope.id, send

    async def _open_inbox(self) -> None:
        async with self._inbox_lock:
            if self._inbox is None:
                inbox = SqsSubscription(
                    self,
                    self._reply_subject,
                    None,
                    SubscribeOptions(ack_wait=30.0),
                    "inbox",
                    on_reply=self._on_reply,
                )
                await inbox.start()
                self._inbox = inbox

    def _on_reply(self, reply: Envelope) -> None:
        self._waiters.offer(reply.correlation_id, reply)

    async def close(self) -> None:
        """Stop polling, drain handlers (up to ``drain_timeout``), delete private queues."""
        if not await self._start_closing():
            return
        try:
            subs: list[SqsSubscription] = list(self._subs)
            if self._inbox is not None:
                subs.append(self._inbox)
            await asyncio.gather(*(s.unsubscribe() for s in subs), return_exceptions=True)
            self._fail_waiting()
        finally:
            await self.sqs.close()
            self._closed.set()


def _max_receive_count(policy: str | None) -> int | None:
    """``maxReceiveCount`` of a queue's redrive policy, if it has a readable one."""
    try:
        count = json.loads(policy or "null")["maxReceiveCount"]
        return int(count) if int(count) > 0 else None
    except (ValueError, TypeError, KeyError):
        return None


async def connect(url: str, **options: Any) -> SqsBus:
    """Open one aioboto3 SQS client for a new bus and check the endpoint answers."""
    import aioboto3
    from botocore.config import Config

    region, prefix, settings = parse_url(url, options, DEFAULT_SQS_MAX_PAYLOAD)
    wait_time = int(settings.pop("wait_time", 20))
    session_options = {k: settings.pop(k) for k in SESSION_OPTIONS if k in settings}
    config = Config(
        max_pool_connections=int(settings.pop("max_pool_connections", 64)),
        connect_timeout=float(settings.pop("connect_timeout", 5.0)),
        read_timeout=wait_time + 15,
        retries={"mode": "standard", "total_max_attempts": int(settings.pop("max_attempts", 3))},
    )
    stack = contextlib.AsyncExitStack()
    try:
        session = aioboto3.Session(**session_options)
        client = await stack.enter_async_context(
            session.client(
                "sqs",
                region_name=region,
                endpoint_url=settings.pop("endpoint_url", None),
                config=config,
            )
        )
    except Exception as exc:
        await stack.aclose()
        raise ConfigError(f"cannot create an SQS client for {url!r}: {exc}") from exc
    sqs = SqsClient(client, stack)
    try:
        await sqs.call("list_queues", QueueNamePrefix=prefix, MaxResults=1)
    except BusError:
        await sqs.close()
        raise
    return SqsBus(
        url,
        sqs,
        prefix=prefix,
        wait_time=wait_time,
        route_ttl=float(settings.get("route_ttl", 1.0)),
        drain_timeout=float(settings.get("drain_timeout", 5.0)),
        max_payload=int(settings.get("max_payload", DEFAULT_SQS_MAX_PAYLOAD)),
        dead_letter_retention=int(settings.get("dead_letter_retention", 86_400)),
    )
