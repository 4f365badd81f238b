"""The lifecycle every bus consumer of the kernel shares."""

from __future__ import annotations

import asyncio
import signal
from types import TracebackType
from typing import Self


class Service:
    """``start`` / ``run`` until shutdown / idempotent ``shutdown`` / ``async with``.

    Subclasses implement :meth:`start` (subscribe; return once consuming) and
    :meth:`_stop` (stop consuming and let in-flight work finish).
    """

    def __init__(self) -> None:
        self._stopped = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        raise NotImplementedError

    async def _stop(self) -> None:
        raise NotImplementedError

    async def run(self, *, install_signal_handlers: bool = False) -> None:
        """Consume until :meth:`shutdown` (or SIGTERM/SIGINT when asked to handle them).

        The handlers are in place before consuming starts (a SIGTERM right after
        the "consuming" log line still drains); one that arrives during
        ``start`` shuts down once ``start`` has returned.
        """
        started = asyncio.Event()
        if install_signal_handlers:
            loop = asyncio.get_running_loop()

            async def stop_after_start() -> None:
                await started.wait()
                await self.shutdown()

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(stop_after_start()))
        try:
            await self.start()
        finally:
            started.set()
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop consuming and let in-flight work finish. Idempotent."""
        if self._closing:
            await self._stopped.wait()
            return
        self._closing = True
        try:
            await self._stop()
        finally:
            self._stopped.set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()
