"""CrewAI crews governed by a kernel: real crews and tools, scripted models.

Every behaviour runs on both of CrewAI's tool paths (ReAct text and native
function calling) and through ``kickoff``, ``kickoff_async`` and
``akickoff``. Tool bodies record their calls, so "never ran" is observed,
not assumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crewai import Agent, Crew, Task
from crewai.hooks import get_after_tool_call_hooks, get_before_tool_call_hooks
from crewai.tools import BaseTool, tool
from crewai_tools import FileWriterTool

from agent_os.integrations import CrewAIKernel, GovernedCrew
from agent_os.kernel_worker import (
    CallbackApprover,
    KernelSpace,
    MemoryAuditLog,
    PolicyViolation,
    ReviewRequest,
)
from tests.integrations.crewai.fakes import FunctionCallingLLM, ReActLLM
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

# CrewAI 1.15 reads its own deprecated fields (function_calling_llm,
# allow_code_execution, ...) while building every agent; only warnings raised
# from crewai's own modules are ignored, ours still fail the test.
pytestmark = pytest.mark.filterwarnings(r"ignore::DeprecationWarning:crewai\.")

MODES = ("kickoff", "kickoff_async", "akickoff")
DELETE = ("delete_file", {"file_path": "/etc/passwd"})
LLMS = (ReActLLM, FunctionCallingLLM)


class Tools:
    """Tools whose bodies record each call: ``ran`` is what really executed."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        @tool("terminal")
        def terminal(commands: str) -> str:
            """Run shell commands."""
            ran.append(("terminal", {"commands": commands}))
            return f"ran {commands}"

        @tool("search")
        def search(query: str) -> str:
            """Search the web."""
            ran.append(("search", {"query": query}))
            return "sunny, 21 degrees"

        @tool("release")
        def release(target: str) -> str:
            """Release a build."""
            ran.append(("release", {"target": target}))
            return f"released {target}"

        @tool("delete_file")
        def delete_file(file_path: str) -> str:
            """Delete a file."""
            ran.append(("delete_file", {"file_path": file_path}))
            return f"deleted {file_path}"

        self.all: list[BaseTool] = [terminal, search, release, delete_file]


def make_crew(llm_type: type[Any], *steps: tuple[str, dict[str, Any]]) -> tuple[Crew, Any, Tools]:
    tools = Tools()
    llm = llm_type(model="fake", steps=list(steps))
    agent = Agent(role="operator", goal="help", backstory="an operator", llm=llm, tools=tools.all)
    task = Task(description="do the job", expected_output="a report", agent=agent)
    return Crew(agents=[agent], tasks=[task]), llm, tools


def run(governed: GovernedCrew, mode: str) -> Any:
    if mode == "kickoff":
        return governed.kickoff()
    if mode == "kickoff_async":
        return asyncio.run(governed.kickoff_async())
    return asyncio.run(governed.akickoff())


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=LLMS, ids=lambda t: t.__name__)
def llm_type(request: pytest.FixtureRequest) -> type[Any]:
    return request.param  # type: ignore[no-any-return]


def test_seed_spelling_verbatim() -> None:
    crew, llm, tools = make_crew(ReActLLM, DANGEROUS, HARMLESS)

    from agent_os.integrations import CrewAIKernel

    governed_crew = CrewAIKernel().wrap(crew)
    result = governed_crew.kickoff()

    assert result.raw == "finished"
    assert tools.ran == [HARMLESS]
    assert llm.seen("was blocked by policy 'strict'")
    assert llm.seen("sunny, 21 degrees")


def test_dangerous_call_never_reaches_the_tool(llm_type: type[Any], mode: str) -> None:
    crew, llm, tools = make_crew(llm_type, DANGEROUS)
    kernel = CrewAIKernel()

    run(kernel.wrap(crew), mode)

    assert tools.ran == []
    assert llm.seen("Tool call 'terminal' was blocked")
    assert llm.seen("The tool did not run.")
    space = kernel.kernel_space
    assert space is not None and isinstance(space.audit_log, MemoryAuditLog)
    (event,) = space.audit_log.events
    assert (event.tool, event.decision) == ("terminal", "deny")


def test_allowed_call_returns_its_value(llm_type: type[Any], mode: str) -> None:
    crew, llm, tools = make_crew(llm_type, HARMLESS)

    result = run(CrewAIKernel().wrap(crew), mode)

    assert tools.ran == [HARMLESS]
    assert llm.seen("sunny, 21 degrees")
    assert result.raw == "finished"


def test_a_crewai_tool_is_classified_by_its_class_and_never_writes(
    mode: str, tmp_path: Path
) -> None:
    # The real crewai_tools.FileWriterTool under a name no catalogue knows: only
    # its class (sent as hints.class) says it writes files.
    writer = FileWriterTool(name="save_report", base_dir=str(tmp_path))
    args = {"filename": "report.md", "content": "# Report", "directory": str(tmp_path)}
    llm = FunctionCallingLLM(model="fake", steps=[("save_report", args)])
    agent = Agent(role="writer", goal="write", backstory="a writer", llm=llm, tools=[writer])
    crew = Crew(agents=[agent], tasks=[Task(description="write", expected_output="x", agent=agent)])

    with pytest.raises(PolicyViolation) as caught:
        run(CrewAIKernel(on_deny="raise").wrap(crew), mode)

    verdict = caught.value.verdict
    assert (verdict.classified_by, "file_write" in verdict.kinds) == ("catalogue", True)
    assert list(tmp_path.iterdir()) == []


def test_delete_file_by_its_name_never_runs(mode: str) -> None:
    crew, llm, tools = make_crew(ReActLLM, DELETE)

    run(CrewAIKernel().wrap(crew), mode)

    assert tools.ran == []
    assert llm.seen("Tool call 'delete_file' was blocked by policy 'strict'")


def test_action_carries_the_models_args_and_the_tool_class() -> None:
    audit = MemoryAuditLog()
    crew, _, _ = make_crew(FunctionCallingLLM, ("search", {"query": "a b  c"}))

    CrewAIKernel(KernelSpace("strict", audit=audit, agent_id="crew-7")).wrap(crew).kickoff()

    (event,) = audit.events
    assert event.agent_id == "crew-7"
    assert event.tool == "search"


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_sigstop_runs_only_after_approval(mode: str, approve: bool) -> None:
    crew, llm, tools = make_crew(ReActLLM, HELD)
    asked: list[tuple[ReviewRequest, int]] = []

    def reviewer(request: ReviewRequest) -> bool:
        asked.append((request, len(tools.ran)))
        return approve

    kernel = CrewAIKernel(integration_policy(), approver=CallbackApprover(reviewer))
    run(kernel.wrap(crew), mode)

    ((request, ran_before),) = asked
    assert request.action["tool"] == "release"
    assert request.action["args"] == HELD[1]
    assert ran_before == 0  # the reviewer was asked before anything ran
    assert tools.ran == ([HELD] if approve else [])
    assert llm.seen("released deploy to production") is approve
    assert llm.seen("review_denied") is not approve


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_remote_sigstop_runs_only_after_a_reviewer_decides(
    mode: str, approve: bool, servers: Servers, tmp_path: Path
) -> None:
    crew, llm, tools = make_crew(ReActLLM, HELD)
    with on_thread(remote_kernel(servers.get("nats").url, review=tmp_path)) as (remote, loop):
        # The crew blocks on the held call while a reviewer, elsewhere, decides.
        reviewed = asyncio.run_coroutine_threadsafe(remote.decide(approve), loop)
        run(CrewAIKernel(remote.client, loop=loop).wrap(crew), mode)
        assert reviewed.result(30).status.value == ("approved" if approve else "denied")

    assert tools.ran == ([HELD] if approve else [])
    assert llm.seen("released deploy to production") is approve


def test_unreachable_kernel_denies(mode: str) -> None:
    crew, llm, tools = make_crew(ReActLLM, HARMLESS)
    with on_thread(unreachable_kernel()) as (client, loop):
        run(CrewAIKernel(client, loop=loop).wrap(crew), mode)

    assert tools.ran == []
    assert llm.seen("Tool call 'search' was blocked (no_responders")


def test_remote_kernel_judges_every_call(mode: str) -> None:
    crew, _, tools = make_crew(FunctionCallingLLM, DANGEROUS, HARMLESS)
    with on_thread(remote_kernel()) as (remote, loop):
        run(CrewAIKernel(remote.client, loop=loop).wrap(crew), mode)

    assert tools.ran == [HARMLESS]
    assert [(e.tool, e.decision) for e in remote.audit.events] == [
        ("terminal", "deny"),
        ("search", "allow"),
    ]


async def test_akickoff_reaches_a_remote_kernel_on_the_callers_own_loop() -> None:
    # The hooks are synchronous; CrewAI runs them off the loop that drives the
    # bus, so the verdict arrives (were they on it, the call would be denied).
    crew, _, tools = make_crew(FunctionCallingLLM, DANGEROUS, HARMLESS)
    async with remote_kernel() as remote:
        await CrewAIKernel(remote.client).wrap(crew).akickoff()

    assert tools.ran == [HARMLESS]
    assert [(e.tool, e.decision) for e in remote.audit.events] == [
        ("terminal", "deny"),
        ("search", "allow"),
    ]


def test_exception_inside_the_integration_denies(mode: str) -> None:
    crew, llm, tools = make_crew(ReActLLM, HARMLESS)

    run(CrewAIKernel(KernelSpace("strict", audit=FailingAudit())).wrap(crew), mode)

    assert tools.ran == []
    assert llm.seen("integration_error")


def test_a_hook_that_fails_blocks_instead_of_failing_open(mode: str) -> None:
    # The kernel object itself breaks: CrewAI would run the tool if the hook raised.
    crew, llm, tools = make_crew(ReActLLM, HARMLESS)
    kernel = CrewAIKernel()

    def broken(call: Any) -> Any:
        raise RuntimeError("kernel object broken")

    kernel.decide = broken  # type: ignore[method-assign]
    run(kernel.wrap(crew), mode)

    assert tools.ran == []
    assert llm.seen("blocked")


def test_on_deny_raise_stops_the_run(mode: str) -> None:
    crew, _, tools = make_crew(ReActLLM, DANGEROUS, HARMLESS)

    with pytest.raises(PolicyViolation) as caught:
        run(CrewAIKernel(on_deny="raise").wrap(crew), mode)

    assert caught.value.verdict.rule == "shell:rm-rf"
    assert tools.ran == []


def test_hooks_are_removed_after_the_run_and_other_crews_are_untouched() -> None:
    before = (get_before_tool_call_hooks(), get_after_tool_call_hooks())
    crew, _, _ = make_crew(ReActLLM, HARMLESS)
    CrewAIKernel().wrap(crew).kickoff()
    assert (get_before_tool_call_hooks(), get_after_tool_call_hooks()) == before

    # A crew that was never wrapped runs as CrewAI runs it.
    other, _, other_tools = make_crew(ReActLLM, DANGEROUS)
    other.kickoff()
    assert other_tools.ran == [DANGEROUS]


def test_hooks_are_removed_when_the_run_fails() -> None:
    before = get_before_tool_call_hooks()
    crew, _, _ = make_crew(ReActLLM, DANGEROUS)
    with pytest.raises(PolicyViolation):
        CrewAIKernel(on_deny="raise").wrap(crew).kickoff()
    assert get_before_tool_call_hooks() == before


def test_ungoverned_run_methods_are_not_passed_through() -> None:
    crew, _, _ = make_crew(ReActLLM)
    governed = CrewAIKernel().wrap(crew)
    assert governed.agents == crew.agents
    for name in ("train", "replay", "test", "kickoff_for_each_async_x"):
        with pytest.raises(AttributeError, match="not governed"):
            getattr(governed, name)


AGENT_MODES = ("kickoff", "kickoff_async", "akickoff")


@pytest.mark.parametrize("agent_mode", AGENT_MODES)
def test_an_agent_run_on_its_own_is_governed(llm_type: type[Any], agent_mode: str) -> None:
    crew, llm, tools = make_crew(llm_type, DANGEROUS, HARMLESS)
    governed = CrewAIKernel().wrap(crew.agents[0])
    if agent_mode == "kickoff":
        governed.kickoff("do the job")
    elif agent_mode == "kickoff_async":
        asyncio.run(governed.kickoff_async("do the job"))
    else:
        asyncio.run(governed.akickoff("do the job"))

    assert tools.ran == [HARMLESS]
    assert llm.seen("Tool call 'terminal' was blocked by policy 'strict'")


def test_wrap_refuses_what_is_not_a_crew_or_an_agent() -> None:
    from agent_os.integrations import UnsupportedObject

    wrong: Callable[[], None] = lambda: None  # noqa: E731
    with pytest.raises(UnsupportedObject):
        CrewAIKernel().wrap(wrong)
