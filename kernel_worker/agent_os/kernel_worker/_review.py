"""Human review of SIGSTOP actions.

A SIGSTOP verdict holds the action until an :class:`Approver` decides. The
outcome is approved, denied or timed out, and a timeout is always a deny: a
held action never runs because nobody answered.

``DenyAfterTimeout`` (the default approver) is also the review queue: a UI or
CLI lists :meth:`DenyAfterTimeout.pending` requests and answers them with
:meth:`DenyAfterTimeout.decide`. ``CallbackApprover`` asks a function.
``AutoApprove`` and ``AutoDeny`` exist for tests and demos only.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agent_os.policies._types import Verdict

__all__ = [
    "Approver",
    "AutoApprove",
    "AutoDeny",
    "CallbackApprover",
    "DenyAfterTimeout",
    "ReviewOutcome",
    "ReviewRequest",
]

log = logging.getLogger("agent_os.kernel")


class ReviewOutcome(StrEnum):
    """How a review ended. Anything but ``APPROVED`` means the action does not run."""

    APPROVED = "approved"
    DENIED = "denied"
    TIMEOUT = "timeout"


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """An action held by SIGSTOP, with the verdict that held it."""

    request_id: str
    action: Mapping[str, Any] = field(repr=False)
    verdict: Verdict

    def __post_init__(self) -> None:
        # A reviewer sees the action but cannot change what gets run.
        object.__setattr__(self, "action", MappingProxyType(dict(self.action)))


@runtime_checkable
class Approver(Protocol):
    """Decides held actions. Implementations must return, not raise, and must time out."""

    async def review(self, request: ReviewRequest) -> ReviewOutcome: ...


def _check_timeout(timeout: float) -> float:
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"review timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


class DenyAfterTimeout:
    """Wait up to ``timeout`` seconds for :meth:`decide`; no answer is ``TIMEOUT`` (a deny).

    Safe to :meth:`decide` from another task or another thread.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = _check_timeout(timeout)
        self._pending: dict[str, tuple[ReviewRequest, asyncio.Future[bool]]] = {}
        self._arrivals: list[asyncio.Future[None]] = []

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        if request.request_id in self._pending:
            # Two holds under one id would let one answer release both.
            log.warning("review %s is already pending; denying the duplicate", request.request_id)
            return ReviewOutcome.DENIED
        decision: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[request.request_id] = (request, decision)
        self._wake_waiters()
        try:
            approved = await asyncio.wait_for(asyncio.shield(decision), self.timeout)
        except TimeoutError:
            return ReviewOutcome.TIMEOUT
        finally:
            self._pending.pop(request.request_id, None)
        return ReviewOutcome.APPROVED if approved else ReviewOutcome.DENIED

    def decide(self, request_id: str, approve: bool) -> bool:
        """Answer a pending review. False when no such review is waiting (gone or timed out)."""
        entry = self._pending.get(request_id)
        if entry is None:
            return False
        decision = entry[1]
        loop = decision.get_loop()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return _settle(decision, approve)
        loop.call_soon_threadsafe(_settle, decision, approve)
        return True

    def pending(self) -> list[ReviewRequest]:
        """Requests waiting for a decision, oldest first."""
        return [request for request, _ in self._pending.values()]

    async def next_request(self) -> ReviewRequest:
        """The oldest pending request, waiting for one to arrive if there is none."""
        while not self._pending:
            arrival: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._arrivals.append(arrival)
            try:
                await arrival
            finally:
                if arrival in self._arrivals:
                    self._arrivals.remove(arrival)
        return next(iter(self._pending.values()))[0]

    def _wake_waiters(self) -> None:
        arrivals, self._arrivals = self._arrivals, []
        for arrival in arrivals:
            if not arrival.done():
                arrival.set_result(None)


def _settle(decision: asyncio.Future[bool], approve: bool) -> bool:
    if decision.done():
        return False
    decision.set_result(bool(approve))
    return True


ReviewCallback = Callable[[ReviewRequest], bool | ReviewOutcome | Awaitable[bool | ReviewOutcome]]


class CallbackApprover:
    """Ask ``fn(request)``, sync or async, for ``True``/``False`` or a :class:`ReviewOutcome`.

    Fails closed: an exception from ``fn`` or any other return value is
    ``DENIED``. With ``timeout``, an async ``fn`` that has not answered in time
    is ``TIMEOUT``; a sync ``fn`` runs to completion on the event loop, so keep
    it quick (or make it async).
    """

    def __init__(self, fn: ReviewCallback, *, timeout: float | None = None) -> None:
        self._fn = fn
        self.timeout = None if timeout is None else _check_timeout(timeout)

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        try:
            answer = self._fn(request)
            if inspect.isawaitable(answer):
                answer = await asyncio.wait_for(_await(answer), self.timeout)
        except TimeoutError:
            return ReviewOutcome.TIMEOUT
        except Exception:
            log.exception("review callback failed for %s; denying", request.request_id)
            return ReviewOutcome.DENIED
        if isinstance(answer, ReviewOutcome):
            return answer
        if answer is True:
            return ReviewOutcome.APPROVED
        if answer is not False:
            log.warning("review callback returned %r for %s; denying", answer, request.request_id)
        return ReviewOutcome.DENIED


async def _await(answer: Awaitable[bool | ReviewOutcome]) -> bool | ReviewOutcome:
    return await answer


class AutoApprove:
    """Approve every held action. For tests and demos only: it defeats SIGSTOP."""

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        return ReviewOutcome.APPROVED


class AutoDeny:
    """Deny every held action (SIGSTOP becomes SIGKILL). For tests and demos."""

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        return ReviewOutcome.DENIED
