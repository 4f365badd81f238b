"""The tests' one way to wait for a condition: poll it until it holds, or fail saying what."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    condition: Callable[[], T | Awaitable[T]],
    within: float,
    what: str,
    *,
    interval: float = 0.01,
) -> T:
    """Poll ``condition`` (sync or async) until it returns something truthy; return that.

    Past ``within`` seconds it fails with an ``AssertionError`` that names
    what was awaited and the last value the condition gave. An exception from
    the condition propagates at once: it is a broken test, not "not yet".
    """
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within}s waiting for: {what} (last: {value!r})")
        await asyncio.sleep(interval)
