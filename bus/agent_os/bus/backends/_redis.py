"""The ``redis://`` / ``rediss://`` backend, on Redis Streams (server >= 6.2).

Subject mapping (``prefix`` defaults to ``"agentos:"``):

* every subject ``s`` is the stream ``<prefix>s``; an envelope is one entry
  (fields ``b`` body, ``i`` id, ``r`` reply_to, ``c`` correlation id, ``k`` key,
  ``d`` deadline, ``h:<name>`` per header);
* work queue (``group="g"``): consumer group ``g`` on the stream, created with
  ``XGROUP CREATE ... 0 MKSTREAM`` so entries published before the group
  existed are delivered; each subscription is its own consumer
  (``<client-id>-<n>``) reading ``XREADGROUP ... BLOCK`` on a dedicated
  connection. ``ack`` is ``XACK``. ``nack`` has no Streams equivalent: the
  entry stays pending and ``XCLAIM ... IDLE <large> JUSTID`` ages it so the
  next ``XAUTOCLAIM`` of any group member (ours is woken at once) takes it;
  JUSTID leaves the delivery count alone and the reclaim increments it, so
  ``attempt`` is the server's delivery count, honest across consumers.
  A consumer that died: every subscription runs ``XAUTOCLAIM`` with
  ``min-idle = ack_wait`` every ``ack_wait/4`` (20 ms..2 s). An entry past
  ``max_deliver`` is ``XADD``-ed to ``<prefix><subject>.dlq`` (or
  ``options.dead_letter``) with the x-agentos-* headers and ``XACK``-ed, in one
  ``MULTI``. Distinct groups on one subject each get every message;
* fan-out (``group=None``): ``XREAD BLOCK`` from the last entry id seen at
  subscribe time (not ``$``, which would lose what is published before the
  first read reaches the server);
* replies: ``reply_to`` is ``reply:<client-id>``, the stream
  ``<prefix>reply:<client-id>``, read by one task per bus from id 0 (the stream
  is private, so there is no subscribe race); each reply is ``XADD ... MAXLEN ~
  reply_maxlen`` plus ``EXPIRE reply_ttl`` in one Lua call, and ``close``
  deletes the stream, so an abandoned reply stream disappears by itself.
  Redis cannot tell that nobody listens: ``request`` without a responder ends in
  ``BusTimeout``, never ``NoResponders``.

Stream length: work streams are never trimmed by ``MAXLEN`` (that could drop
unacknowledged requests). Every ``trim_interval`` s each work subscription
runs a Lua script that ``XTRIM MINID`` s below the oldest entry any group still
has pending or unread. A stream that no group reads is trimmed to
``~fanout_maxlen`` by its fan-out subscribers. So acked work costs memory for
at most ``trim_interval``; a fan-out subscriber lagging more than that on a
work subject may miss entries.

Tuning: ``block_ms`` (default 30 000) only bounds how long a dead TCP peer
goes unnoticed: stopping uses ``CLIENT UNBLOCK``. A smaller ``ack_wait`` gives
faster crash recovery and more ``XAUTOCLAIM`` traffic. Options (``connect``
keywords or URL query parameters): ``prefix``, ``max_payload``,
``drain_timeout``, ``reply_maxlen``, ``reply_ttl``, ``fanout_maxlen``,
``dead_letter_maxlen`` (10 000 entries of at most ~1.5 KB each, see ``_dead_letter``),
``trim_interval``, ``block_ms``; other query parameters go to redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import NoScriptError, RedisError

from .._envelope import Envelope
from .._errors import BusError, ConfigError, NotSupported
from .._protocol import DEFAULT_MAX_PAYLOAD, Handler, SubscribeOptions, Subscription
from ._base import BusBase, Route
from ._options import Kind, parse_options, redacted
from ._redis_batch import CommandBatcher
from ._redis_codec import (
    FANOUT_TRIM_SCRIPT,
    REPLY_SCRIPT,
    TRIM_SCRIPT,
    decode_entry,
    entry_fields,
    pairs,
    stream_entries,
    translate,
)
from ._redis_sub import BlockingReader, FanoutSubscription
from ._redis_work import WorkSubscription

__all__ = ["RedisBus", "connect"]

log = logging.getLogger("agent_os.bus.redis")

#: Subjects under this prefix are reply streams (bounded, with a TTL).
REPLY_PREFIX = "reply:"

_OPTION_TYPES: dict[str, Kind] = {
    "prefix": str,
    "max_payload": int,
    "drain_timeout": float,
    "reply_maxlen": int,
    "reply_ttl": int,
    "fanout_maxlen": int,
    "dead_letter_maxlen": int,
    "trim_interval": float,
    "block_ms": int,
}


class RedisBus(BusBase):
    """A :class:`~agent_os.bus.Bus` over Redis Streams. Make one with :func:`connect`."""

    reply_prefix = REPLY_PREFIX

    def __init__(self, url: str, client: aioredis.Redis, **settings: Any) -> None:
        super().__init__(url, settings.get("max_payload", DEFAULT_MAX_PAYLOAD))
        # What the subscriptions use (see ``_redis_sub.Host``).
        self.client = client
        self.pool = client.connection_pool
        self.prefix: str = settings.get("prefix", "agentos:")
        self.consumer_prefix = uuid.uuid4().hex
        self.seq: Iterator[int] = itertools.count(1)
        self.block_ms: int = settings.get("block_ms", 30_000)
        self.trim_interval: float = settings.get("trim_interval", 5.0)
        self.fanout_maxlen: int = settings.get("fanout_maxlen", 10_000)
        self.dead_letter_maxlen: int = settings.get("dead_letter_maxlen", 10_000)
        self.trim_script = client.register_script(TRIM_SCRIPT)
        self.fanout_trim_script = client.register_script(FANOUT_TRIM_SCRIPT)
        self.drain_timeout: float = settings.get("drain_timeout", 5.0)
        self._reply_maxlen: int = settings.get("reply_maxlen", 1000)
        self._reply_ttl: int = settings.get("reply_ttl", 300)
        # Non-blocking commands of the hot path (publish, reply, XACK) are pipelined.
        self._batch = CommandBatcher(client)
        self._reply_script = client.register_script(REPLY_SCRIPT)
        self._reply_subject = REPLY_PREFIX + self.consumer_prefix
        self._reply_key = self.prefix + self._reply_subject
        self._reply_task: asyncio.Task[None] | None = None
        self._reply_reader: BlockingReader | None = None
        self._subs: list[FanoutSubscription | WorkSubscription] = []

    async def execute(self, *args: Any) -> Any:
        """Run one non-blocking command, pipelined with the others of this moment."""
        return await self._batch.execute(*args)

    async def ping(self) -> None:
        """Redis PING (readiness)."""
        self._check_open()
        try:
            await self.client.ping()
        except (RedisError, OSError) as exc:
            raise translate(exc, "ping") from exc

    async def publish(self, envelope: Envelope) -> None:
        """``XADD`` the envelope to its subject's stream."""
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        key = self.prefix + envelope.subject
        try:
            if envelope.subject.startswith(REPLY_PREFIX):
                args = [self._reply_maxlen, self._reply_ttl, *entry_fields(envelope)]
                try:
                    await self.execute("EVALSHA", self._reply_script.sha, 1, key, *args)
                except NoScriptError:  # a restarted server forgot it: load it and run
                    await self._reply_script(keys=[key], args=args)
            else:
                await self.execute("XADD", key, "*", *entry_fields(envelope))
        except (RedisError, OSError) as exc:
            raise translate(exc, f"publishing to {envelope.subject!r}") from exc

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """A fan-out reader (``group=None``) or a consumer of consumer group ``group``."""
        sub: FanoutSubscription | WorkSubscription
        if group is None:
            sub = FanoutSubscription(self, subject, handler, opts)
        else:
            sub = WorkSubscription(self, subject, handler, group, opts)
        await sub.start()
        self._subs.append(sub)
        return sub

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """With ``reply_to`` = this bus's reply stream, read by one task."""
        if self._reply_task is None:
            self._reply_reader = BlockingReader(self.pool)
            self._reply_task = asyncio.get_running_loop().create_task(self._read_replies())
        routed = replace(envelope, reply_to=self._reply_subject, deadline=deadline)
        return envelope.id, lambda: self.publish(routed)

    async def _read_replies(self) -> None:
        reader = self._reply_reader
        assert reader is not None
        last: bytes = b"0-0"  # the stream is ours alone: everything in it is for us
        block = self.block_ms
        backoff = 0.05
        while not self._closed.is_set():
            try:
                reply = await reader.call(
                    "XREAD", "COUNT", 256, "BLOCK", block, "STREAMS", self._reply_key, last,
                    timeout=block / 1000 + 10.0,
                )  # fmt: skip
            except (RedisError, OSError) as exc:
                if self._closing:
                    return
                log.warning("reading replies failed, retrying in %.2fs: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            if not reply:
                continue
            for entry_id, flat in stream_entries(reply):
                last = entry_id
                if flat is not None:
                    self._on_reply(flat)

    def _on_reply(self, flat: list[bytes]) -> None:
        try:
            reply = decode_entry(self._reply_subject, pairs(flat))
        except BusError as exc:
            log.warning("dropped a malformed reply: %s", exc)
            return
        self._waiters.offer(reply.correlation_id, reply)

    async def close(self) -> None:
        """Stop reading, drain handlers (``drain_timeout``), return unacked work, disconnect."""
        if not await self._start_closing():
            return
        try:
            await asyncio.gather(*(sub.stop() for sub in self._subs))
            await asyncio.gather(*(sub.drain(self.drain_timeout) for sub in self._subs))
            await asyncio.gather(*(sub.release() for sub in self._subs))
            self._fail_waiting()
            await self._stop_replies()
            await self._batch.close()
        finally:
            self._closed.set()
            with contextlib.suppress(RedisError, OSError):
                await self.client.aclose()

    async def _stop_replies(self) -> None:
        task, reader = self._reply_task, self._reply_reader
        if task is None or reader is None:
            return
        with contextlib.suppress(RedisError, OSError):
            if reader.client_id is not None:
                await self.execute("CLIENT", "UNBLOCK", reader.client_id)
            await self.client.delete(self._reply_key)
        await asyncio.wait({task}, timeout=0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await reader.close()


def _split_options(url: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Our options, and the URL for redis-py with only the query options it knows."""
    known = URL_QUERY_ARGUMENT_PARSERS
    settings, theirs = parse_options(url, options, _OPTION_TYPES, pass_on=known)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode(theirs))), settings


async def connect(url: str, **options: Any) -> RedisBus:
    """Connect to Redis (>= 6.2) at ``url`` and check that it answers."""
    redis_url, settings = _split_options(url, options)
    try:
        # A blocking pool: past max_connections a command waits for a free
        # connection instead of failing (many agents in flight share one bus).
        pool = BlockingConnectionPool.from_url(
            redis_url,
            max_connections=256,
            timeout=10.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), 3),
            socket_connect_timeout=5.0,
            socket_timeout=10.0,
        )
        client = aioredis.Redis.from_pool(pool)  # the client owns (and closes) the pool
    except ValueError as exc:
        raise ConfigError(f"invalid redis URL {redacted(url)!r}: {exc}") from exc
    try:
        info = await client.info("server")
    except (RedisError, OSError) as exc:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
        raise translate(exc, f"connecting to {redacted(url)}") from exc
    version = tuple(int(p) for p in str(info.get("redis_version", "0")).split(".")[:2])
    if version < (6, 2):
        await client.aclose()
        raise NotSupported(f"redis {info.get('redis_version')} lacks XAUTOCLAIM; need >= 6.2")
    return RedisBus(url, client, **settings)
