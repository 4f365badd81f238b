"""The seed's spelling on a langchain-classic AgentExecutor, verbatim, and its variants."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
from langchain_core.prompts import ChatPromptTemplate
from lc_fakes import Recorder, ToolCallingModel, script
from lc_support import MODES, run

from agent_os.integrations import LangChainKernel
from agent_os.kernel_worker import CallbackApprover, ReviewRequest
from tests.integrations.support import DANGEROUS, HARMLESS, HELD, integration_policy

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You analyse data."), ("human", "{input}"), ("placeholder", "{agent_scratchpad}")]
)


def _executor(model: ToolCallingModel, rec: Recorder, **kwargs: Any) -> AgentExecutor:
    tools = rec.tools()
    agent = create_tool_calling_agent(model, tools, PROMPT)
    return AgentExecutor(agent=agent, tools=tools, **kwargs)


def test_the_seed_spelling_verbatim() -> None:
    rec = Recorder()
    agent_executor = _executor(script(DANGEROUS, HARMLESS, final="analysis done"), rec)

    from agent_os.integrations import LangChainKernel

    governed_agent = LangChainKernel().wrap(agent_executor)
    result = governed_agent.invoke({"input": "analyze this data"})

    assert result["output"] == "analysis done"
    assert rec.names() == ["search"]  # `rm -rf /` never reached the terminal tool


@pytest.mark.parametrize("mode", MODES)
def test_executor_observations_show_the_block(mode: str) -> None:
    rec = Recorder()
    executor = _executor(script(DANGEROUS, HARMLESS), rec, return_intermediate_steps=True)
    result = run(LangChainKernel().wrap(executor), {"input": "analyze this data"}, mode)
    assert rec.names() == ["search"]
    if mode in ("invoke", "ainvoke"):
        observations = {a.tool: o for a, o in result["intermediate_steps"]}
        assert (
            "blocked" in observations["terminal"]
            and "The tool did not run" in observations["terminal"]
        )
        assert observations["search"] == "sunny (weather in Paris)"
    else:
        assert result["output"] == "done"


@pytest.mark.parametrize("mode", MODES)
def test_executor_sigstop_waits_for_the_approver(mode: str) -> None:
    # No graph, no checkpointer: the kernel's approver decides held calls.
    seen: list[ReviewRequest] = []

    def approve(request: ReviewRequest) -> bool:
        seen.append(request)
        return len(seen) == 1  # the first held call is approved, later ones denied

    kernel = LangChainKernel(integration_policy(), approver=CallbackApprover(approve))
    rec = Recorder()
    run(kernel.wrap(_executor(script(HELD), rec)), {"input": "ship it"}, mode)
    assert rec.names() == ["release"] and len(seen) == 1
    rec2 = Recorder()
    run(kernel.wrap(_executor(script(HELD), rec2)), {"input": "ship it"}, mode)
    assert rec2.ran == [] and len(seen) == 2
