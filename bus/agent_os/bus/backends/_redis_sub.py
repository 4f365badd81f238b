"""Subscriptions of the ``redis://`` backend: fan-out readers and consumer-group workers.

Each subscription owns one dedicated connection for its blocking ``XREAD`` /
``XREADGROUP`` (so a blocked read never holds a pooled connection another
coroutine needs) and learns that connection's ``CLIENT ID``, so stopping is
``CLIENT UNBLOCK`` rather than waiting out ``BLOCK`` or killing the socket
(which would strand entries the server had just handed over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.connection import ConnectionPool
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from .._delivery import FanoutDelivery
from .._errors import BusError
from .._lease import run_handler
from .._pool import Inflight
from .._protocol import Delivery, Handler, SubscribeOptions
from ._redis_codec import decode_entry, pairs, stream_entries, translate

log = logging.getLogger("agent_os.bus.redis")


class Host(Protocol):
    """What a subscription needs from its bus."""

    client: Redis
    pool: ConnectionPool
    prefix: str
    #: Consumer names of this bus are ``<consumer_prefix>-<next(seq)>``.
    consumer_prefix: str
    seq: Iterator[int]
    block_ms: int
    trim_interval: float
    fanout_maxlen: int
    #: Entries a dead-letter stream keeps (``XADD MAXLEN ~``); each is bounded too.
    dead_letter_maxlen: int
    trim_script: AsyncScript
    fanout_trim_script: AsyncScript
    drain_timeout: float

    @property
    def closed(self) -> bool: ...

    async def execute(self, *args: Any) -> Any:
        """Run one non-blocking command (pipelined with others on the hot path)."""


class BlockingReader:
    """A dedicated connection for blocking reads, woken by ``CLIENT UNBLOCK``."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._conn = pool.make_connection()  # type: ignore[no-untyped-call]
        self.client_id: int | None = None

    async def call(self, *args: Any, timeout: float) -> Any:
        conn = self._conn
        try:
            if self.client_id is None or not conn.is_connected:
                self.client_id = None
                await conn.connect()
                await conn.send_command("CLIENT", "ID")
                self.client_id = int(await conn.read_response())
            await conn.send_command(*args)
            return await conn.read_response(timeout=timeout)
        except BaseException:
            self.client_id = None
            raise

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._conn.disconnect()


class SubscriptionBase:
    """Read loop, bounded handler concurrency and shutdown shared by both kinds."""

    def __init__(
        self, host: Host, subject: str, handler: Handler, options: SubscribeOptions
    ) -> None:
        self.host, self._subject, self._handler, self.options = host, subject, handler, options
        self.key = host.prefix + subject
        self._reader = BlockingReader(host.pool)
        self._inflight = Inflight(options.concurrency)
        self._stopping = asyncio.Event()
        self._active = True
        self._loops: list[asyncio.Task[None]] = []
        self._read_task: asyncio.Task[None] | None = None

    @property
    def subject(self) -> str:
        return self._subject

    def _read_args(self, count: int) -> tuple[Any, ...]:
        raise NotImplementedError

    def _on_entries(self, entries: list[Any]) -> None:
        raise NotImplementedError

    async def _on_read_error(self, exc: ResponseError) -> bool:
        """Handle a server error reply to the read; True when it was dealt with."""
        return False

    async def _trim(self) -> None:
        raise NotImplementedError

    def _start_loops(self) -> None:
        loop = asyncio.get_running_loop()
        self._read_task = loop.create_task(self._read_loop(), name=f"redis-read:{self.key}")
        self._loops = [self._read_task, loop.create_task(self._trim_loop())]

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _read_loop(self) -> None:
        timeout = self.host.block_ms / 1000 + 10.0
        backoff = 0.05
        while self._active:
            free = await self._inflight.room()
            if free <= 0:
                continue
            try:
                reply = await self._reader.call(*self._read_args(min(free, 256)), timeout=timeout)
            except ResponseError as exc:
                if not await self._on_read_error(exc):
                    log.error("redis read on %s refused: %s", self.key, exc)
                    await self._pause(backoff)
                    backoff = min(backoff * 2, 2.0)
                continue
            except (RedisError, OSError) as exc:
                if not self._active:
                    return
                log.warning(
                    "redis read on %s failed, retrying in %.2fs: %s", self.key, backoff, exc
                )
                await self._pause(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.05
            if reply:
                self._on_entries(stream_entries(reply))

    async def _trim_loop(self) -> None:
        while self._active:
            await self._pause(self.host.trim_interval)
            if not self._active:
                return
            try:
                await self._trim()
            except (RedisError, OSError) as exc:
                log.debug("trimming %s failed: %s", self.key, exc)

    def _spawn(self, delivery: Delivery) -> None:
        self._inflight.spawn(run_handler(self._handler, delivery, self.options.ack_wait, self.key))

    async def stop(self) -> None:
        """Stop reading: wake the blocked read with ``CLIENT UNBLOCK``, end the loops."""
        if not self._active:
            return
        self._active = False
        self._stopping.set()
        self._inflight.wake()
        task = self._read_task
        for _ in range(25):
            if task is None or task.done():
                break
            if self._reader.client_id is not None:
                try:
                    await self.host.execute("CLIENT", "UNBLOCK", self._reader.client_id)
                except (RedisError, OSError):
                    break
            await asyncio.wait({task}, timeout=0.02)
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._reader.close()

    async def drain(self, grace: float) -> None:
        """Give in-flight handlers ``grace`` seconds, then cancel the rest."""
        await self._inflight.drain(grace)

    async def release(self) -> None:
        """The bus is closing: hand back what this subscription still holds."""


class FanoutSubscription(SubscriptionBase):
    """``group=None``: ``XREAD`` from the stream's end at subscribe time."""

    async def start(self) -> None:
        try:
            last = await self.host.client.xrevrange(self.key, count=1)
        except (RedisError, OSError) as exc:
            raise translate(exc, f"subscribing to {self._subject!r}") from exc
        # The last existing id, not "$": "$" would be resolved only when the
        # first XREAD reaches the server, losing what is published before that.
        self._last: Any = last[0][0] if last else b"0-0"
        self._start_loops()

    def _read_args(self, count: int) -> tuple[Any, ...]:
        block = self.host.block_ms
        return ("XREAD", "COUNT", count, "BLOCK", block, "STREAMS", self.key, self._last)

    def _on_entries(self, entries: list[Any]) -> None:
        for entry_id, flat in entries:
            self._last = entry_id
            if flat is None:
                continue
            try:
                envelope = decode_entry(self._subject, pairs(flat))
            except BusError as exc:
                log.warning("skipped entry %r on %s: %s", entry_id, self.key, exc)
                continue
            self._spawn(FanoutDelivery(envelope))

    async def _trim(self) -> None:
        await self.host.fanout_trim_script(keys=[self.key], args=[self.host.fanout_maxlen])

    async def unsubscribe(self) -> None:
        """Stop receiving and wait (bounded) for in-flight handlers."""
        await self.stop()
        await self.drain(self.host.drain_timeout)
