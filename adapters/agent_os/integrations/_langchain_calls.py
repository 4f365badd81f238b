"""The tool call LangChain hands over, read once for the kernel, and judged once.

A call reaches us as a ToolNode hook's ``ToolCallRequest`` or as a wrapped
tool's input. Either is read into a :class:`ToolCall`; what cannot be read is
a deny (``integration_error``), never a call let through unjudged. Arguments
the framework injects (state, runtime) are not the model's and are left out.

A call a hook judged is not judged again by its tool or an inner hook of
ours: :func:`judging` marks it for the duration of the call, and
:func:`already_judged` recognises it unless its arguments changed in between.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.tools import BaseTool
from langgraph.prebuilt.tool_node import ToolCallRequest

from agent_os.kernel_worker import Verdict

from ._core import ToolCall, annotations_of

__all__ = ["already_judged", "injected_args", "judging", "request_call", "tool_input_call"]

#: The tool call a hook already judged and is now running (name, id, arguments): its tool
#: skips a second check, unless something between the two changed the arguments.
_judged: contextvars.ContextVar[tuple[str, str | None, dict[str, Any]] | None] = (
    contextvars.ContextVar("agent_os_judged", default=None)
)


def _judged_key(call: ToolCall) -> tuple[str, str | None, dict[str, Any]]:
    return (call.tool, call.call_id, dict(call.args))


def already_judged(call: ToolCall, unread: Verdict | None) -> bool:
    """Whether an outer hook of ours judged this very call (same tool, id and arguments)."""
    return unread is None and _judged.get() == _judged_key(call)


@contextlib.contextmanager
def judging(call: ToolCall) -> Iterator[None]:
    """Mark ``call`` as judged while its handler runs."""
    token = _judged.set(_judged_key(call))
    try:
        yield
    finally:
        _judged.reset(token)


def _unreadable() -> Verdict:
    return Verdict.deny("integration_error", "the tool call could not be read")


def request_call(request: ToolCallRequest) -> tuple[ToolCall, Verdict | None]:
    """The model's call a hook got; with a deny when it cannot be read."""
    tool_call = request.tool_call
    try:
        tool = request.tool
        args = tool_call["args"]
        call = ToolCall(
            tool=str(tool_call["name"]),
            args=args if isinstance(args, Mapping) else {"input": args},
            tool_class=None if tool is None else type(tool).__name__,
            annotations=None if tool is None else annotations_of(tool.metadata),
            call_id=tool_call.get("id"),
        )
    except Exception:
        placeholder = ToolCall(str(tool_call.get("name", "?")), {}, call_id=tool_call.get("id"))
        return placeholder, _unreadable()
    return call, None


def tool_input_call(
    tool: BaseTool, injected: frozenset[str], tool_input: Any, call_id: str | None
) -> tuple[ToolCall, Verdict | None]:
    """The call a wrapped tool was given; with a deny when it cannot be read."""
    try:
        if isinstance(tool_input, Mapping):
            args: Mapping[str, Any] = {k: v for k, v in tool_input.items() if k not in injected}
        else:
            # A string input goes to the tool's one parameter, as LangChain passes it.
            names = list(tool.args)
            args = {names[0] if len(names) == 1 else "input": tool_input}
        call = ToolCall(
            tool=tool.name,
            args=args,
            tool_class=type(tool).__name__,
            annotations=annotations_of(tool.metadata),
            call_id=call_id,
        )
    except Exception:
        return ToolCall(tool.name, {}, call_id=call_id), _unreadable()
    return call, None


def injected_args(tool: BaseTool) -> frozenset[str]:
    """The arguments a tool gets from the framework (state, runtime), not from the model."""
    try:
        schema: Any = tool.get_input_schema()  # pydantic v2 (or v1) model
        every = schema.model_json_schema().get("properties", {})
        return frozenset(set(every) - set(tool.args))  # tool.args: what the model sees
    except Exception:
        # Unknown: judge every argument given (more text for the policy, never less).
        return frozenset()
