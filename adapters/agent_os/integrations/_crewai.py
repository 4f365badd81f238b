"""CrewAI: every tool call of every agent of a wrapped crew is judged before it runs.

::

    from agent_os.integrations import CrewAIKernel
    governed_crew = CrewAIKernel().wrap(crew)
    result = governed_crew.kickoff()

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from crewai import Crew
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

__all__ = ["CrewAIKernel", "GovernedCrew"]

log = logging.getLogger("agent_os.integrations")

T = TypeVar("T")

#: CrewAI's own text for a call a before-hook blocked (``crewai.utilities.tool_utils``).
_BLOCKED_PREFIX = "Tool execution blocked by hook."
#: Crew methods that run the crew: never reached ungoverned through attribute passthrough.
_RUNNERS = ("kickoff", "akickoff", "train", "replay", "test")


class CrewAIKernel(ToolGovernor):
    """Governs CrewAI crews: ``CrewAIKernel().wrap(crew).kickoff()``.

    Takes the :class:`ToolGovernor` arguments: ``kernel`` (a policy for an
    in-process kernel, default ``"strict"``, or a ``KernelSpace`` or a
    ``KernelClient``), ``on_deny``, ``actions``, ``approver``, ...
    """

    def wrap(self, crew: Any) -> GovernedCrew:
        """Govern every tool call of every agent of ``crew``."""
        if not isinstance(crew, Crew):
            raise UnsupportedObject(
                f"CrewAIKernel.wrap() takes a crewai.Crew, not {type(crew).__name__}"
            )
        return GovernedCrew(self, crew)


class _Refusal:
    """Carried by the ``HookAborted`` of a refused call (``on_deny="raise"``)."""

    __slots__ = ("verdict",)

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    @property
    def __name__(self) -> str:  # CrewAI names the aborting hook in its telemetry
        return "agent_os"


class GovernedCrew:
    """A crew whose tool calls go through the kernel. Run it as you would the crew.

    ``kickoff``, ``kickoff_async`` and ``akickoff`` (and the ``*_for_each``
    forms) are governed; other attributes are the crew's own.
    """

    def __init__(self, kernel: CrewAIKernel, crew: Crew) -> None:
        self._kernel = kernel
        self._crew = crew
        self._lock = threading.Lock()
        self._active = 0
        # Denied calls, by the identity of their input dict (shared by the
        # before and after hook contexts of one call), until the after hook.
        self._refused: dict[int, tuple[Any, ToolCall | None, Verdict]] = {}

    @property
    def crew(self) -> Crew:
        return self._crew

    @property
    def kernel(self) -> CrewAIKernel:
        return self._kernel

    def __getattr__(self, name: str) -> Any:
        if name.startswith(_RUNNERS):
            raise AttributeError(
                f"GovernedCrew.{name} is not governed; use kickoff, kickoff_async or akickoff"
            )
        return getattr(self._crew, name)

    # -- runs ----------------------------------------------------------------------

    def kickoff(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``crew.kickoff()`` with every tool call governed."""
        self._enter()
        try:
            return self._translated(lambda: self._crew.kickoff(inputs=inputs, **kwargs))
        finally:
            self._exit()

    async def kickoff_async(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``await crew.kickoff_async()`` (the crew runs in a worker thread), governed."""
        self._enter()
        try:
            return await self._atranslated(self._crew.kickoff_async, inputs, kwargs)
        finally:
            self._exit()

    async def akickoff(self, inputs: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``await crew.akickoff()`` (CrewAI's native async path), governed."""
        self._enter()
        try:
            return await self._atranslated(self._crew.akickoff, inputs, kwargs)
        finally:
            self._exit()

    def kickoff_for_each(self, inputs: Iterable[dict[str, Any]], **kwargs: Any) -> list[Any]:
        """One governed ``kickoff`` per input, in order."""
        return [self.kickoff(item, **kwargs) for item in inputs]

    async def kickoff_for_each_async(
        self, inputs: Iterable[dict[str, Any]], **kwargs: Any
    ) -> list[Any]:
        """One governed ``kickoff_async`` per input, in order."""
        return [await self.kickoff_async(item, **kwargs) for item in inputs]

    def _translated(self, run: Callable[[], T]) -> T:
        try:
            return run()
        except HookAborted as exc:
            _raise_refusal(exc)
            raise

    async def _atranslated(
        self, start: Callable[..., Any], inputs: dict[str, Any] | None, kwargs: Mapping[str, Any]
    ) -> Any:
        try:
            return await start(inputs=inputs, **kwargs)
        except HookAborted as exc:
            _raise_refusal(exc)
            raise

    # -- hook scope ------------------------------------------------------------------

    def _enter(self) -> None:
        # One pair of hooks per governed crew, however many runs overlap:
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
        if crew is self._crew or any(agent is member for member in self._crew.agents):
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
