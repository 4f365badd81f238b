"""Pipelining for the ``redis://`` backend: many handlers, few round trips.

Each redis-py command costs a connection checkout, a write and a parse, and
a busy worker issues two per verdict (the reply and the ``XACK``). The
:class:`CommandBatcher` sends a command at once when nothing else is on the
wire; commands issued meanwhile queue and go out together as the next
pipeline (no transaction). At low load nothing waits; under load the
batches grow by themselves. Order is kept, so a worker's reply
always reaches Redis before the ``XACK`` it awaits it for.

Every command gets its own result or error: a failing command fails only its
caller, a lost connection fails the whole batch on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

__all__ = ["CommandBatcher"]

_Queued = tuple[tuple[Any, ...], "asyncio.Future[Any]"]


class CommandBatcher:
    """Sends commands at once when the line is free, queued ones as one pipeline after."""

    def __init__(self, client: Redis, *, max_batch: int = 256) -> None:
        self._client = client
        self._max_batch = max_batch
        self._queue: list[_Queued] = []
        self._busy = False
        self._driver: asyncio.Task[None] | None = None
        #: Round trips so far: one per command sent alone, one per pipeline.
        self.round_trips = 0

    async def execute(self, *args: Any) -> Any:
        """Run one command; raises its error as redis-py would."""
        if self._busy:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._queue.append((args, future))
            return await future
        # Nothing on the wire: go now, in the caller's task (no extra turn of the loop).
        self._busy = True
        self.round_trips += 1
        try:
            result = await _reply_or_error(self._client, args)
        finally:
            self._release()
        if isinstance(result, Exception):
            raise result
        return result

    def _release(self) -> None:
        if self._queue:
            self._driver = asyncio.get_running_loop().create_task(
                self._drive(), name="redis-pipeline"
            )
        else:
            self._busy = False

    async def _drive(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._send(batch)
        except asyncio.CancelledError:
            _fail(self._queue, ConnectionError("the bus closed with the command still queued"))
            self._queue.clear()
            raise
        finally:
            self._driver = None
            self._busy = False

    async def _send(self, batch: list[_Queued]) -> None:
        live = [(args, future) for args, future in batch if not future.cancelled()]
        if not live:
            return
        self.round_trips += 1
        try:
            if len(live) == 1:  # alone: a plain command is cheaper than a pipeline
                results: list[Any] = [await _reply_or_error(self._client, live[0][0])]
            else:
                async with self._client.pipeline(transaction=False) as pipe:
                    for args, _ in live:
                        pipe.execute_command(*args)
                    results = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            _fail(live, ConnectionError("the bus closed with the command on the wire"))
            raise
        except Exception as exc:  # the connection failed: every command on it did
            _fail(live, exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def close(self) -> None:
        """Stop sending; commands still queued fail with ``ConnectionError``."""
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver


async def _reply_or_error(client: Redis, args: tuple[Any, ...]) -> Any:
    """The reply, or the command's own error (as a pipeline would return it)."""
    try:
        execute = cast(Callable[..., Awaitable[Any]], client.execute_command)
        return await execute(*args)
    except ResponseError as exc:
        return exc


def _fail(batch: list[_Queued], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
