"""OpenAI Agents SDK agents governed by a kernel: the real runner, real tools, a scripted model.

Sync (``Runner.run_sync``), async (``Runner.run``) and streamed
(``Runner.run_streamed``) runs. Tool bodies record their calls, so "never
ran" is observed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from agents import (
    Agent,
    FunctionTool,
    RunConfig,
    Runner,
    ToolExecutionConfig,
    WebSearchTool,
    function_tool,
    handoff,
)
from agents.exceptions import ToolInputGuardrailTripwireTriggered
from agents.mcp import MCPServerStdio
from agents.tool import LocalShellTool

from agent_os.audit import args_digest
from agent_os.integrations import OpenAIKernel, UnsupportedObject
from agent_os.kernel_worker import (
    AutoDeny,
    CallbackApprover,
    KernelSpace,
    MemoryAuditLog,
    ReviewRequest,
)
from tests.integrations.mcp.mcp_support import make_upstream
from tests.integrations.openai.fakes import ScriptedModel
from tests.integrations.support import (
    DANGEROUS,
    HARMLESS,
    HELD,
    integration_policy,
    remote_kernel,
    unreachable_kernel,
)
from tests.integrations.threaded import FailingAudit, on_thread
from tests.servers import Servers

MODES = ("run", "run_sync", "run_streamed")
DELETE = ("delete_file", {"file_path": "/etc/passwd"})


class Tools:
    """Function tools whose bodies record each call: ``ran`` is what really executed."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        @function_tool
        def terminal(commands: str) -> str:
            """Run shell commands."""
            ran.append(("terminal", {"commands": commands}))
            return f"ran {commands}"

        @function_tool
        def search(query: str) -> str:
            """Search the web."""
            ran.append(("search", {"query": query}))
            return "sunny, 21 degrees"

        @function_tool
        def release(target: str) -> str:
            """Release a build."""
            ran.append(("release", {"target": target}))
            return f"released {target}"

        @function_tool
        def delete_file(file_path: str) -> str:
            """Delete a file."""
            ran.append(("delete_file", {"file_path": file_path}))
            return f"deleted {file_path}"

        self.all: list[FunctionTool] = [terminal, search, release, delete_file]


def make_agent(*steps: tuple[str, Any], name: str = "operator") -> tuple[Agent[Any], Any, Tools]:
    tools = Tools()
    model = ScriptedModel(list(steps))
    return Agent(name=name, model=model, tools=list(tools.all)), model, tools


def run_sync(agent: Any, start: Any) -> Any:
    # run_sync runs on the thread's default loop and leaves it open; give it one we close.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return Runner.run_sync(agent, start)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def run_streamed(agent: Any, start: Any) -> Any:
    result = Runner.run_streamed(agent, start)
    async for _ in result.stream_events():
        pass
    return result


def run(agent: Any, mode: str, start: Any = "do the job") -> Any:
    if mode == "run_sync":
        return run_sync(agent, start)
    if mode == "run_streamed":
        return asyncio.run(run_streamed(agent, start))
    return asyncio.run(Runner.run(agent, start))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("call", [DANGEROUS, DELETE], ids=["rm-rf", "delete_file"])
def test_dangerous_call_never_reaches_the_tool(mode: str, call: tuple[str, Any]) -> None:
    audit = MemoryAuditLog()
    agent, model, tools = make_agent(call)

    result = run(OpenAIKernel(KernelSpace("strict", audit=audit)).wrap_agent(agent), mode)

    assert tools.ran == []
    assert model.seen(f"Tool call '{call[0]}' was blocked by policy 'strict'")
    assert result.final_output.startswith("done: ")
    (event,) = audit.events
    assert (event.tool, event.decision) == (call[0], "deny")


def test_policies_see_the_models_real_arguments(mode: str) -> None:
    # The best-known peer read ``tool.args`` (FunctionTool has none): policies saw {}.
    audit = MemoryAuditLog()
    agent, _, _ = make_agent(HARMLESS, DANGEROUS)

    run(OpenAIKernel(KernelSpace("strict", audit=audit)).wrap_agent(agent), mode)

    assert [e.args_digest for e in audit.events] == [
        args_digest(HARMLESS[1]),
        args_digest(DANGEROUS[1]),
    ]


def test_allowed_call_returns_its_value(mode: str) -> None:
    agent, _, tools = make_agent(HARMLESS)

    result = run(OpenAIKernel().wrap_agent(agent), mode)

    assert tools.ran == [HARMLESS]
    assert result.final_output == "done: sunny, 21 degrees"


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_sigstop_interrupts_and_runs_only_after_approval(mode: str, approve: bool) -> None:
    audit = MemoryAuditLog()
    agent, model, tools = make_agent(HELD)
    kernel = OpenAIKernel(KernelSpace(integration_policy(), audit=audit))
    governed = kernel.wrap_agent(agent)

    result = run(governed, mode)

    assert tools.ran == []
    (held,) = result.interruptions
    assert (held.tool_name, held.raw_item.arguments) == (
        "release",
        '{"target": "deploy to production"}',
    )
    state = result.to_state()
    if approve:
        state.approve(held)
    else:
        state.reject(held)
    result = run(governed, mode, state)

    assert result.interruptions == []
    assert tools.ran == ([HELD] if approve else [])
    assert model.seen("released deploy to production") is approve
    reviews = [e.review for e in audit.events]
    assert reviews == ([None, "approved"] if approve else [None])


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_remote_sigstop_needs_the_kernels_reviewer_too(
    mode: str, approve: bool, servers: Servers, tmp_path: Path
) -> None:
    # With a remote kernel, approving the interruption in the agent's own
    # process is not enough: the call then waits for the kernel's reviewer.
    agent, model, tools = make_agent(HELD)
    with on_thread(remote_kernel(servers.get("nats").url, review=tmp_path)) as (remote, loop):
        governed = OpenAIKernel(remote.client, loop=loop).wrap_agent(agent)
        result = run(governed, mode)
        (held,) = result.interruptions
        state = result.to_state()
        state.approve(held)
        reviewed = asyncio.run_coroutine_threadsafe(remote.decide(approve), loop)
        result = run(governed, mode, state)
        assert reviewed.result(30).status.value == ("approved" if approve else "denied")

    assert result.interruptions == []
    assert tools.ran == ([HELD] if approve else [])
    assert model.seen("released deploy to production") is approve


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
async def test_sigstop_with_pre_approval_guardrails_still_interrupts(approve: bool) -> None:
    # The SDK can run input guardrails before it asks for approval; a held call
    # must still reach the human rather than be refused by that early pass.
    agent, model, tools = make_agent(HELD)
    governed = OpenAIKernel(integration_policy(), approver=AutoDeny()).wrap_agent(agent)
    config = RunConfig(tool_execution=ToolExecutionConfig(pre_approval_tool_input_guardrails=True))

    result = await Runner.run(governed, "go", run_config=config)
    (held,) = result.interruptions
    state = result.to_state()
    if approve:
        state.approve(held)
    else:
        state.reject(held)
    await Runner.run(governed, state, run_config=config)

    assert tools.ran == ([HELD] if approve else [])
    assert model.seen("released deploy to production") is approve


def test_a_held_mcp_style_call_without_sdk_approval_asks_the_kernels_approver(mode: str) -> None:
    # A tool with no per-call approval policy (as MCP tools are) reaches the
    # guardrail unapproved: the kernel's own approver decides, and here it denies.
    agent, model, tools = make_agent(HELD)
    kernel = OpenAIKernel(integration_policy(), approver=AutoDeny())
    governed = kernel.wrap_agent(agent)
    for tool in agent.tools:
        assert isinstance(tool, FunctionTool)
        tool.needs_approval = False  # as MCP tools are: no per-call approval policy

    result = run(governed, mode)

    assert result.interruptions == []
    assert tools.ran == []
    assert model.seen("review_denied")


def test_unreachable_kernel_denies(mode: str) -> None:
    agent, model, tools = make_agent(HARMLESS)
    with on_thread(unreachable_kernel()) as (client, loop):
        run(OpenAIKernel(client, loop=loop).wrap_agent(agent), mode)

    assert tools.ran == []
    assert model.seen("Tool call 'search' was blocked (no_responders")


def test_remote_kernel_judges_every_call(mode: str) -> None:
    agent, _, tools = make_agent(DANGEROUS, HARMLESS)
    with on_thread(remote_kernel()) as (remote, loop):
        run(OpenAIKernel(remote.client, loop=loop).wrap_agent(agent), mode)

    assert tools.ran == [HARMLESS]
    assert [(e.tool, e.decision) for e in remote.audit.events] == [
        ("terminal", "deny"),
        ("search", "allow"),
    ]


def test_exception_inside_the_integration_denies(mode: str) -> None:
    agent, model, tools = make_agent(HARMLESS)

    run(OpenAIKernel(KernelSpace("strict", audit=FailingAudit())).wrap_agent(agent), mode)

    assert tools.ran == []
    assert model.seen("integration_error")


def test_a_broken_kernel_object_denies(mode: str) -> None:
    agent, model, tools = make_agent(HARMLESS)
    kernel = OpenAIKernel()

    async def broken(call: Any) -> Any:
        raise RuntimeError("kernel object broken")

    kernel.ajudge = broken  # type: ignore[method-assign]
    result = run(kernel.wrap_agent(agent), mode)

    # needs_approval asks for a human when it cannot judge; the guardrail refuses.
    assert tools.ran == []
    assert len(result.interruptions) == 1
    state = result.to_state()
    state.approve(result.interruptions[0])
    run(kernel.wrap_agent(agent), mode, state)
    assert tools.ran == []
    assert model.seen("governance failed")


def test_malformed_arguments_are_judged_as_text_and_never_run(mode: str) -> None:
    audit = MemoryAuditLog()
    agent, _, tools = make_agent(("terminal", "rm -rf / {"))
    governed = OpenAIKernel(KernelSpace("strict", audit=audit)).wrap_agent(agent)

    # The SDK holds a call whose arguments do not parse for manual approval;
    # even approved, the kernel judges the raw text and refuses it.
    result = run(governed, mode)
    state = result.to_state()
    state.approve(result.interruptions[0])
    run(governed, mode, state)

    assert tools.ran == []
    (event,) = audit.events
    assert (event.decision, event.args_digest) == ("deny", args_digest({"input": "rm -rf / {"}))


def test_on_deny_raise_trips_the_guardrail(mode: str) -> None:
    agent, _, tools = make_agent(DANGEROUS)

    with pytest.raises(ToolInputGuardrailTripwireTriggered) as caught:
        run(OpenAIKernel(on_deny="raise").wrap_agent(agent), mode)

    assert caught.value.output.output_info.rule == "shell:rm-rf"
    assert tools.ran == []


def test_handoffs_and_agents_as_tools_are_governed_too() -> None:
    worker, worker_model, worker_tools = make_agent(DANGEROUS, name="worker")
    helper, _, helper_tools = make_agent(DANGEROUS, name="helper")
    triage = Agent(
        name="triage",
        model=ScriptedModel([("transfer_to_worker", {})]),
        handoffs=[handoff(worker)],
        tools=[helper.as_tool(tool_name="helper", tool_description="a helper")],
    )

    run_sync(OpenAIKernel().wrap_agent(triage), "go")

    assert worker_tools.ran == []
    assert worker_model.seen("was blocked")
    for tool in helper.tools:
        assert isinstance(tool, FunctionTool) and tool.tool_input_guardrails
    assert helper_tools.ran == []


def test_wrapping_twice_installs_one_guardrail_and_a_second_kernel_is_refused() -> None:
    agent, _, _ = make_agent()
    kernel = OpenAIKernel()
    kernel.wrap_agent(agent)
    kernel.wrap_agent(agent)
    for tool in agent.tools:
        assert isinstance(tool, FunctionTool)
        assert len(tool.tool_input_guardrails or []) == 1
    with pytest.raises(UnsupportedObject, match="already governed"):
        OpenAIKernel("strict").wrap_agent(agent)


def test_the_users_own_needs_approval_still_applies() -> None:
    agent, _, tools = make_agent(HARMLESS)
    for tool in agent.tools:
        assert isinstance(tool, FunctionTool)
        tool.needs_approval = True

    result = run_sync(OpenAIKernel().wrap_agent(agent), "go")

    assert tools.ran == [] and len(result.interruptions) == 1


def test_local_tools_without_guardrails_are_refused_and_hosted_ones_pass() -> None:
    shell = LocalShellTool(executor=lambda request: "")
    tools = Tools()
    with pytest.raises(UnsupportedObject, match="LocalShellTool"):
        OpenAIKernel().wrap_agent(Agent(name="a", tools=[*tools.all, shell]))
    # Nothing was half-installed: the function tools are as they were.
    assert all(not t.tool_input_guardrails and t.needs_approval is False for t in tools.all)
    OpenAIKernel().wrap_agent(Agent(name="b", tools=[WebSearchTool()]))
    with pytest.raises(UnsupportedObject):
        OpenAIKernel().wrap_agent("not an agent")


async def test_mcp_server_tools_are_governed_with_their_annotations(tmp_path: Path) -> None:
    upstream = make_upstream(tmp_path)
    audit = MemoryAuditLog()
    asked: list[ReviewRequest] = []
    argv = upstream.argv()
    server = MCPServerStdio(
        params={"command": argv[0], "args": argv[1:]}, cache_tools_list=True, name="files"
    )
    async with server:
        model = ScriptedModel(
            [
                ("read_file", {"path": "notes.txt"}),
                ("run_command", {"command": "rm -rf /"}),
                ("release", {"target": "deploy to production"}),
            ]
        )
        agent = Agent(name="ops", model=model, mcp_servers=[server])
        kernel = OpenAIKernel(
            KernelSpace(
                integration_policy(),
                audit=audit,
                approver=CallbackApprover(lambda r: asked.append(r) or False),
            )
        )
        await Runner.run(kernel.wrap_agent(agent), "go")

    assert [c["tool"] for c in upstream.ran()] == ["read_file"]
    assert model.seen("quarterly numbers")
    assert [(e.tool, e.decision) for e in audit.events][:2] == [
        ("read_file", "allow"),
        ("run_command", "deny"),
    ]
    (request,) = asked
    assert request.action["hints"]["class"] == "MCPTool"
    assert request.action["hints"]["annotations"] == {
        "destructiveHint": False,
        "openWorldHint": True,
    }
