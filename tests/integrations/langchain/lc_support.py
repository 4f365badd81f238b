"""Running a LangChain runnable the four ways a caller can, and reading what the model saw;
agents that stop on a held call (an interrupt) and resume."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from lc_fakes import Recorder, script

MODES = ("invoke", "ainvoke", "stream", "astream")
#: The prompt of the review tests (the scripted model ignores it).
SHIP = {"messages": [HumanMessage("ship the release")]}
_threads = itertools.count()


def run(runnable: Any, value: Any, mode: str, config: dict[str, Any] | None = None) -> Any:
    """``runnable`` driven by ``mode``; for streams, the last chunk (the final state)."""
    if mode == "invoke":
        return runnable.invoke(value, config)
    if mode == "ainvoke":
        return asyncio.run(runnable.ainvoke(value, config))
    if mode == "stream":
        last = None
        for chunk in runnable.stream(value, config, **_stream_options(runnable)):
            last = chunk
        return last
    if mode == "astream":

        async def consume() -> Any:
            last = None
            async for chunk in runnable.astream(value, config, **_stream_options(runnable)):
                last = chunk
            return last

        return asyncio.run(consume())
    raise ValueError(mode)


def _stream_options(runnable: Any) -> dict[str, Any]:
    # Graphs stream full states with stream_mode="values"; an AgentExecutor has no modes.
    return {"stream_mode": "values"} if hasattr(runnable, "get_state") else {}


def tool_messages(state: dict[str, Any]) -> dict[str, ToolMessage]:
    """The graph's ToolMessages by tool name."""
    return {str(m.name): m for m in state["messages"] if isinstance(m, ToolMessage) and m.name}


def checkpointed(kernel: Any, rec: Recorder, *calls: tuple[str, dict[str, Any]]) -> Any:
    """A ``create_agent`` agent that asks for ``calls``, with a checkpointer (so a held call
    interrupts), governed by ``kernel``."""
    return kernel.wrap(create_agent(script(*calls), rec.tools(), checkpointer=InMemorySaver()))


def thread_config() -> dict[str, Any]:
    """A config naming a new graph thread."""
    return {"configurable": {"thread_id": f"thread-{next(_threads)}"}}


def interrupts(agent: Any, config: dict[str, Any], mode: str) -> list[Any]:
    """The interrupts ``agent``'s thread stopped on, read the way ``mode`` runs it."""
    if mode in ("ainvoke", "astream"):
        state = asyncio.run(agent.aget_state(config))
    else:
        state = agent.get_state(config)
    return list(state.interrupts)
