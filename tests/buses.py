"""The tests' one way to open buses: ``await open_bus(url, **options)``, all closed at the end.

The ``open_bus`` fixture (``tests/conftest.py``) hands a :class:`BusOpener` to a
test and closes what it opened, newest first, at teardown. Pair it with
``servers.bus_url(backend)`` for a bus on a backend's session server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from agent_os.bus import Bus, connect

B = TypeVar("B", bound=Bus)


class BusOpener:
    """Connects buses and remembers them, so one call closes them all."""

    def __init__(self) -> None:
        self.opened: list[Bus] = []

    async def __call__(self, url: str, **options: Any) -> Bus:
        bus = await connect(url, **options)
        self.opened.append(bus)
        return bus

    def on(self, url: str, kind: type[B]) -> Callable[..., Awaitable[B]]:
        """``await opener.on(url, NatsBus)(**options)`` → a bus of that backend class on ``url``."""

        async def open_one(**options: Any) -> B:
            bus = await self(url, **options)
            assert isinstance(bus, kind), (
                f"{url} opened a {type(bus).__name__}, not a {kind.__name__}"
            )
            return bus

        return open_one

    async def close_all(self, timeout: float = 60.0) -> None:
        """Close every bus, newest first; fail naming the URL of one whose close hangs."""
        while self.opened:
            bus = self.opened.pop()
            try:
                await asyncio.wait_for(bus.close(), timeout)
            except TimeoutError:
                where = getattr(bus, "url", type(bus).__name__)
                raise AssertionError(f"Bus.close() hung for {timeout}s on {where}") from None
