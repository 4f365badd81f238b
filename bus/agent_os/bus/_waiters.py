"""Requests waiting for their reply: one table, used by every backend.

A backend's ``request`` registers a waiter under a key its replies carry (the
request id as ``correlation_id``, or an inbox token on NATS) and awaits it;
whatever reads replies hands each one to :meth:`Waiters.offer`. A waiter may
have an ``accept`` test: a reply it refuses is dropped and the request keeps
waiting for another until its timeout. That is how a requester survives a
process that answers first with garbage — anyone who can publish on a reply
subject can send a reply, so the first one to arrive is not always the real
one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from ._envelope import Envelope
from ._errors import BusClosed, ConfigError

log = logging.getLogger("agent_os.bus")

#: Decides whether a reply is the one a request waits for.
Accept = Callable[[Envelope], bool]


@dataclass(slots=True)
class Waiter:
    """One request waiting: its future, its accept test, and the subject it went to."""

    future: asyncio.Future[Envelope]
    accept: Accept | None
    subject: str


class Waiters:
    """The requests a bus client is waiting on, by key.

    ``refused`` counts replies an accept test turned down; ``unmatched``
    counts replies for no waiting request (late, duplicate or foreign).
    """

    def __init__(self) -> None:
        self._waiting: dict[str, Waiter] = {}
        self.refused = 0
        self.unmatched = 0

    def __contains__(self, key: str) -> bool:
        return key in self._waiting

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, key: str, subject: str, accept: Accept | None = None) -> Waiter:
        """Register a waiter under ``key``; ``ConfigError`` if one already waits there."""
        if key in self._waiting:
            raise ConfigError(f"a request with id {key} is already waiting")
        waiter = Waiter(asyncio.get_running_loop().create_future(), accept, subject)
        self._waiting[key] = waiter
        return waiter

    def get(self, key: str) -> Waiter | None:
        """The waiter under ``key`` that still waits, or None."""
        waiter = self._waiting.get(key)
        return waiter if waiter is not None and not waiter.future.done() else None

    def remove(self, key: str) -> None:
        self._waiting.pop(key, None)

    def offer(self, key: str | None, reply: Envelope) -> bool:
        """Hand ``reply`` to the waiter under ``key``; True if it ended the wait."""
        waiter = self.get(key) if key is not None else None
        if waiter is None:
            self.unmatched += 1
            log.debug("dropped reply %s: no request waiting for it", key)
            return False
        if waiter.accept is not None:
            try:
                accepted = waiter.accept(reply)
            except Exception:
                log.exception("reply %s: accept test failed; reply dropped", key)
                accepted = False
            if not accepted:
                self.refused += 1
                return False
        waiter.future.set_result(reply)
        return True

    def fail(self, key: str, error: BaseException) -> None:
        """End the wait under ``key`` with ``error`` (no responders, a bad reply frame)."""
        waiter = self.get(key)
        if waiter is not None:
            waiter.future.set_exception(error)

    def fail_all(self, url: str) -> None:
        """End every wait: the bus at ``url`` is closing under them."""
        for waiter in self._waiting.values():
            if not waiter.future.done():
                waiter.future.set_exception(BusClosed(f"bus {url} closed during the request"))
