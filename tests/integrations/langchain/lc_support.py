"""Running a LangChain runnable the four ways a caller can, and reading what the model saw."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import ToolMessage

MODES = ("invoke", "ainvoke", "stream", "astream")


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
