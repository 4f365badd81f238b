"""Work-queue subscriptions of the ``redis://`` backend: one consumer of a consumer group."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from redis.exceptions import RedisError, ResponseError

from .._dead_letter import dead_letter
from .._envelope import (
    Envelope,
)
from .._errors import BusError, MalformedEnvelope
from .._protocol import Handler, SubscribeOptions
from .._settle import SettleOnce
from ._base import GROUP_SETTINGS, adopt_group_settings
from ._redis_codec import decode_entry, entry_fields, pairs, translate
from ._redis_sub import Host, SubscriptionBase, log

#: IDLE given to a nacked entry so any group member's reclaim takes it at once.
_NACK_IDLE_MS = 86_400_000


class WorkDelivery(SettleOnce):
    """One delivery of a stream entry to a group consumer; settled at most once."""

    _sub: WorkSubscription

    def __init__(
        self,
        sub: WorkSubscription,
        entry_id: bytes,
        fields: list[bytes],
        envelope: Envelope,
        attempt: int,
    ) -> None:
        super().__init__(sub, envelope, attempt)
        self.entry_id, self.fields = entry_id, fields

    @property
    def origin(self) -> str | None:
        return f"{self._sub.key}#{self.entry_id.decode()}"

    async def _ack(self) -> None:
        await self._sub.ack(self.entry_id)

    async def _redeliver(self, error_code: str, delay: float) -> None:
        await self._sub.redeliver(self.entry_id, delay)

    async def _dead_letter(self, error_code: str, detail: str) -> None:
        await self._sub.dead_letter(self.entry_id, self.fields, error_code, detail, self.attempt)

    async def extend(self) -> None:
        """Still working: re-claiming the entry for its holder resets its idle time."""
        if not self.settled:
            await self._sub.renew(self.entry_id)


class WorkSubscription(SubscriptionBase):
    """One consumer of a consumer group; failures come back through ``XAUTOCLAIM``."""

    def __init__(
        self,
        host: Host,
        subject: str,
        handler: Handler,
        group: str,
        options: SubscribeOptions,
    ) -> None:
        super().__init__(host, subject, handler, options)
        self.group = group
        self.consumer = f"{host.consumer_prefix}-{next(host.seq)}"
        self.unsettled: set[WorkDelivery] = set()
        self._dlq_subject = options.dead_letter_subject(subject)
        self._dlq_key = host.prefix + self._dlq_subject
        self._ack_wait_ms = max(1, int(options.ack_wait * 1000))
        self._reclaim_now = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self.host.closed

    async def start(self) -> None:
        try:
            await self._ensure_group()
        except (RedisError, OSError) as exc:
            raise translate(exc, f"joining group {self.group!r} on {self._subject!r}") from exc
        self._start_loops()
        self._loops.append(asyncio.get_running_loop().create_task(self._reclaim_loop()))

    async def _ensure_group(self) -> None:
        client = self.host.client
        try:
            # Id 0, not $: messages published before the group existed are kept for it.
            await client.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Redis keeps no settings for a group: the first member records its own, and
        # every later member adopts them, so all reclaim after the same idle time and
        # dead-letter after the same number of deliveries.
        settings = f"{self.host.prefix}group-settings:{self._subject}:{self.group}"
        mine = {name: repr(getattr(self.options, name)) for name in GROUP_SETTINGS}
        async with client.pipeline(transaction=True) as pipe:
            for name, value in mine.items():
                pipe.hsetnx(settings, name, value)
            pipe.hgetall(settings)
            recorded = (await pipe.execute())[-1]
        existing: dict[str, float] = {}
        for name in GROUP_SETTINGS:
            with contextlib.suppress(TypeError, ValueError):
                existing[name] = float(recorded.get(name.encode()))
        where = f"group {self.group!r} on {self.key}"
        self.options = adopt_group_settings(self.options, existing, where)
        self._ack_wait_ms = max(1, int(self.options.ack_wait * 1000))

    async def _on_read_error(self, exc: ResponseError) -> bool:
        if "NOGROUP" not in str(exc):
            return False
        # The server restarted without persistence: the stream and group are gone.
        log.warning("group %s on %s vanished; recreating it", self.group, self.key)
        with contextlib.suppress(RedisError, OSError):
            await self._ensure_group()
        return True

    def _read_args(self, count: int) -> tuple[Any, ...]:
        return (
            "XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", count,
            "BLOCK", self.host.block_ms, "STREAMS", self.key, ">",
        )  # fmt: skip

    def _on_entries(self, entries: list[Any]) -> None:
        for entry_id, flat in entries:
            self._deliver(entry_id, flat, 1)

    def _deliver(self, entry_id: bytes, flat: list[bytes] | None, attempt: int) -> None:
        if flat is None:  # deleted while pending (trimmed by hand): nothing to deliver
            asyncio.get_running_loop().create_task(self._quiet_ack(entry_id))
            return
        try:
            envelope = decode_entry(self._subject, pairs(flat))
        except BusError as exc:
            log.warning("dead-lettering entry %r on %s: %s", entry_id, self.key, exc)
            coro = self.dead_letter(entry_id, flat, exc.code, str(exc), attempt)
            asyncio.get_running_loop().create_task(coro)
            return
        self._spawn(WorkDelivery(self, entry_id, flat, envelope, attempt))

    async def _quiet_ack(self, entry_id: bytes) -> None:
        with contextlib.suppress(BusError):
            await self.ack(entry_id)

    async def ack(self, entry_id: bytes) -> None:
        try:
            await self.host.execute("XACK", self.key, self.group, entry_id)
        except (RedisError, OSError) as exc:
            raise translate(exc, f"acking on {self._subject!r}") from exc

    async def redeliver(self, entry_id: bytes, delay: float) -> None:
        # Streams have no nack: the entry stays pending and we age it past
        # ack_wait (or to ack_wait - delay), so the next XAUTOCLAIM of any group
        # member takes it. JUSTID keeps the delivery count unchanged; the
        # reclaim increments it, so ``attempt`` stays honest across consumers.
        delay_ms = int(max(delay, 0.0) * 1000)
        idle = _NACK_IDLE_MS if delay_ms == 0 else max(0, self._ack_wait_ms - delay_ms)
        try:
            await self._age(entry_id, idle)
        except (RedisError, OSError) as exc:
            raise translate(exc, f"nacking on {self._subject!r}") from exc
        if delay_ms == 0:
            self._reclaim_now.set()
        else:
            asyncio.get_running_loop().call_later(delay, self._reclaim_now.set)

    async def renew(self, entry_id: bytes) -> None:
        try:
            await self._age(entry_id, 0)
        except (RedisError, OSError) as exc:
            raise translate(exc, f"renewing a lease on {self._subject!r}") from exc

    async def _age(self, entry_id: bytes, idle_ms: int) -> None:
        """Keep ``entry_id`` pending but make it look idle for ``idle_ms``."""
        await self.host.client.xclaim(
            self.key, self.group, self.consumer, 0, [entry_id], idle=idle_ms, justid=True
        )

    async def dead_letter(
        self, entry_id: bytes, fields: list[bytes], code: str, detail: str, attempts: int
    ) -> None:
        try:
            envelope = decode_entry(self._subject, pairs(fields))
        except MalformedEnvelope:
            # What can be kept of an entry that is no envelope: its body field, if any.
            raw = dict(pairs(fields))
            body = raw.get(b"b", b"")
            envelope = Envelope(self._subject, body, id=entry_id.decode(errors="replace"))
        dead = dead_letter(envelope, self._dlq_subject, code, detail, attempts)
        flat = entry_fields(dead)
        log.info("dead-lettering %r from %s to %s (%s)", entry_id, self.key, self._dlq_key, code)
        try:
            async with self.host.client.pipeline(transaction=True) as pipe:
                pipe.execute_command(
                    "XADD", self._dlq_key, "MAXLEN", "~", self.host.dead_letter_maxlen, "*", *flat
                )
                pipe.execute_command("XACK", self.key, self.group, entry_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise translate(exc, f"dead-lettering on {self._subject!r}") from exc

    async def _reclaim_loop(self) -> None:
        interval = min(max(self.options.ack_wait / 4, 0.02), 2.0)
        while self._active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reclaim_now.wait(), interval)
            self._reclaim_now.clear()
            if not self._active:
                return
            try:
                await self._reclaim()
            except (RedisError, OSError) as exc:
                log.debug("reclaim on %s failed: %s", self.key, exc)

    async def _reclaim(self) -> None:
        """Take over entries idle past ack_wait (crashed consumers, nacks)."""
        cursor: Any = "0-0"
        # XAUTOCLAIM scans a bounded stretch of the pending list per call: follow
        # the cursor a few pages so idle entries behind busy ones are found too.
        for _ in range(8):
            free = self._inflight.free
            if free <= 0:
                return
            try:
                reply = await self.host.client.xautoclaim(
                    self.key, self.group, self.consumer, self._ack_wait_ms, cursor, count=free
                )
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self._ensure_group()
                    return
                raise
            cursor = reply[0]
            if reply[1]:
                await self._take_over(reply[1])
            if cursor in (b"0-0", "0-0"):
                return

    async def _take_over(self, claimed: list[tuple[bytes, dict[bytes, bytes] | None]]) -> None:
        pending = await self.host.client.xpending_range(
            self.key,
            self.group,
            min=claimed[0][0],
            max=claimed[-1][0],
            count=len(claimed) + len(self.unsettled) + 64,
            consumername=self.consumer,
        )
        counts = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        for entry_id, fields in claimed:
            attempt = counts.get(entry_id, 2)
            flat = None if fields is None else [x for kv in fields.items() for x in kv]
            if attempt > self.options.max_deliver and flat is not None:
                detail = f"not acknowledged within {self.options.ack_wait}s"
                with contextlib.suppress(BusError):
                    await self.dead_letter(entry_id, flat, "ack_timeout", detail, attempt - 1)
                continue
            self._deliver(entry_id, flat, attempt)

    async def _trim(self) -> None:
        await self.host.trim_script(keys=[self.key])

    async def unsubscribe(self) -> None:
        """Stop receiving and wait (bounded) for in-flight handlers; they may still ack."""
        await self.stop()
        await self.drain(self.host.drain_timeout)
        await self._forget_consumer()

    async def release(self) -> None:
        """Give unsettled deliveries back to the group now, as a nack would."""
        for delivery in list(self.unsettled):
            delivery.take_back()
            with contextlib.suppress(RedisError, OSError):
                await self._age(delivery.entry_id, _NACK_IDLE_MS)
        await self._forget_consumer()

    async def _forget_consumer(self) -> None:
        # Deleting a consumer drops its pending entries, so only an empty one goes.
        with contextlib.suppress(RedisError, OSError):
            info = await self.host.client.xpending_range(
                self.key, self.group, min="-", max="+", count=1, consumername=self.consumer
            )
            if not info:
                await self.host.client.xgroup_delconsumer(self.key, self.group, self.consumer)
