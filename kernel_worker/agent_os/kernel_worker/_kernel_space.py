"""KernelSpace: the in-process kernel.

Functions registered with a ``KernelSpace`` are governed: each call becomes an
action (its type, tool, and the call's arguments bound by parameter name),
the policy judges it, and only then does the function run, or not::

    kernel = KernelSpace(policy="strict")

    @kernel.register(action="file_write")
    def write(path: str, content: str) -> None: ...

    await write("/etc/passwd", "x")      # raises PolicyViolation; nothing written

Signals: SIGKILL raises :class:`PolicyViolation` before the function runs;
SIGSTOP holds the call for the approver (approved runs; denied or timed out
raises); SIGWARN logs to ``agent_os.kernel`` and runs. Every decision and every
review outcome is recorded to the audit sink *before* the function runs, and
an audit sink that fails stops the call: nothing runs unrecorded.

Sync functions run inline on the event loop by default, as the agent's own
code would; pass ``run_sync_in_thread=True`` to run them in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from agent_os.audit._events import AuditEvent, AuditSink, MemoryAuditLog
from agent_os.bus import new_id
from agent_os.observability import Metrics, observed
from agent_os.policies._errors import PolicyViolation
from agent_os.policies._policy import Policy, load_policy
from agent_os.policies._types import Decision, Signal, Verdict
from agent_os.review import ReviewQueue

from ._call_args import bind_call, json_safe, signature_of
from ._governance import Governance
from ._review import Approver, DenyAfterTimeout, ReviewOutcome

__all__ = ["KernelSpace"]

log = logging.getLogger("agent_os.kernel")

P = ParamSpec("P")
R = TypeVar("R")

ArgMap = Mapping[str, str] | Callable[[dict[str, Any]], Mapping[str, Any]]
_GOVERNED = "__agent_os_governed__"


class Governor(Protocol):
    """What ``kernel.register(action=...)`` returns: a decorator that keeps the signature."""

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, Coroutine[Any, Any, R]]: ...


@dataclass(frozen=True, slots=True)
class _Registration:
    fn: Callable[..., Any]
    action: str
    tool: str | None
    arg_map: ArgMap | None
    signature: inspect.Signature | None


class KernelSpace:
    """An in-process kernel: governs registered functions under one policy.

    ``policy`` is a preset name, a policy file path, or a :class:`Policy`.
    ``metrics=True`` records Prometheus metrics on prometheus_client's
    default registry, whose collectors every kernel in the process shares (see
    :attr:`metrics`); pass a :class:`Metrics` to use another registry. ``audit`` defaults
    to a :class:`MemoryAuditLog`, ``approver`` to :class:`DenyAfterTimeout`.
    ``review`` (a :class:`~agent_os.review.ReviewQueue`) makes SIGSTOP
    durable: held calls are recorded in the review store and wait for a
    reviewer's decision (``agent-os review``, the console) instead of the
    approver; no decision by the deadline is a deny.
    ``capabilities`` are the agent's granted capabilities, checked by rules
    that require them (``None``: the policy's own default).
    """

    def __init__(
        self,
        policy: str | Policy | os.PathLike[str] = "strict",
        *,
        metrics: bool | Metrics = False,
        audit: AuditSink | None = None,
        approver: Approver | None = None,
        review: ReviewQueue | None = None,
        agent_id: str = "local",
        capabilities: Iterable[str] | None = None,
        run_sync_in_thread: bool = False,
    ) -> None:
        self._policy = policy if isinstance(policy, Policy) else load_policy(policy)
        self._audit: AuditSink = MemoryAuditLog() if audit is None else audit
        self._approver: Approver = DenyAfterTimeout() if approver is None else approver
        self._agent_id = agent_id
        self._capabilities = None if capabilities is None else frozenset(capabilities)
        self._run_sync_in_thread = run_sync_in_thread
        self._registry: dict[Callable[..., Any], _Registration] = {}
        self._metrics: Metrics | None
        if isinstance(metrics, Metrics):
            self._metrics = metrics
        else:
            self._metrics = Metrics() if metrics else None
        # Metrics and the policy span wrap the decision as middleware.
        self._decide = observed(self._evaluate, self._metrics)
        self._governance = Governance(
            record=self._audit.record, approver=self._approver, review=review, metrics=self._metrics
        )

    # -- properties ------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        return self._policy

    @property
    def audit_log(self) -> AuditSink:
        """The audit sink (a :class:`MemoryAuditLog` unless one was given)."""
        return self._audit

    @property
    def approver(self) -> Approver:
        return self._approver

    @property
    def metrics(self) -> Metrics | None:
        """The :class:`Metrics` in use, or ``None`` when metrics are off."""
        return self._metrics

    @property
    def agent_id(self) -> str:
        return self._agent_id

    @property
    def capabilities(self) -> frozenset[str] | None:
        return self._capabilities

    # -- registration -----------------------------------------------------------

    @overload
    def register(self, fn: Callable[P, Awaitable[R]], /) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def register(self, fn: Callable[P, R], /) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def register(
        self,
        fn: None = None,
        /,
        *,
        action: str = "tool_call",
        tool: str | None = None,
        arg_map: ArgMap | None = None,
    ) -> Governor: ...

    def register(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        action: str = "tool_call",
        tool: str | None = None,
        arg_map: ArgMap | None = None,
    ) -> Any:
        """Govern ``fn``: the returned coroutine function goes through the kernel.

        Bare (``@kernel.register``) the action is ``tool_call`` with
        ``tool=fn.__name__``. With arguments, ``action`` sets the action type,
        ``tool`` the tool name (default: the function's name; tool rules and
        classification read it, and ``action`` other than ``tool_call`` is an
        explicit declaration of what the function does), and ``arg_map``
        renames parameters for the policy (``{"q": "query"}``) or, as a
        callable, maps the bound arguments to the action's ``args``.
        """

        def decorate(target: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
            reg = self._registration(target, action, tool, arg_map)
            self._registry[target] = reg

            @functools.wraps(target)
            async def governed(*args: Any, **kwargs: Any) -> Any:
                return await self._run(reg, args, kwargs)

            setattr(governed, _GOVERNED, reg)
            return governed

        return decorate if fn is None else decorate(fn)

    @staticmethod
    def _registration(
        fn: Callable[..., Any], action: str, tool: str | None, arg_map: ArgMap | None
    ) -> _Registration:
        if tool is None:
            tool = getattr(fn, "__name__", None) or type(fn).__name__
        return _Registration(fn, action, tool, arg_map, signature_of(fn))

    @overload
    async def execute(
        self, fn: Callable[P, Awaitable[R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> R: ...

    @overload
    async def execute(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R: ...

    async def execute(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` through the kernel.

        ``fn`` may be a function registered here (or its governed wrapper, from
        any kernel: this kernel's policy applies) or a plain function, governed
        as a ``tool_call`` named after it.
        """
        reg = getattr(fn, _GOVERNED, None)
        if not isinstance(reg, _Registration):
            try:
                reg = self._registry.get(fn)
            except TypeError:  # an unhashable callable cannot have been registered
                reg = None
            reg = reg or self._registration(fn, "tool_call", None, None)
        return await self._run(reg, args, kwargs)

    def _evaluate(self, action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        return self._policy.evaluate(action, capabilities=capabilities)

    def _action(
        self, reg: _Registration, args: tuple[Any, ...], kwargs: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        bound = bind_call(reg.signature, args, kwargs)
        if callable(reg.arg_map):
            mapped = dict(reg.arg_map(bound))
        elif reg.arg_map is not None:
            mapped = {reg.arg_map.get(k, k): v for k, v in bound.items()}
        else:
            mapped = bound
        action: dict[str, Any] = {
            "agent_id": self._agent_id,
            "action": reg.action,
            "args": json_safe(mapped),
            "request_id": request_id,
        }
        if reg.tool is not None:
            action["tool"] = reg.tool
        return action

    # -- judging without running (for callers that run the action themselves) ------

    def check(self, action: Mapping[str, Any]) -> Verdict:
        """Judge and audit ``action`` without running anything.

        For integrations that run the action themselves (a framework's tool
        call). ``agent_id`` defaults to this kernel's and a fresh
        ``request_id`` is assigned (the verdict carries it). A SIGSTOP comes
        back as a ``review`` verdict, not held: hold it with :meth:`review`.
        Raises only when the audit sink fails, and then nothing may run.
        """
        full = {"agent_id": self._agent_id, **action, "request_id": new_id()}
        return self._judge(full)

    async def review(
        self, action: Mapping[str, Any], verdict: Verdict, *, approver: Approver | None = None
    ) -> ReviewOutcome:
        """Hold ``action`` (judged ``verdict`` by :meth:`check`) for this kernel's approver.

        ``approver`` asks another one instead (a framework's own human-in-the-loop
        step). The outcome is audited (and counted when metrics are on); an
        approver that raises is a deny. Only ``APPROVED`` means the action may run.
        """
        full = {"agent_id": self._agent_id, **action, "request_id": verdict.request_id}
        return await self._review(full, verdict, approver)

    # -- the governed call ----------------------------------------------------------

    def _judge(self, action: Mapping[str, Any]) -> Verdict:
        started = time.perf_counter()
        verdict = Governance.evaluate(self._decide, action, self._capabilities)
        verdict = replace(
            verdict,
            request_id=str(action["request_id"]),
            elapsed_us=round((time.perf_counter() - started) * 1e6, 1),
        )
        self._audit.record(AuditEvent.from_verdict(action, verdict))
        return verdict

    async def _run(self, reg: _Registration, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        action = self._action(reg, args, kwargs, new_id())
        verdict = self._judge(action)
        if verdict.decision is Decision.DENY or verdict.signal is Signal.SIGKILL:
            raise PolicyViolation(verdict)
        if verdict.decision is Decision.REVIEW or verdict.signal is Signal.SIGSTOP:
            outcome = await self._review(action, verdict, None)
            if outcome is not ReviewOutcome.APPROVED:
                code = "review_timeout" if outcome is ReviewOutcome.TIMEOUT else "review_denied"
                raise PolicyViolation(verdict, code=code)
        elif verdict.decision is Decision.WARN or verdict.signal is Signal.SIGWARN:
            log.warning(
                "SIGWARN %s (tool=%s) rule %s: %s [request %s]",
                reg.action,
                reg.tool,
                verdict.rule,
                verdict.reason,
                verdict.request_id,
            )
        return await self._call(reg.fn, args, kwargs)

    async def _review(
        self, action: Mapping[str, Any], verdict: Verdict, approver: Approver | None
    ) -> ReviewOutcome:
        # The same flow as the Worker's; here it waits for the decision.
        terms = self._policy.review_terms(verdict.rule)
        held = await self._governance.hold(
            action, verdict, wait=True, approver=approver, terms=terms
        )
        return held.outcome or ReviewOutcome.DENIED

    async def _call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        if self._run_sync_in_thread:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        else:
            result = fn(*args, **kwargs)
        # A sync callable may still hand back an awaitable (a partial of a coroutine function).
        if inspect.isawaitable(result):
            return await result
        return result
