"""SIGSTOP in a graph: a LangGraph interrupt, approved or rejected with Command(resume=...)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langgraph.types import Command
from lc_fakes import Recorder, script
from lc_support import MODES, SHIP, checkpointed, interrupts, run, thread_config, tool_messages

from agent_os.integrations import LangChainKernel
from agent_os.integrations._langchain import REVIEW_INTERRUPT
from agent_os.kernel_worker import KernelSpace, MemoryAuditLog
from tests.integrations.support import HARMLESS, HELD, integration_policy


@pytest.mark.parametrize("answer", [True, "approve", {"approved": True}, "review_answer"])
@pytest.mark.parametrize("mode", MODES)
def test_held_call_runs_only_after_approval(mode: str, answer: Any) -> None:
    audit = MemoryAuditLog()
    kernel = LangChainKernel(KernelSpace(integration_policy(), audit=audit))
    rec = Recorder()
    agent = checkpointed(kernel, rec, HELD, HARMLESS)
    config = thread_config()
    run(agent, SHIP, mode, config)
    # Paused: the held call has not run; the harmless one beside it has.
    assert rec.names() == ["search"]
    (pending,) = interrupts(agent, config, mode)
    assert pending.value["type"] == REVIEW_INTERRUPT
    assert pending.value["tool"] == "release" and pending.value["reason"] == "deploys need review"
    if answer == "review_answer":  # the sealed held verdict handed back
        answer = LangChainKernel.review_answer(pending.value)
    state = run(agent, Command(resume=answer), mode, config)
    assert rec.names() == ["search", "release"]
    assert tool_messages(state)["release"].content == "released deploy to production"
    # Judged once: the resumed call took its held verdict from the resume, not the kernel.
    assert sum(1 for e in audit.events if e.tool == "release" and not e.review) == 1
    assert [e.review for e in audit.events if e.review] == ["approved"]


@pytest.mark.parametrize("answer", [False, "deny", {"approved": "yes"}, {"decision": "later"}])
@pytest.mark.parametrize("mode", MODES)
def test_held_call_rejected_never_runs(mode: str, answer: Any) -> None:
    rec = Recorder()
    agent = checkpointed(LangChainKernel(integration_policy()), rec, HELD)
    config = thread_config()
    run(agent, SHIP, mode, config)
    assert rec.ran == [] and len(interrupts(agent, config, mode)) == 1
    state = run(agent, Command(resume=answer), mode, config)
    assert rec.ran == []
    message = tool_messages(state)["release"]
    assert message.status == "error" and "review_denied" in str(message.content)


def test_interrupt_false_uses_the_approver_even_in_a_graph() -> None:
    from agent_os.kernel_worker import CallbackApprover

    kernel = LangChainKernel(
        integration_policy(), interrupt=False, approver=CallbackApprover(lambda r: True)
    )
    rec = Recorder()
    agent = checkpointed(kernel, rec, HELD)
    config = thread_config()
    agent.invoke(SHIP, config)
    assert rec.names() == ["release"] and agent.get_state(config).interrupts == ()


def test_without_a_checkpointer_the_default_approver_denies_on_timeout() -> None:
    from agent_os.kernel_worker import DenyAfterTimeout

    kernel = LangChainKernel(KernelSpace(integration_policy(), approver=DenyAfterTimeout(0.05)))
    rec = Recorder()
    state = kernel.wrap(create_agent(script(HELD), rec.tools())).invoke(SHIP)
    assert rec.ran == []
    assert "review_timeout" in str(tool_messages(state)["release"].content)
