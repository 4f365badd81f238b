"""A held call resumed after a LangGraph interrupt is not judged again, with remote kernels too
(the local kernel's resumes are in ``test_langchain_review``).

The interrupt's value carries the held verdict sealed into ``review``; the
resume hands it back (``review_answer``). The kernel sees one judged action
per held call (one audit record, one review item), whichever way the graph is
driven. With a remote kernel (a real worker and a durable review store on the
memory bus) the graph is not blocked while the reviewer decides, and the
decision that runs the call is the kernel-signed verdict of the review desk:
a resume value cannot approve (resumed before a decision, the call interrupts
again), and a token that is not the call's is a deny.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from lc_fakes import Recorder, script
from lc_support import MODES, SHIP, checkpointed, interrupts, run, thread_config, tool_messages

from agent_os.integrations import LangChainKernel
from agent_os.integrations._langchain_review import REVIEW_INTERRUPT
from agent_os.kernel_worker import KernelSpace, MemoryAuditLog
from tests.integrations.support import (
    HARMLESS,
    HELD,
    LoopThread,
    Remote,
    entered,
    integration_policy,
    remote_kernel,
)

review_answer = LangChainKernel.review_answer


def _interrupt(agent: Any, config: dict[str, Any], mode: str) -> dict[str, Any]:
    (pending,) = interrupts(agent, config, mode)
    value = pending.value
    assert isinstance(value, dict) and value["type"] == REVIEW_INTERRUPT
    return value


def _judged(audit: MemoryAuditLog, tool: str) -> int:
    """How many times the kernel judged a call of ``tool`` (review outcomes aside)."""
    return sum(1 for e in audit.events if e.tool == tool and not e.review)


# -- local kernel ------------------------------------------------------------------------


def test_local_token_sealed_by_another_process_still_takes_the_answer() -> None:
    # A second governor (another process) cannot verify the first one's token: the
    # call is judged again and the answer decides, as before (a local kernel's
    # reviewer is whoever drives the graph).
    audit = MemoryAuditLog()
    space = KernelSpace(integration_policy(), audit=audit)
    rec = Recorder()
    checkpointer = InMemorySaver()
    agent = LangChainKernel(space).wrap(
        create_agent(script(HELD), rec.tools(), checkpointer=checkpointer)
    )
    config = thread_config()
    agent.invoke(SHIP, config)
    value = _interrupt(agent, config, "invoke")
    LangChainKernel(space).wrap(agent)
    state = agent.invoke(Command(resume=review_answer(value)), config)
    assert rec.names() == ["release"]
    assert tool_messages(state)["release"].content == "released deploy to production"
    assert _judged(audit, "release") == 2


# -- remote kernel -----------------------------------------------------------------------


def _decide(remote: Remote, thread: LoopThread, approve: bool) -> None:
    done = asyncio.run_coroutine_threadsafe(remote.decide(approve), thread.loop).result(30)
    assert done.status.value == ("approved" if approve else "denied")


@pytest.mark.parametrize("approve", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_remote_interrupt_then_reviewer_then_resume(
    mode: str, approve: bool, loop_thread: LoopThread, tmp_path: Path
) -> None:
    with entered(loop_thread, remote_kernel(review=tmp_path)) as remote:
        assert remote.store is not None
        rec = Recorder()
        agent = checkpointed(
            LangChainKernel(remote.client, loop=loop_thread.loop), rec, HELD, HARMLESS
        )
        config = thread_config()
        # The graph stops at once (it does not block on the reviewer) with the ticket.
        run(agent, SHIP, mode, config)
        value = _interrupt(agent, config, mode)
        (item,) = remote.store.pending()
        assert value["ticket"] == item.ticket and value["request_id"] == item.request_id
        assert rec.names() == ["search"]

        _decide(remote, loop_thread, approve)
        state = run(agent, Command(resume=review_answer(value)), mode, config)
        message = tool_messages(state)["release"]
        if approve:
            assert rec.names() == ["search", "release"]
            assert message.content == "released deploy to production"
        else:
            assert rec.names() == ["search"] and "review_denied" in str(message.content)
        # The worker judged the held call once and holds one review item for it.
        assert _judged(remote.audit, "release") == 1
        assert len(remote.store.history(10)) == 1 and remote.store.pending() == []


def test_remote_resume_in_a_fresh_governor_verifies_the_agents_seal(
    loop_thread: LoopThread, tmp_path: Path
) -> None:
    # Another process of the same agent (same key): the token verifies there too.
    with entered(loop_thread, remote_kernel(review=tmp_path)) as remote:
        rec = Recorder()
        agent = checkpointed(LangChainKernel(remote.client, loop=loop_thread.loop), rec, HELD)
        config = thread_config()
        agent.invoke(SHIP, config)
        value = _interrupt(agent, config, "invoke")
        _decide(remote, loop_thread, True)
        LangChainKernel(remote.client, loop=loop_thread.loop).wrap(agent)
        state = agent.invoke(Command(resume=review_answer(value)), config)
        assert rec.names() == ["release"]
        assert tool_messages(state)["release"].content == "released deploy to production"
        assert _judged(remote.audit, "release") == 1


@pytest.mark.parametrize("mode", MODES)
def test_remote_resume_before_any_decision_interrupts_again(
    mode: str, loop_thread: LoopThread, tmp_path: Path
) -> None:
    with entered(loop_thread, remote_kernel(review=tmp_path)) as remote:
        assert remote.store is not None
        rec = Recorder()
        agent = checkpointed(LangChainKernel(remote.client, loop=loop_thread.loop), rec, HELD)
        config = thread_config()
        run(agent, SHIP, mode, config)
        first = _interrupt(agent, config, mode)
        # Resumed with an approval before any reviewer decided: stopped again, same ticket.
        run(agent, Command(resume=review_answer(first)), mode, config)
        again = _interrupt(agent, config, mode)
        assert again["ticket"] == first["ticket"] and rec.ran == []
        _decide(remote, loop_thread, True)
        state = run(agent, Command(resume=review_answer(again)), mode, config)
        assert rec.names() == ["release"]
        assert tool_messages(state)["release"].content == "released deploy to production"
        assert _judged(remote.audit, "release") == 1 and len(remote.store.history(10)) == 1


@pytest.mark.parametrize("forgery", ["garbage", "other thread"])
def test_remote_resume_with_a_token_not_for_this_call_denies(
    forgery: str, loop_thread: LoopThread, tmp_path: Path
) -> None:
    with entered(loop_thread, remote_kernel(review=tmp_path)) as remote:
        assert remote.store is not None
        rec = Recorder()
        kernel = LangChainKernel(remote.client, loop=loop_thread.loop)
        # One agent per thread (each fake model answers its script once).
        other = checkpointed(kernel, rec, HELD)
        agent = checkpointed(kernel, rec, HELD)
        first, second = thread_config(), thread_config()
        other.invoke(SHIP, first)
        agent.invoke(SHIP, second)
        tokens = {
            "garbage": "e30.AAAA",
            # Genuine, and approved by a reviewer, but sealed for the first thread's call.
            "other thread": _interrupt(other, first, "invoke")["review"],
        }
        _decide(remote, loop_thread, True)
        _interrupt(agent, second, "invoke")
        answer = {"approved": True, "review": tokens[forgery]}
        state = agent.invoke(Command(resume=answer), second)
        assert rec.ran == []
        assert "review_mismatch" in str(tool_messages(state)["release"].content)
