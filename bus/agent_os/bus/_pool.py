"""Bounded handler concurrency, two ways: a pool of long-lived tasks, or capped tasks.

:class:`Pool`: a subscription puts each message here; at most ``limit``
worker tasks run ``run(item)`` one after another, so the hot path creates no
task per message and concurrency stays capped. ``max_pending`` drops the
oldest waiting item (fan-out's slow-consumer rule); ``after`` runs once a
worker finishes an item (a pull subscription asks for more). NATS uses it.

:class:`Inflight`: one task per delivery, at most ``limit`` at once, for
subscriptions whose read asks the broker for exactly as many messages as
there is room (Redis, SQS, the memory broker's consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

log = logging.getLogger("agent_os.bus")

T = TypeVar("T")


class Pool(Generic[T]):
    """Runs ``run(item)`` on at most ``limit`` long-lived worker tasks."""

    def __init__(
        self,
        limit: int,
        run: Callable[[T], Awaitable[None]],
        *,
        after: Callable[[], Awaitable[None]] | None = None,
        max_pending: int = 0,
        name: str = "",
    ) -> None:
        self._limit, self._run, self._after = limit, run, after
        self._max_pending, self._name = max_pending, name
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._idle = 0
        self._quiet: asyncio.Event | None = None
        self.busy = 0

    @property
    def load(self) -> int:
        """Items running or waiting for a worker."""
        return self.busy + self._queue.qsize()

    def put(self, item: T) -> None:
        if self._max_pending and self._queue.qsize() >= self._max_pending:
            self._queue.get_nowait()
            log.warning("slow consumer on %s: dropped the oldest pending message", self._name)
        self._queue.put_nowait(item)
        if self._queue.qsize() > self._idle and len(self._workers) < self._limit:
            self._workers.append(asyncio.get_running_loop().create_task(self._work()))

    async def _work(self) -> None:
        while True:
            self._idle += 1
            try:
                item = await self._queue.get()
            finally:
                self._idle -= 1
            self.busy += 1
            try:
                await self._run(item)
            except Exception:  # _run handles handler errors; this is a bug in the bus
                log.exception("delivery on %s failed", self._name)
            finally:
                self.busy -= 1
                if self._quiet is not None and self.busy == 0:
                    self._quiet.set()
            if self._after is not None:
                await self._after()

    def take_pending(self) -> list[T]:
        """Remove and return the items no worker has started."""
        items: list[T] = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    async def stop(self, grace: float) -> None:
        """Give running items ``grace`` seconds, then cancel the workers."""
        if self.busy:
            self._quiet = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), grace)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()


class Inflight:
    """Handler tasks running now, at most ``limit``; ``drain`` ends them on shutdown."""

    def __init__(self, limit: int, *, on_done: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self._on_done = on_done
        self._tasks: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def free(self) -> int:
        """Slots free now."""
        return self.limit - len(self._tasks)

    async def room(self) -> int:
        """Slots free, after waiting for one to free up (or for :meth:`wake`) if none is."""
        if self.free <= 0:
            self._freed.clear()
            await self._freed.wait()
        return self.free

    def wake(self) -> None:
        """Wake a reader waiting in :meth:`room` (it is stopping)."""
        self._freed.set()

    def spawn(self, run: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(run)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._freed.set()
        if self._on_done is not None:
            self._on_done()

    async def drain(self, grace: float) -> None:
        """Give running tasks ``grace`` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, stuck = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)
