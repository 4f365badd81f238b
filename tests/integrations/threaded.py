"""For integration tests whose agent calls tools synchronously, from another thread or loop.

A remote kernel's client must live on a running event loop that the agent's
own thread is not blocking: :func:`on_thread` enters an async context (a
remote or an unreachable kernel from ``support``) on a loop thread and hands
back what it yields with that loop. :class:`FailingAudit` is an audit sink
that cannot record, the fault behind "an exception inside the integration".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any, TypeVar

from tests.integrations.support import LoopThread

T = TypeVar("T")


@contextmanager
def on_thread(manager: AbstractAsyncContextManager[T]) -> Iterator[tuple[T, Any]]:
    """``(value, loop)``: ``manager`` entered on a new loop thread, both closed after."""
    thread = LoopThread()
    try:
        value = thread.run(manager.__aenter__())
        try:
            yield value, thread.loop
        finally:
            thread.run(manager.__aexit__(None, None, None))
    finally:
        thread.close()


class FailingAudit:
    """An audit sink that cannot record (a full disk): nothing may run unrecorded."""

    def record(self, event: Any) -> None:
        raise OSError("no space left on device")
