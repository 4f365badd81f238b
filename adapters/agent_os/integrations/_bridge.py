"""Sync and async callers reaching coroutines that live on some event loop.

A remote kernel's client talks through a bus connected on one event loop; a
framework may call a tool synchronously from another thread (LangGraph runs
sync tools in a thread pool), or asynchronously on another loop. These two
functions get the coroutine run where it belongs and its result back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ._errors import LoopBlocked

__all__ = ["EventLoopThread", "await_on", "run_blocking"]

T = TypeVar("T")


def _running() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _bounded(factory: Callable[[], Awaitable[T]], timeout: float | None) -> T:
    return await asyncio.wait_for(factory(), timeout)


def run_blocking(
    loop: asyncio.AbstractEventLoop | None,
    factory: Callable[[], Awaitable[T]],
    timeout: float | None,
) -> T:
    """Run ``factory()`` to completion from sync code, on ``loop`` when it is running.

    Without a running ``loop`` the coroutine runs on a fresh loop: in this
    thread when it has none, else in a helper thread (a sync call made from
    async code must not nest loops). Raises :class:`LoopBlocked` when the
    caller's own thread is running ``loop``: waiting would deadlock it.
    """
    running = _running()
    if loop is not None and loop.is_running():
        if loop is running:
            raise LoopBlocked(
                "a synchronous tool call cannot wait on the event loop it runs on;"
                " use the async API (ainvoke / astream)"
            )
        future = asyncio.run_coroutine_threadsafe(_bounded(factory, timeout), loop)
        return future.result()
    if running is None:
        return asyncio.run(_bounded(factory, timeout))
    with concurrent.futures.ThreadPoolExecutor(1, "agent-os-bridge") as pool:
        return pool.submit(asyncio.run, _bounded(factory, timeout)).result()


async def await_on(
    loop: asyncio.AbstractEventLoop | None, factory: Callable[[], Awaitable[T]]
) -> T:
    """Await ``factory()`` on ``loop`` when it is another running loop, else right here."""
    running = asyncio.get_running_loop()
    if loop is None or loop is running or not loop.is_running():
        return await factory()

    async def call() -> T:
        return await factory()

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), loop))


class EventLoopThread:
    """An event loop running in a daemon thread: a home for a remote kernel's bus.

    Sync agents (``invoke``, ``kickoff``) reach a remote kernel through a bus
    connected on a loop that keeps running while they block; connect the bus
    with :meth:`run` and pass :attr:`loop` to the kernel::

        thread = EventLoopThread()
        bus = thread.run(connect("nats://127.0.0.1:4222"))
        kernel = LangChainKernel(KernelClient(bus, identity, keys), loop=thread.loop)
    """

    def __init__(self, name: str = "agent-os-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the thread's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop and join the thread (idempotent)."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self.loop.close()

    def __enter__(self) -> EventLoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
