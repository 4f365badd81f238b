"""The integrations core: one tool call, one governed action, one verdict.

Every framework integration (LangChain, CrewAI, OpenAI, MCP) turns the tool
call a model asked for into a :class:`ToolCall` and hands it to a
:class:`ToolGovernor`, which asks a kernel before the tool body runs::

    {"action": "tool_call", "tool": "terminal", "args": {"commands": "rm -rf /"},
     "agent_id": "...", "hints": {"class": "ShellTool", "annotations": {...}, "action": "..."}}

``args`` are the arguments exactly as the model produced them; ``hints``
carries what the tool object says about itself (its class, its MCP
annotations, a kind declared in configuration), for classification.

The kernel is chosen by one argument: a preset name, a policy file or a
:class:`~agent_os.policies.Policy` (an in-process
:class:`~agent_os.kernel_worker.KernelSpace` is built for it), a
``KernelSpace``, or a :class:`~agent_os.adapters.KernelClient` (remote kernel
workers on any bus).

Fail closed, everywhere: a deny never runs the tool body, and every failure
inside the integration (the kernel is unreachable, the verdict does not
verify, an exception of our own) is a deny. What the agent sees on a deny is
``on_deny``: ``"message"`` (default) hands the model an error text it can
recover from; ``"raise"`` raises :class:`~agent_os.policies.PolicyViolation`.

A SIGSTOP verdict holds the call: :meth:`ToolGovernor.ahold` asks the local
kernel's approver, or, for a remote kernel, waits for the durable review
(``KernelClient.wait``: a reviewer decides with ``agent-os review`` or the
console; no decision by the deadline is a deny). Framework layers may ask
their own human-in-the-loop step (LangGraph interrupts, the Agents SDK's
approvals) and report the answer through :meth:`ToolGovernor.aresolve`: for a
local kernel that answer decides; for a remote one a rejection denies and an
approval still waits for the kernel's reviewers (the agent cannot approve its
own held call).

The errors are in ``_errors``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from agent_os.adapters import KernelClient
from agent_os.kernel_worker import (
    Approver,
    CallbackApprover,
    Decision,
    KernelSpace,
    Policy,
    PolicyViolation,
    ReviewOutcome,
    Verdict,
)
from agent_os.kernel_worker._call_args import json_safe

from ._bridge import await_on, run_blocking

__all__ = ["KernelArg", "OnDeny", "ToolCall", "ToolGovernor", "annotations_of"]

log = logging.getLogger("agent_os.integrations")

T = TypeVar("T")
OnDeny = Literal["message", "raise"]
KernelArg = str | os.PathLike[str] | Policy | KernelSpace | KernelClient

#: Annotation keys of the MCP spec that are passed on as hints.
_ANNOTATION_KEYS = ("title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the model asked for it.

    ``args`` are the model's arguments, unchanged. ``tool_class`` is the
    tool object's class name, ``annotations`` its MCP annotations (when it
    has any) and ``action`` a declared action kind (``file_write``, ...).
    ``call_id`` is the framework's id for the call, for messages only.
    """

    tool: str
    args: Mapping[str, Any]
    tool_class: str | None = None
    annotations: Mapping[str, Any] | None = None
    action: str | None = None
    call_id: str | None = None

    def hints(self) -> dict[str, Any]:
        """Classification hints: only what is known."""
        hints: dict[str, Any] = {}
        if self.tool_class:
            hints["class"] = self.tool_class
        if self.annotations:
            picked = {k: self.annotations[k] for k in _ANNOTATION_KEYS if k in self.annotations}
            if picked:
                hints["annotations"] = json_safe(picked)
        if self.action:
            hints["action"] = self.action
        return hints


def annotations_of(value: Any) -> dict[str, Any] | None:
    """MCP annotations (spec names) from a mapping, a pydantic model or an object with them.

    A pydantic model (the MCP SDK's ``ToolAnnotations``) is read by its aliases,
    the spec's camelCase names.
    """
    if value is None:
        return None
    if callable(getattr(value, "model_dump", None)):
        value = value.model_dump(by_alias=True, exclude_none=True)
    if isinstance(value, Mapping):
        found = {k: value[k] for k in _ANNOTATION_KEYS if value.get(k) is not None}
    else:
        found = {
            k: getattr(value, k) for k in _ANNOTATION_KEYS if getattr(value, k, None) is not None
        }
    return found or None


class ToolGovernor:
    """Judges tool calls with a local or a remote kernel; the base of every integration.

    ``kernel``: a preset name, a policy path or :class:`Policy` (in-process,
    default ``"strict"``), a :class:`KernelSpace`, or a :class:`KernelClient`.
    ``agent_id`` names the agent in a local kernel's actions (a remote agent
    is the client's signed identity). ``actions`` declares the action kind of
    tools by name (``{"publish": "http_request"}``). ``approver`` decides held
    calls of the KernelSpace built here for a policy (a remote kernel's held
    calls wait for its review desk). ``loop`` is the event loop a remote
    client's bus lives on, for sync callers (default: the loop running when
    the governor was made, if any). ``timeout`` bounds a sync caller's wait on
    another loop (``None``: the client's own deadlines bound it).
    """

    def __init__(
        self,
        kernel: KernelArg = "strict",
        *,
        agent_id: str | None = None,
        on_deny: OnDeny = "message",
        actions: Mapping[str, str] | None = None,
        approver: Approver | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        timeout: float | None = None,
    ) -> None:
        if on_deny not in ("message", "raise"):
            raise ValueError(f"on_deny must be 'message' or 'raise', not {on_deny!r}")
        self._client: KernelClient | None = None
        self._space: KernelSpace | None = None
        if isinstance(kernel, KernelClient):
            if agent_id is not None and agent_id != kernel.agent_id:
                raise ValueError("a remote agent's id is its signing identity's; omit agent_id")
            if approver is not None:
                # An approver in the agent's process would let the agent approve itself.
                raise ValueError(
                    "a remote kernel's held calls wait for its reviewers (agent-os review,"
                    " the console); an approver belongs to a local KernelSpace"
                )
            self._client = kernel
            self._agent_id = kernel.agent_id
        elif isinstance(kernel, KernelSpace):
            if approver is not None:
                raise ValueError("give the approver to the KernelSpace itself")
            self._space = kernel
            self._agent_id = agent_id or kernel.agent_id
        elif isinstance(kernel, str | os.PathLike | Policy):
            self._space = KernelSpace(kernel, approver=approver, agent_id=agent_id or "local")
            self._agent_id = self._space.agent_id
        else:
            raise TypeError(
                "kernel must be a policy (name, path or Policy), a KernelSpace or a KernelClient,"
                f" not {type(kernel).__name__}"
            )
        self._on_deny: OnDeny = on_deny
        self._actions = dict(actions or {})
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop = loop
        self._timeout = timeout

    # -- properties ----------------------------------------------------------------

    @property
    def agent_id(self) -> str:
        return self._agent_id

    @property
    def local(self) -> bool:
        """True for an in-process kernel, False for a remote one."""
        return self._space is not None

    @property
    def kernel_space(self) -> KernelSpace | None:
        """The in-process kernel (``None`` when remote)."""
        return self._space

    @property
    def client(self) -> KernelClient | None:
        """The remote kernel's client (``None`` when local)."""
        return self._client

    @property
    def on_deny(self) -> OnDeny:
        return self._on_deny

    # -- the governed action -------------------------------------------------------

    def action(self, call: ToolCall) -> dict[str, Any]:
        """The action the kernel judges for ``call``."""
        declared = call.action or self._actions.get(call.tool)
        if declared is not None and declared != call.action:
            call = replace(call, action=declared)
        action: dict[str, Any] = {
            "action": "tool_call",
            "tool": call.tool,
            "args": json_safe(call.args),
            "agent_id": self._agent_id,
        }
        hints = call.hints()
        if hints:
            action["hints"] = hints
        return action

    # -- judging: async -----------------------------------------------------------

    async def ajudge(self, call: ToolCall) -> Verdict:
        """The kernel's first verdict on ``call``; a SIGSTOP is returned, not held. Never raises."""
        try:
            action = self.action(call)
            if self._space is not None:
                return self._space.check(action)
            return await await_on(self._loop, lambda: self._remote_check(action))
        except Exception as exc:
            return _failure(call, exc)

    async def ahold(self, call: ToolCall, verdict: Verdict) -> Verdict:
        """Hold a ``review`` verdict until it is decided; the final verdict. Never raises."""
        try:
            if self._space is not None:
                outcome = await self._space.review(self.action(call), verdict)
                return self.resolved(verdict, outcome)
            return await self._remote_wait(verdict)
        except Exception as exc:
            return _failure(call, exc)

    async def adecide(self, call: ToolCall) -> Verdict:
        """Judge ``call`` and hold it when the policy says SIGSTOP: the final verdict."""
        verdict = await self.ajudge(call)
        if verdict.decision is Decision.REVIEW:
            verdict = await self.ahold(call, verdict)
        return verdict

    async def arun(self, call: ToolCall, body: Callable[[], Awaitable[T] | T]) -> T | str:
        """Run ``body`` only if the kernel allows ``call``; otherwise :meth:`refuse`."""
        verdict = await self.adecide(call)
        if not verdict.allowed:
            return self.refuse(call, verdict)
        result = body()
        if inspect.isawaitable(result):
            return await result
        return result

    # -- judging: sync ------------------------------------------------------------------

    def judge(self, call: ToolCall) -> Verdict:
        """Sync :meth:`ajudge`."""
        try:
            action = self.action(call)
            if self._space is not None:
                return self._space.check(action)
            return run_blocking(self._loop, lambda: self._remote_check(action), self._timeout)
        except Exception as exc:
            return _failure(call, exc)

    def hold(self, call: ToolCall, verdict: Verdict) -> Verdict:
        """Sync :meth:`ahold`."""
        try:
            # A local approver lives on whatever loop runs it; a remote one with the client.
            loop = None if self._space is not None else self._loop
            return run_blocking(loop, lambda: self.ahold(call, verdict), self._timeout)
        except Exception as exc:
            return _failure(call, exc)

    def decide(self, call: ToolCall) -> Verdict:
        """Sync :meth:`adecide`."""
        verdict = self.judge(call)
        if verdict.decision is Decision.REVIEW:
            verdict = self.hold(call, verdict)
        return verdict

    def run(self, call: ToolCall, body: Callable[[], T]) -> T | str:
        """Sync :meth:`arun`."""
        verdict = self.decide(call)
        if not verdict.allowed:
            return self.refuse(call, verdict)
        return body()

    # -- outcomes --------------------------------------------------------------------

    @staticmethod
    def resolved(verdict: Verdict, outcome: ReviewOutcome | bool) -> Verdict:
        """The final verdict of a held call once a reviewer answered ``outcome``."""
        if outcome is True or outcome is ReviewOutcome.APPROVED:
            return replace(verdict, decision=Decision.ALLOW, code="review_approved")
        if outcome is ReviewOutcome.TIMEOUT:
            return _refused(verdict, "review_timeout", verdict.reason)
        return _refused(verdict, "review_denied", verdict.reason)

    async def aresolve(self, call: ToolCall, verdict: Verdict, approved: bool) -> Verdict:
        """The final verdict of a held call a reviewer answered outside the kernel.

        For a framework's own human-in-the-loop step (a LangGraph resume). Only
        ``True`` approves. A local kernel audits the answer as the review
        outcome. For a remote kernel a rejection denies at once and an
        approval waits for the kernel's reviewers too. Never raises.
        """
        try:
            if self._space is not None:
                answer = CallbackApprover(lambda _request: approved is True)
                outcome = await self._space.review(self.action(call), verdict, approver=answer)
                return self.resolved(verdict, outcome)
            if approved is not True:
                return self.resolved(verdict, ReviewOutcome.DENIED)
            return await self._remote_wait(verdict)
        except Exception as exc:
            return _failure(call, exc)

    def resolve(self, call: ToolCall, verdict: Verdict, approved: bool) -> Verdict:
        """Sync :meth:`aresolve`."""
        try:
            return run_blocking(None, lambda: self.aresolve(call, verdict, approved), self._timeout)
        except Exception as exc:
            return _failure(call, exc)

    def refusal_message(self, call: ToolCall, verdict: Verdict) -> str:
        """The text handed back to the model for a denied call."""
        rule = f", rule {verdict.rule}" if verdict.rule else ""
        policy = f" by policy {verdict.policy!r}" if verdict.policy else ""
        return (
            f"Tool call {call.tool!r} was blocked{policy} ({verdict.code}{rule}): "
            f"{verdict.reason}. The tool did not run."
        )

    def refuse(self, call: ToolCall, verdict: Verdict) -> str:
        """What the agent gets for a denied call: the message, or :class:`PolicyViolation`."""
        log.info(
            "denied tool %s for %s: %s (%s)",
            call.tool,
            self._agent_id,
            verdict.reason,
            verdict.code,
        )
        if self._on_deny == "raise":
            raise PolicyViolation(verdict, code=verdict.code)
        return self.refusal_message(call, verdict)

    # -- remote ------------------------------------------------------------------------

    async def _remote_wait(self, ticket: Verdict) -> Verdict:
        # The review desk's signed final verdict; KernelClient.wait fails closed itself.
        client = self._client
        assert client is not None
        return await await_on(self._loop, lambda: client.wait(ticket))

    async def _remote_check(self, action: Mapping[str, Any]) -> Verdict:
        assert self._client is not None
        return await self._client.check(
            str(action["action"]),
            action["args"],
            tool=action.get("tool"),
            hints=action.get("hints"),
            wait_review=False,  # a SIGSTOP comes back as its ticket; ahold waits for it
        )


def _refused(verdict: Verdict, code: str, reason: str) -> Verdict:
    return replace(verdict, decision=Decision.DENY, code=code, reason=reason)


def _failure(call: ToolCall, exc: BaseException) -> Verdict:
    # Any failure of our own is a deny: the tool never runs on a guess.
    log.warning("governing tool %s failed; denying", call.tool, exc_info=exc)
    return Verdict.deny("integration_error", f"governance failed: {type(exc).__name__}: {exc}")
