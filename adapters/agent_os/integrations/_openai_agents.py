"""OpenAI Agents SDK: every function tool and MCP server of an agent is governed.

``OpenAIKernel().wrap_agent(agent)`` installs, in place, on every
``FunctionTool`` of the agent (and of the agents it hands off to or uses as
tools) and on every MCP server:

- a **tool input guardrail** that judges the call before the tool body runs.
  It reads the arguments the model produced from the tool call itself
  (``ToolContext.tool_arguments``, the raw JSON), so argument policies see
  the real arguments. A deny answers the model with the kernel's refusal
  (``reject_content``), or with ``on_deny="raise"`` trips the guardrail
  (``ToolInputGuardrailTripwireTriggered`` carrying the verdict in
  ``exc.output.output_info``). An error inside the guardrail is a reject.
- a **needs_approval** policy on function tools: a SIGSTOP verdict pauses the
  run (``result.interruptions``); the caller approves or rejects through
  ``RunState`` and resumes. The guardrail then lets an approved call run and
  records the approval as the review outcome. A user's own ``needs_approval``
  still applies (either one asks). With a remote kernel a held call is also
  the kernel's durable review: after the run is resumed with an approval, the
  guardrail waits for the kernel's reviewers, so an approval given in the
  agent's own process is never enough by itself (a rejection denies at once).

MCP tools get no per-call ``needs_approval`` (the SDK's MCP approval policy
does not see arguments), so a SIGSTOP on an MCP tool call waits on the
kernel's approver inside the guardrail.

Not governed: hosted tools (web search, file search, code interpreter,
image generation, hosted MCP, tool search) run on OpenAI's servers, where no
local code sees their calls. Local tools that are not function tools
(``ShellTool``, ``LocalShellTool``, ``ComputerTool``, ``ApplyPatchTool``,
``CustomTool``) have no input guardrails: ``wrap_agent`` refuses an agent
that has one rather than leave it ungoverned.

The SDK requires manual approval, without asking the policy, for a call
whose arguments it cannot inspect unchanged (a non-strict schema with
omitted defaults, custom validators); governed tools keep that rule.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from agents import Agent, FunctionTool, Handoff
from agents.run_context import RunContextWrapper
from agents.tool import (
    ApplyPatchTool,
    CodeInterpreterTool,
    ComputerTool,
    CustomTool,
    FileSearchTool,
    HostedMCPTool,
    ImageGenerationTool,
    LocalShellTool,
    ShellTool,
    ToolSearchTool,
    WebSearchTool,
)
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)

from agent_os.kernel_worker import Decision, Verdict

from ._core import ToolCall, ToolGovernor, annotations_of
from ._errors import UnsupportedObject
from ._openai_functions import parse_arguments

__all__ = ["govern_agent"]

log = logging.getLogger("agent_os.integrations")

HOSTED_TOOLS: tuple[type, ...] = (
    FileSearchTool,
    WebSearchTool,
    HostedMCPTool,
    CodeInterpreterTool,
    ImageGenerationTool,
    ToolSearchTool,
)
UNGOVERNABLE_TOOLS: tuple[type, ...] = (
    ShellTool,
    LocalShellTool,
    ComputerTool,
    ApplyPatchTool,
    CustomTool,
)
_MARK = "__agent_os_governed__"
#: First verdicts kept from needs_approval for the guardrail, by call id.
_MAX_PENDING = 1024

NeedsApproval = Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]


class _Verdicts:
    """First verdicts judged in needs_approval, picked up by the guardrail of the same call."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str, str], Verdict] = OrderedDict()

    def put(self, key: tuple[str, str, str], verdict: Verdict) -> None:
        self._items[key] = verdict
        while len(self._items) > _MAX_PENDING:
            self._items.popitem(last=False)

    def take(self, key: tuple[str, str, str]) -> Verdict | None:
        return self._items.pop(key, None)


class _AgentGovernor:
    """What wrap_agent installs, bound to one kernel."""

    def __init__(self, kernel: ToolGovernor) -> None:
        self._kernel = kernel
        self._verdicts = _Verdicts()
        self._guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._guard, name="agent_os"
        )
        setattr(self._guardrail, _MARK, self)

    # -- installing --------------------------------------------------------------

    def govern(self, agent: Agent[Any]) -> None:
        # Everything is checked before anything is installed: an agent that
        # cannot be governed whole is left as it was.
        agents = _reachable(agent)
        for member in agents:
            for tool in member.tools:
                _check_tool(tool)
                self._check_owner(tool)
            for server in member.mcp_servers:
                self._check_owner(server)
        for member in agents:
            for tool in member.tools:
                if isinstance(tool, FunctionTool):
                    self._govern_tool(tool)
            for server in member.mcp_servers:
                if _owner(server) is None:
                    guardrails = list(server.tool_input_guardrails or [])
                    server.tool_input_guardrails = [self._mcp_guardrail(server), *guardrails]

    def _check_owner(self, target: Any) -> None:
        owner = _owner(target)
        if owner is not None and owner is not self:
            # Two kernels would judge (and audit) every call twice, with two policies.
            raise UnsupportedObject(
                f"{getattr(target, 'name', target)!r} is already governed by another OpenAIKernel"
            )

    def _govern_tool(self, tool: FunctionTool) -> None:
        if _owner(tool) is not None:
            return
        guardrails = list(tool.tool_input_guardrails or [])
        # Ours first: no other guardrail sees (or logs) a call the kernel refuses.
        tool.tool_input_guardrails = [self._guardrail, *guardrails]
        tool.needs_approval = self._needs_approval(tool, tool.needs_approval)

    def _mcp_guardrail(self, server: Any) -> ToolInputGuardrail[Any]:
        name = str(getattr(server, "name", "mcp"))

        async def guard(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
            return await self._guard(data, mcp_server=server)

        guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=guard, name=f"agent_os:{name}"
        )
        setattr(guardrail, _MARK, self)
        return guardrail

    # -- needs_approval -------------------------------------------------------------

    def _needs_approval(self, tool: FunctionTool, own: Any) -> NeedsApproval:
        kernel = self._kernel

        async def needs_approval(
            context: RunContextWrapper[Any], params: dict[str, Any], call_id: str
        ) -> bool:
            try:
                call = ToolCall(tool.name, params, tool_class=_tool_class(tool), call_id=call_id)
                verdict = await kernel.ajudge(call)
                self._verdicts.put((tool.name, call_id, _canonical(params)), verdict)
                held = verdict.decision is Decision.REVIEW
                return held or await _own_approval(own, context, params, call_id)
            except Exception:
                # No verdict kept: the guardrail judges again and fails closed itself.
                log.exception("needs_approval for %s failed; asking for approval", tool.name)
                return True

        return needs_approval

    # -- the guardrail -----------------------------------------------------------------

    async def _guard(
        self, data: ToolInputGuardrailData, mcp_server: Any = None
    ) -> ToolGuardrailFunctionOutput:
        kernel = self._kernel
        call = ToolCall("unknown", {})
        try:
            context = data.context
            args = parse_arguments(context.tool_arguments)
            call = ToolCall(
                str(context.tool_name),
                args,
                tool_class="MCPTool" if mcp_server is not None else "FunctionTool",
                annotations=_mcp_annotations(mcp_server, context.tool_name),
                call_id=context.tool_call_id,
            )
            key = (call.tool, str(context.tool_call_id), _canonical(args))
            held = self._verdicts.take(key)
            verdict = held or await kernel.ajudge(call)
            if verdict.decision is Decision.REVIEW:
                approved = context.is_tool_approved(call.tool, str(context.tool_call_id))
                if approved is None and held is not None:
                    # needs_approval held this very call, so the SDK interrupts the run
                    # next (this is the pre-approval guardrail pass): let it, and keep
                    # the verdict for the pass after the human answered.
                    self._verdicts.put(key, held)
                    return ToolGuardrailFunctionOutput.allow(output_info=held)
                if approved is None:
                    verdict = await kernel.ahold(call, verdict)  # no SDK approval: the approver
                else:
                    verdict = await kernel.aresolve(call, verdict, approved)
            if verdict.allowed:
                return ToolGuardrailFunctionOutput.allow(output_info=verdict)
        except Exception as exc:
            log.exception("governing tool %s failed; rejecting the call", call.tool)
            verdict = Verdict.deny("integration_error", f"governance failed: {exc!r}")
        if kernel.on_deny == "raise":
            return ToolGuardrailFunctionOutput.raise_exception(output_info=verdict)
        return ToolGuardrailFunctionOutput.reject_content(
            kernel.refusal_message(call, verdict), output_info=verdict
        )


def govern_agent(kernel: ToolGovernor, agent: Any) -> Any:
    """Govern ``agent`` in place (see the module docstring) and return it."""
    if not isinstance(agent, Agent):
        raise UnsupportedObject(f"wrap_agent() takes an agents.Agent, not {type(agent).__name__}")
    governor = getattr(kernel, "_agents_governor", None)
    if governor is None:
        governor = _AgentGovernor(kernel)
        kernel._agents_governor = governor  # type: ignore[attr-defined]
    governor.govern(agent)
    return agent


def _owner(target: Any) -> Any:
    """The governor whose guardrail ``target`` (a tool or an MCP server) carries, if any."""
    for guardrail in getattr(target, "tool_input_guardrails", None) or ():
        owner = getattr(guardrail, _MARK, None)
        if owner is not None:
            return owner
    return None


def _reachable(root: Agent[Any]) -> list[Agent[Any]]:
    """``root`` and every agent it hands off to or uses as a tool, each once."""
    found: dict[int, Agent[Any]] = {}
    pending = [root]
    while pending:
        agent = pending.pop()
        if id(agent) in found:
            continue
        found[id(agent)] = agent
        for tool in agent.tools:
            nested = getattr(tool, "_agent_instance", None)
            if isinstance(tool, FunctionTool) and isinstance(nested, Agent):
                pending.append(nested)  # an agent used as a tool: its own tools too
        for target in agent.handoffs:
            sub = target if isinstance(target, Agent) else _handoff_agent(target)
            if sub is None:
                raise UnsupportedObject(
                    f"handoff {getattr(target, 'tool_name', target)!r} names no agent to govern"
                )
            pending.append(sub)
    return list(found.values())


def _check_tool(tool: Any) -> None:
    if isinstance(tool, FunctionTool):
        return
    if isinstance(tool, UNGOVERNABLE_TOOLS):
        raise UnsupportedObject(
            f"{type(tool).__name__} {getattr(tool, 'name', '')!r} runs locally but takes"
            " no input guardrail, so it cannot be governed; use a function tool instead"
        )
    if isinstance(tool, HOSTED_TOOLS):
        log.warning(
            "hosted tool %s runs on OpenAI's servers and is not governed", type(tool).__name__
        )
        return
    raise UnsupportedObject(f"unknown tool type {type(tool).__name__}; not governed")


async def _own_approval(
    own: Any, context: RunContextWrapper[Any], params: dict[str, Any], call_id: str
) -> bool:
    if not callable(own):
        return bool(own)
    answer = own(context, params, call_id)
    if hasattr(answer, "__await__"):
        answer = await answer
    return bool(answer)


def _handoff_agent(handoff: Any) -> Any:
    if not isinstance(handoff, Handoff):
        return None
    ref = getattr(handoff, "_agent_ref", None)
    agent = ref() if callable(ref) else None
    return agent if isinstance(agent, Agent) else None


def _tool_class(tool: FunctionTool) -> str:
    return "MCPTool" if getattr(tool, "_mcp_tool_binding", None) else type(tool).__name__


def _mcp_annotations(server: Any, tool_name: str) -> dict[str, Any] | None:
    # From the server's cached tool list, when it caches one (``cache_tools_list``):
    # the guardrail is handed the call, not the tool object.
    if server is None:
        return None
    for tool in getattr(server, "cached_tools", None) or ():
        if getattr(tool, "name", None) == tool_name:
            return annotations_of(getattr(tool, "annotations", None))
    return None


def _canonical(args: dict[str, Any]) -> str:
    try:
        return json.dumps(args, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(args)
