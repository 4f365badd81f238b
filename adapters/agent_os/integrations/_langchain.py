"""LangChain / LangGraph: every tool call judged before the tool body runs.

``LangChainKernel().wrap(x)`` governs, in place, and returns ``x``:

- a ``create_agent`` agent or any LangGraph graph: each ``ToolNode`` (also in
  subgraphs) gets ``wrap_tool_call`` / ``awrap_tool_call`` hooks, composed
  inside any hooks it already has, and its tools are wrapped;
- a ``langchain-classic`` ``AgentExecutor``: its tools are wrapped;
- a ``ToolNode``, a ``BaseTool``, a list of tools or a toolkit (``get_tools()``).

Wrapping a tool replaces its ``run`` / ``arun`` on the instance, so the tool
is governed wherever it is called from, including a user's own graph node
that calls it directly (such calls bypass ToolNode hooks and middleware).
A call already judged by a hook is not judged again by its tool or by another
of our hooks (an agent built with the middleware and then wrapped), unless its
arguments changed in between.

For agents built here, :meth:`LangChainKernel.middleware` is an
``AgentMiddleware`` with both ``wrap_tool_call`` and ``awrap_tool_call``
(``create_agent(model, tools, middleware=[kernel.middleware()])``).

SIGSTOP: inside a graph run that has a checkpointer, the held call raises a
LangGraph ``interrupt`` carrying the tool, its arguments, the reason, the
review ticket and a sealed ``review`` token; the caller resumes with
``Command(resume=LangChainKernel.review_answer(value))`` (``{"approved": True, "review":
...}``; ``True`` or ``"approve"`` also do in the same process), anything else
denies it. The resumed call is not judged again: the resume carries its held
verdict (see ``_langchain_review``). With a local kernel the answer decides;
with a remote one the decision is the kernel-signed verdict its review desks
give for the ticket once a reviewer has decided (``agent-os review``, the
console); resumed before that, the call interrupts again. Outside such a
graph a local kernel's approver decides and a remote call waits for the
reviewers. Callbacks are not used: they cannot stop a tool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.pregel import Pregel
from langgraph.types import Command, interrupt

from agent_os.kernel_worker import Decision, Verdict

from ._core import KernelArg, OnDeny, ToolCall, ToolGovernor
from ._errors import UnsupportedObject
from ._langchain_calls import (
    already_judged,
    injected_args,
    judging,
    request_call,
    tool_input_call,
)
from ._langchain_review import (
    REVIEW_INTERRUPT,
    HeldCalls,
    approved,
    can_interrupt,
    review_answer,
)

__all__ = ["REVIEW_INTERRUPT", "LangChainKernel"]

ToolResult = ToolMessage | Command[Any]
_PATCH = "__agent_os_governed__"
_HOOKS = "__agent_os_hooks__"


@dataclass(frozen=True, slots=True)
class _Patch:
    kernel: LangChainKernel
    run: Callable[..., Any]
    arun: Callable[..., Awaitable[Any]]
    #: Arguments the framework injects (state, runtime): not the model's, not judged.
    injected: frozenset[str]


class LangChainKernel(ToolGovernor):
    """Governs LangChain agents, LangGraph graphs and tools; see the module docstring.

    Takes :class:`ToolGovernor`'s arguments; ``interrupt=False`` makes SIGSTOP
    always wait for the kernel's approver instead of a LangGraph interrupt.
    """

    def __init__(
        self,
        kernel: KernelArg = "strict",
        *,
        interrupt: bool = True,
        on_deny: OnDeny = "message",
        **options: Any,
    ) -> None:
        super().__init__(kernel, on_deny=on_deny, **options)
        self._interrupt = interrupt
        self._held = HeldCalls(self.client, self._loop)

    # -- wrapping ------------------------------------------------------------------

    def wrap(self, target: Any) -> Any:
        """Govern ``target`` in place and return it (see the module docstring)."""
        if isinstance(target, BaseTool):
            return self._wrap_tool(target)
        if isinstance(target, ToolNode):
            return self._wrap_tool_node(target)
        if isinstance(target, Pregel):
            return self._wrap_graph(target)
        if _is_agent_executor(target):
            self.wrap_tools(target.tools)
            return target
        if isinstance(target, list | tuple) or hasattr(target, "get_tools"):
            return self.wrap_tools(target)
        raise UnsupportedObject(
            f"cannot govern a {type(target).__name__}: expected a create_agent agent, a LangGraph"
            " graph, a ToolNode, an AgentExecutor, a BaseTool, a list of tools or a toolkit"
        )

    def wrap_tools(self, tools: Iterable[BaseTool] | Any) -> list[BaseTool]:
        """Govern bare tools (or a toolkit's ``get_tools()``) in place; returns them as a list."""
        if hasattr(tools, "get_tools"):
            tools = tools.get_tools()
        wrapped = []
        for tool in tools:
            if not isinstance(tool, BaseTool):
                raise UnsupportedObject(f"not a LangChain tool: {type(tool).__name__}")
            wrapped.append(self._wrap_tool(tool))
        return wrapped

    @staticmethod
    def review_answer(value: Mapping[str, Any], *, approved: bool = True) -> dict[str, Any]:
        """The resume for a SIGSTOP interrupt's ``value``: ``Command(resume=...)`` with it.

        It hands the held verdict back, so the resumed call is not judged again.
        ``approved=False`` refuses the call; with a remote kernel ``True`` runs it
        only if a reviewer approved (the review desk's signed verdict decides).
        """
        return review_answer(value, approved=approved)

    def middleware(self) -> AgentMiddleware[Any, Any]:
        """Agent middleware governing every tool call of a ``create_agent`` agent."""
        return _GovernMiddleware(self)

    def _wrap_tool(self, tool: BaseTool) -> BaseTool:
        previous = tool.__dict__.get(_PATCH)
        if isinstance(previous, _Patch):
            run, arun = previous.run, previous.arun  # re-wrapping replaces the kernel
        else:
            run, arun = tool.run, tool.arun
        patch = _Patch(self, run, arun, injected_args(tool))

        def governed_run(tool_input: Any, *args: Any, **kwargs: Any) -> Any:
            return patch.kernel._run_tool(tool, patch, tool_input, args, kwargs)

        async def governed_arun(tool_input: Any, *args: Any, **kwargs: Any) -> Any:
            return await patch.kernel._arun_tool(tool, patch, tool_input, args, kwargs)

        # Instance attributes shadow the class's methods (pydantic models allow it this way).
        object.__setattr__(tool, _PATCH, patch)
        object.__setattr__(tool, "run", governed_run)
        object.__setattr__(tool, "arun", governed_arun)
        return tool

    def _wrap_tool_node(self, node: ToolNode) -> ToolNode:
        self.wrap_tools(node.tools_by_name.values())
        inner = node.__dict__.get(_HOOKS)
        if inner is None:
            inner = (node._wrap_tool_call, node._awrap_tool_call)
            node.__dict__[_HOOKS] = inner
        inner_wrap, inner_awrap = inner

        def wrap(request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolResult]) -> Any:
            if inner_wrap is None:
                return self.wrap_tool_call(request, execute)
            return inner_wrap(request, lambda r: self.wrap_tool_call(r, execute))

        async def awrap(
            request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[ToolResult]]
        ) -> Any:
            if inner_awrap is None:
                return await self.awrap_tool_call(request, execute)
            return await inner_awrap(request, lambda r: self.awrap_tool_call(r, execute))

        node._wrap_tool_call = wrap
        # A node whose own hook is sync-only runs it for async calls too (ToolNode's
        # fallback): keep that, with our sync hook inside it.
        sync_only = inner_wrap is not None and inner_awrap is None
        node._awrap_tool_call = None if sync_only else awrap
        return node

    def _wrap_graph(self, graph: Pregel[Any, Any, Any, Any]) -> Pregel[Any, Any, Any, Any]:
        found = 0
        for node in graph.nodes.values():
            bound = node.bound
            if isinstance(bound, ToolNode):
                self._wrap_tool_node(bound)
                found += 1
            elif isinstance(bound, Pregel):
                self._wrap_graph(bound)
                found += 1
        if not found:
            raise UnsupportedObject(
                "this graph has no ToolNode: govern the tools its nodes call with wrap_tools()"
            )
        return graph

    # -- hooks (ToolNode and middleware) ------------------------------------------

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        """A ToolNode ``wrap_tool_call`` hook: judge, then run the call only if allowed."""
        call, unread = request_call(request)
        if already_judged(call, unread):
            return handler(request)  # an outer hook of ours judged this very call
        verdict = self._governed(call, unread)
        if not verdict.allowed:
            return self._refusal(call, verdict)
        with judging(call):
            return handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        """A ToolNode ``awrap_tool_call`` hook: the async :meth:`wrap_tool_call`."""
        call, unread = request_call(request)
        if already_judged(call, unread):
            return await handler(request)
        verdict = await self._agoverned(call, unread)
        if not verdict.allowed:
            return self._refusal(call, verdict)
        with judging(call):
            return await handler(request)

    def _refusal(self, call: ToolCall, verdict: Verdict) -> ToolMessage:
        text = self.refuse(call, verdict)
        return ToolMessage(
            content=text, name=call.tool, tool_call_id=call.call_id or "", status="error"
        )

    # -- one verdict per call, held when SIGSTOP -----------------------------------------

    def _governed(self, call: ToolCall, unread: Verdict | None) -> Verdict:
        # A resumed interrupt answers the held verdict it carries: no second judging.
        held = unread or self._resumed(call) or self.judge(call)
        if held.decision is not Decision.REVIEW:
            return held
        if not (self._interrupt and can_interrupt()):
            return self.hold(call, held)
        while True:
            # Raises GraphInterrupt on the first run; returns the resume value when resumed.
            answer = interrupt(self._held.payload(call, held))
            held = self._held.answered(call, held, answer)
            if held.decision is not Decision.REVIEW:
                return held  # the resume answered another call: a deny
            if self.local or not approved(answer):
                return self.resolve(call, held, approved(answer))
            final = self._held.decided(call, held)
            if final is not None:
                return final
            # No reviewer has decided yet: the graph stops again instead of blocking.

    async def _agoverned(self, call: ToolCall, unread: Verdict | None) -> Verdict:
        held = unread or self._resumed(call) or await self.ajudge(call)
        if held.decision is not Decision.REVIEW:
            return held
        if not (self._interrupt and can_interrupt()):
            return await self.ahold(call, held)
        while True:
            answer = interrupt(self._held.payload(call, held))
            held = self._held.answered(call, held, answer)
            if held.decision is not Decision.REVIEW:
                return held
            if self.local or not approved(answer):
                return await self.aresolve(call, held, approved(answer))
            final = await self._held.adecided(call, held)
            if final is not None:
                return final

    def _resumed(self, call: ToolCall) -> Verdict | None:
        """``call``'s held verdict when this graph task resumes its interrupt, else ``None``."""
        if not (self._interrupt and can_interrupt()):
            return None
        return self._held.resumed(call)

    # -- governed tools --------------------------------------------------------------

    def _to_judge(
        self, tool: BaseTool, patch: _Patch, tool_input: Any, kwargs: dict[str, Any]
    ) -> tuple[ToolCall, Verdict | None] | None:
        """The call still to judge (with a deny when unreadable); ``None`` when a hook judged it."""
        call, unread = tool_input_call(tool, patch.injected, tool_input, kwargs.get("tool_call_id"))
        if already_judged(call, unread):
            return None
        return call, unread

    def _run_tool(
        self,
        tool: BaseTool,
        patch: _Patch,
        tool_input: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        judge = self._to_judge(tool, patch, tool_input, kwargs)
        if judge is not None:
            verdict = self._governed(*judge)
            if not verdict.allowed:
                return self._tool_refusal(judge[0], verdict)
        return patch.run(tool_input, *args, **kwargs)

    async def _arun_tool(
        self,
        tool: BaseTool,
        patch: _Patch,
        tool_input: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        judge = self._to_judge(tool, patch, tool_input, kwargs)
        if judge is not None:
            verdict = await self._agoverned(*judge)
            if not verdict.allowed:
                return self._tool_refusal(judge[0], verdict)
        return await patch.arun(tool_input, *args, **kwargs)

    def _tool_refusal(self, call: ToolCall, verdict: Verdict) -> Any:
        if call.call_id is None:
            return self.refuse(call, verdict)
        # Called with a tool call (a ToolNode, invoke(tool_call)): answer as the tool would.
        return self._refusal(call, verdict)


class _GovernMiddleware(AgentMiddleware[Any, Any]):
    """``create_agent`` middleware: both the sync and the async tool-call hook."""

    def __init__(self, kernel: LangChainKernel) -> None:
        super().__init__()
        self._kernel = kernel

    @property
    def name(self) -> str:
        return "AgentOSGovernance"

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        return self._kernel.wrap_tool_call(request, handler)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        return await self._kernel.awrap_tool_call(request, handler)


def _is_agent_executor(target: Any) -> bool:
    try:
        from langchain_classic.agents import AgentExecutor
    except ImportError:
        return False
    return isinstance(target, AgentExecutor)
