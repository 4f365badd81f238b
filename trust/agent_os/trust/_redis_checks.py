"""Yes / no checks against Redis, sent together: one pipeline per event-loop iteration.

A worker asks Redis one small question per request (is this nonce fresh? may
this agent spend a token?). One round trip each would cost more client CPU
than the answer is worth, so the questions asked in the same loop iteration
go out as one pipeline (not a transaction: each command is atomic on its own,
which is all these checks need), up to ``max_batch`` at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis.asyncio

#: Queues one check's command on a pipeline: ``queue(pipeline, key, argument)``.
Queue = Callable[[Any, str, Any], Awaitable[Any] | None]


def client_for(url_or_client: Any, client_class: Any, socket_timeout: float) -> tuple[Any, bool]:
    """A client and whether the caller made it: one from ``url_or_client`` if it is a URL."""
    if isinstance(url_or_client, str):
        made = client_class.from_url(
            url_or_client, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        return made, True
    return url_or_client, False


class RedisChecks:
    """Batches checks on one ``redis.asyncio`` client; each answer is its reply's truth.

    ``url_or_client`` is a ``redis://`` URL (the connection pool is then this
    object's, closed by :meth:`close`) or a client the caller owns. A failed
    pipeline fails every check in it with ``unavailable(error)``: a caller
    never waits for ever and never takes a failure for a yes.
    """

    def __init__(
        self,
        url_or_client: str | redis.asyncio.Redis,
        queue: Queue,
        unavailable: Callable[[Exception], Exception],
        *,
        socket_timeout: float,
        max_batch: int,
    ) -> None:
        import redis.asyncio as aredis

        self.client, self._owned = client_for(url_or_client, aredis.Redis, socket_timeout)
        self._queue, self._unavailable = queue, unavailable
        self.max_batch = max_batch
        self._batch: list[tuple[str, Any, asyncio.Future[bool]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def check(self, key: str, argument: Any = None) -> bool:
        """Queue one check on ``key``; its answer once the pipeline carrying it returns."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._batch.append((key, argument, future))
        if len(self._batch) >= self.max_batch:
            self._flush()
        elif len(self._batch) == 1:
            # Callers already scheduled in this loop iteration join the batch first.
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            task = asyncio.ensure_future(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[str, Any, asyncio.Future[bool]]]) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key, argument, _ in batch:
                queued = self._queue(pipe, key, argument)
                if queued is not None:
                    await queued
            results = await pipe.execute()
        except BaseException as exc:  # cancelled, unreachable or a bug alike
            for _, _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    error = self._unavailable(exc)
                    error.__cause__ = exc
                    future.set_exception(error)
                else:
                    future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(bool(result))

    async def ping(self) -> None:
        """One round trip to the server; ``unavailable(error)`` if it does not answer."""
        try:
            await self.client.ping()
        except Exception as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        """Finish the checks in flight; close the connection pool if this object made it."""
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        if self._owned:
            await self.client.aclose()
