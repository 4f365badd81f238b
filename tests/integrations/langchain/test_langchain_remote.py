"""The same agent governed by a remote kernel worker (memory bus and a real NATS server),
and the fail-closed cases: an unreachable kernel, an exception inside the integration."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from lc_fakes import Recorder, script
from lc_support import MODES, run, tool_messages

from agent_os.audit import AuditEvent
from agent_os.integrations import LangChainKernel
from agent_os.kernel_worker import KernelSpace
from tests.integrations.support import (
    DANGEROUS,
    HARMLESS,
    HELD,
    LoopThread,
    entered,
    integration_policy,
    remote_kernel,
    unreachable_kernel,
)
from tests.servers import Servers

GO = {"messages": [HumanMessage("clean up and check the weather")]}


def _url(backend: str, servers: Servers) -> str | None:
    return None if backend == "memory" else servers.get(backend).url


@pytest.mark.parametrize("backend", ["memory", "nats"])
@pytest.mark.parametrize("mode", MODES)
def test_same_agent_governed_by_a_remote_worker(
    backend: str, mode: str, servers: Servers, loop_thread: LoopThread
) -> None:
    with entered(loop_thread, remote_kernel(_url(backend, servers))) as remote:
        rec = Recorder()
        kernel = LangChainKernel(remote.client, loop=loop_thread.loop)
        agent = kernel.wrap(create_agent(script(DANGEROUS, HARMLESS), rec.tools()))
        state = run(agent, GO, mode)
        assert rec.names() == ["search"]
        assert tool_messages(state)["terminal"].status == "error"
        assert tool_messages(state)["search"].content == "sunny (weather in Paris)"
        # The worker judged both calls, as this agent's signed identity.
        judged = {(e.agent_id, e.tool, e.decision) for e in remote.audit.events}
        assert judged == {
            (remote.agent.agent_id, "terminal", "deny"),
            (remote.agent.agent_id, "search", "allow"),
        }


@pytest.mark.parametrize("backend", ["memory", "nats"])
@pytest.mark.parametrize("mode", MODES)
def test_unreachable_kernel_denies_every_call(
    backend: str, mode: str, servers: Servers, loop_thread: LoopThread
) -> None:
    with entered(loop_thread, unreachable_kernel(_url(backend, servers))) as client:
        rec = Recorder()
        agent = LangChainKernel(client, loop=loop_thread.loop).wrap(
            create_agent(script(DANGEROUS, HARMLESS), rec.tools())
        )
        state = run(agent, GO, mode)
        assert rec.ran == []  # not even the harmless call runs without a verdict
        assert {m.status for m in tool_messages(state).values()} == {"error"}


class BrokenAudit:
    """An audit sink that fails (a full disk): nothing may run unrecorded."""

    def record(self, event: AuditEvent) -> None:
        raise OSError("audit store unavailable")


class Exploding:
    def __repr__(self) -> str:
        raise RuntimeError("unprintable")


@pytest.mark.parametrize("mode", MODES)
def test_an_exception_inside_the_integration_denies(mode: str) -> None:
    rec = Recorder()
    kernel = LangChainKernel(KernelSpace(integration_policy(), audit=BrokenAudit()))
    state = run(kernel.wrap(create_agent(script(HARMLESS), rec.tools())), GO, mode)
    assert rec.ran == []
    assert "integration_error" in str(tool_messages(state)["search"].content)

    # An exception in our own code reading the tool: also a deny.
    rec = Recorder()
    tools = rec.tools()
    for tool in tools:
        tool.metadata = {"readOnlyHint": Exploding()}
    agent: Any = LangChainKernel().wrap(create_agent(script(HARMLESS), tools))
    state = run(agent, GO, mode)
    assert rec.ran == [] and tool_messages(state)["search"].status == "error"


@pytest.mark.parametrize("approve", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_remote_sigstop_runs_only_after_a_reviewer_approves(
    mode: str, approve: bool, servers: Servers, loop_thread: LoopThread, tmp_path: Path
) -> None:
    with entered(loop_thread, remote_kernel(servers.get("nats").url, review=tmp_path)) as remote:
        rec = Recorder()
        agent = LangChainKernel(remote.client, loop=loop_thread.loop).wrap(
            create_agent(script(HELD), rec.tools())
        )
        # The agent blocks on the held call while a reviewer, elsewhere, decides.
        reviewed = asyncio.run_coroutine_threadsafe(remote.decide(approve), loop_thread.loop)
        state = run(agent, GO, mode)
        assert reviewed.result(30).status.value == ("approved" if approve else "denied")
        if approve:
            assert rec.names() == ["release"]
            assert tool_messages(state)["release"].content == "released deploy to production"
        else:
            assert rec.ran == [] and tool_messages(state)["release"].status == "error"
