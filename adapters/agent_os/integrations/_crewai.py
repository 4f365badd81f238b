"""CrewAI: every tool call of every agent of a wrapped crew is judged before it runs.

::

    from agent_os.integrations import CrewAIKernel
    governed_crew = CrewAIKernel().wrap(crew)
    result = governed_crew.kickoff()

An agent run on its own (``agent.kickoff(messages)``) is governed the same
way: ``CrewAIKernel().wrap(agent).kickoff(messages)``.

The mechanism is CrewAI's before-tool-call hook (``crewai.hooks``), which
both tool paths share: ReAct text and native function calling. CrewAI's hook
registry is process-wide, so the hooks are registered when a governed run
starts and removed when it ends, and each hook acts only on calls of its own
crew (the call's crew is the wrapped crew, or its agent is one of the crew's
agents; a call that names neither is governed too, since nothing says it is
someone else's).

CrewAI swallows any exception a hook raises and then runs the tool (it
fails open), so the hook itself never raises: every error inside it becomes
a block. A blocked call reaches the model as the kernel's refusal, through an
after-tool-call hook that replaces CrewAI's generic "blocked by hook" text;
with ``on_deny="raise"`` that hook aborts the run instead and ``kickoff``
raises :class:`~agent_os.policies.PolicyViolation`.

A SIGSTOP verdict waits for the kernel's approver inside the hook (CrewAI's
hooks are synchronous, so the waiting blocks that agent's step): the tool
runs only if the approver approves.

Limits: a before-tool-call hook registered by someone else *after* the
governed run started runs after this one and could still rewrite the tool
input. Were CrewAI to call a hook on the very event loop that drives a remote
kernel's bus, the verdict could not arrive while the hook waits, and the call
would be denied (fail closed); CrewAI 1.15 runs tool calls, hooks included, off
the loop in ``akickoff`` too, so a client on the caller's loop works.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from crewai import Crew
from crewai.agents.agent_builder.base_agent import BaseAgent
from crewai.hooks import (
    HookAborted,
    ToolCallHookContext,
    register_after_tool_call_hook,
    register_before_tool_call_hook,
    unregister_after_tool_call_hook,
    unregister_before_tool_call_hook,
)

from agent_os.kernel_worker import PolicyViolation, Verdict

from ._core import ToolCall, ToolGovernor, annotations_of
from ._errors import UnsupportedObject

__all__ = ["CrewAIKernel", "GovernedAgent", "GovernedCrew"]

log = logging.getLogger("agent_os.integrations")

T = TypeVar("T")

#: CrewAI's own text for a call a before-hook blocked (``crewai.utilities.tool_utils``).
_BLOCKED_PREFIX = "Tool execution blocked by hook."
#: Crew methods that run the crew: never reached ungoverned through attribute passthrough.
_RUNNERS = ("kickoff", "akickoff", "train", "replay", "test")


class CrewAIKernel(ToolGovernor):
    """Governs CrewAI crews (and agents run on their own): ``CrewAIKernel().wrap(crew).kickoff()``.

    Takes the :class:`ToolGovernor` arguments: ``kernel`` (a policy for an
    in-process kernel, default ``"strict"``, or a ``KernelSpace`` or a
    ``KernelClient``), ``on_deny``, ``actions``, ``approver``, ...
    """

    @overload
    def wrap(self, target: Crew) -> GovernedCrew: ...

    @overload
    def wrap(self, target: BaseAgent) -> GovernedAgent: ...

    def wrap(self, target: Any) -> GovernedCrew | GovernedAgent:
        """Govern every tool call of every agent of a crew, or of one agent's own ``kickoff``."""
        if isinstance(target, Crew):
            return GovernedCrew(self, target)
        if isinstance(target, BaseAgent):
            return GovernedAgent(self, target)
        raise UnsupportedObject(
            f"CrewAIKernel.wrap() takes a crewai.Crew or Agent, not {type(target).__name__}"
        )


class _Refusal:
    """Carried by the ``HookAborted`` of a refused call (``on_deny="raise"``)."""

    __slots__ = ("verdict",)

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    @property
    def __name__(self) -> str:  # CrewAI names the aborting hook in its telemetry
        return "agent_os"


class _Governed:
    """The hooks and their scope, shared by a governed crew and a governed agent."""

    def __init__(self, kernel: CrewAIKernel, target: Any) -> None:
        self._kernel = kernel
        self._target = target
        self._lock = threading.Lock()
        self._active = 0
        # Denied calls, by the identity of their input dict (shared by the
        # before and after hook contexts of one call), until the after hook.
        self._refused: dict[int, tuple[Any, ToolCall | None, Verdict]] = {}

    @property
    def kernel(self) -> CrewAIKernel:
        return self._kernel

    def __getattr__(self, name: str) -> Any:
        if name.startswith(_RUNNERS):
            raise AttributeError(
                f"{type(self).__name__}.{name} is not governed;"
                " use kickoff, kickoff_async or akickoff"
            )
        return getattr(self._target, name)

    def _members(self) -> list[Any]:
        raise NotImplementedError

    def _run(self, start: Callable[[], T]) -> T:
        self._enter()
        try:
            try:
                return start()
            except HookAborted as exc:
                _raise_refusal(exc)
                raise
        finally:
            self._exit()

    async def _arun(self, start: Callable[[], Awaitable[T]]) -> T:
        self._enter()
        try:
            try:
                return await start()
            except HookAborted as exc:
                _raise_refusal(exc)
                raise
        finally:
            self._exit()

    # -- hook scope ------------------------------------------------------------------

    def _enter(self) -> None:
        # One pair of hooks per governed crew or agent, however many runs overlap:
        # two pairs would judge (and audit) every call twice.
        with self._lock:
            if self._active == 0:
                register_before_tool_call_hook(self._before)
                register_after_tool_call_hook(self._after)
            self._active += 1

    def _exit(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                unregister_before_tool_call_hook(self._before)
                unregister_after_tool_call_hook(self._after)
                self._refused.clear()

    def _owns(self, context: ToolCallHookContext) -> bool:
        crew = getattr(context, "crew", None)
        agent = getattr(context, "agent", None)
        if crew is self._target or any(agent is member for member in self._members()):
            return True
        # A call that names neither crew nor agent may be ours: govern it.
        return crew is None and agent is None

    # -- the hooks (never raise: CrewAI runs the tool when a hook raises) -------------

    def _before(self, context: ToolCallHookContext) -> bool | None:
        call: ToolCall | None = None
        try:
            if not self._owns(context):
                return None
            call = tool_call(context)
            verdict = self._kernel.decide(call)
            if verdict.allowed:
                return None
        except Exception as exc:
            log.exception("governing a CrewAI tool call failed; blocking it")
            verdict = Verdict.deny("integration_error", f"governance failed: {exc!r}")
        try:
            with self._lock:
                self._refused[id(context.tool_input)] = (context.tool_input, call, verdict)
        except Exception:
            log.exception("recording a refused CrewAI tool call failed")
        return False

    def _after(self, context: ToolCallHookContext) -> str | None:
        if not self._blocked(context):
            return None
        key = id(context.tool_input)
        with self._lock:
            entry = self._refused.get(key)
            if entry is None or entry[0] is not context.tool_input:
                return None  # blocked by someone else's hook
            del self._refused[key]
        _, call, verdict = entry
        if self._kernel.on_deny == "raise":
            raise HookAborted(verdict.reason, source=_Refusal(verdict))
        if call is None:
            return f"The tool call was blocked and did not run: {verdict.reason}"
        return self._kernel.refusal_message(call, verdict)

    @staticmethod
    def _blocked(context: ToolCallHookContext) -> bool:
        result = getattr(context, "tool_result", None)
        return isinstance(result, str) and result.startswith(_BLOCKED_PREFIX)


class GovernedCrew(_Governed):
    """A crew whose tool calls go through the kernel. Run it as you would the crew.

    ``kickoff``, ``kickoff_async`` and ``akickoff`` (and the ``*_for_each``
    forms) are governed; other attributes are the crew's own.
    """

    @property
    def crew(self) -> Crew:
        crew: Crew = self._target
        return crew

    def _members(self) -> list[Any]:
        return list(self._target.agents)

    def kickoff(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``crew.kickoff()`` with every tool call governed."""
        return self._run(lambda: self.crew.kickoff(inputs=inputs, **kwargs))

    async def kickoff_async(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``await crew.kickoff_async()`` (the crew runs in a worker thread), governed."""
        return await self._arun(lambda: self.crew.kickoff_async(inputs=inputs, **kwargs))

    async def akickoff(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``await crew.akickoff()`` (CrewAI's native async path), governed."""
        return await self._arun(lambda: self.crew.akickoff(inputs=inputs, **kwargs))

    def kickoff_for_each(self, inputs: Iterable[dict[str, Any]], **kwargs: Any) -> list[Any]:
        """One governed ``kickoff`` per input, in order."""
        return [self.kickoff(item, **kwargs) for item in inputs]

    async def kickoff_for_each_async(
        self, inputs: Iterable[dict[str, Any]], **kwargs: Any
    ) -> list[Any]:
        """One governed ``kickoff_async`` per input, in order."""
        return [await self.kickoff_async(item, **kwargs) for item in inputs]


class GovernedAgent(_Governed):
    """An agent run on its own (``agent.kickoff(messages)``) with its tool calls governed."""

    @property
    def agent(self) -> BaseAgent:
        agent: BaseAgent = self._target
        return agent

    def _members(self) -> list[Any]:
        return [self._target]

    def kickoff(self, messages: Any, **kwargs: Any) -> Any:
        """``agent.kickoff(messages)`` with every tool call governed."""
        return self._run(lambda: self._target.kickoff(messages, **kwargs))

    async def kickoff_async(self, messages: Any, **kwargs: Any) -> Any:
        """``await agent.kickoff_async(messages)``, governed."""
        return await self._arun(lambda: self._target.kickoff_async(messages, **kwargs))

    async def akickoff(self, messages: Any, **kwargs: Any) -> Any:
        """``await agent.akickoff(messages)``, governed."""
        return await self._arun(lambda: self._target.akickoff(messages, **kwargs))


def tool_call(context: ToolCallHookContext) -> ToolCall:
    """The governed action's view of a CrewAI tool call."""
    structured = context.tool
    original = getattr(structured, "_original_tool", None) or structured
    return ToolCall(
        tool=str(context.tool_name),
        args=dict(context.tool_input or {}),
        tool_class=type(original).__name__,
        annotations=_annotations(original),
    )


def _annotations(tool: Any) -> dict[str, Any] | None:
    found = annotations_of(getattr(tool, "annotations", None))
    if found is None:
        schema = getattr(tool, "tool_schema", None)
        if isinstance(schema, Mapping):
            found = annotations_of(schema.get("annotations"))
    return found


def _raise_refusal(exc: HookAborted) -> None:
    """Raise :class:`PolicyViolation` for an abort that carries our refusal."""
    source = exc.source
    if isinstance(source, _Refusal):
        raise PolicyViolation(source.verdict, code=source.verdict.code) from exc
