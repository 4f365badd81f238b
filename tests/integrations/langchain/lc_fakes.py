"""A deterministic chat model that asks for tool calls, and tools that record their runs.

``ToolCallingModel`` is LangChain's own ``FakeMessagesListChatModel`` taught to
``bind_tools`` (it answers from its script whatever tools it is given), the
pattern LangChain's tests use. The tools are real ``BaseTool`` objects; each
records the arguments its body ran with, so a test can show a body never ran.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool, StructuredTool


class ToolCallingModel(FakeMessagesListChatModel):
    """Replies from a script of messages; binding tools changes nothing."""

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[Any, BaseMessage]:
        return self


def script(*calls: tuple[str, dict[str, Any]], final: str = "done") -> ToolCallingModel:
    """A model that asks for ``calls`` (one turn, in parallel), then answers ``final``."""
    tool_calls = [
        {"name": name, "args": args, "id": f"call-{i}", "type": "tool_call"}
        for i, (name, args) in enumerate(calls)
    ]
    return ToolCallingModel(
        responses=[AIMessage(content="", tool_calls=tool_calls), AIMessage(content=final)]
    )


class Recorder:
    """The tools of one test, each recording the arguments its body ran with."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.ran]

    def _tool(self, name: str, doc: str, result: Callable[..., str]) -> BaseTool:
        def body(**kwargs: Any) -> str:
            self.ran.append((name, kwargs))
            return result(**kwargs)

        async def abody(**kwargs: Any) -> str:
            return body(**kwargs)

        schema = {
            "terminal": {"commands": (str, ...)},
            "search": {"query": (str, ...)},
            "release": {"target": (str, ...)},
            "delete_file": {"file_path": (str, ...)},
        }[name]
        from pydantic import create_model

        return StructuredTool.from_function(
            func=body,
            coroutine=abody,
            name=name,
            description=doc,
            args_schema=create_model(f"{name}_args", **schema),  # type: ignore[call-overload]
        )

    def tools(self) -> list[BaseTool]:
        return [
            self._tool("terminal", "Run shell commands.", lambda commands: f"ran {commands}"),
            self._tool("search", "Search the web.", lambda query: f"sunny ({query})"),
            self._tool("release", "Release a build.", lambda target: f"released {target}"),
            self._tool("delete_file", "Delete a file.", lambda file_path: f"deleted {file_path}"),
        ]
