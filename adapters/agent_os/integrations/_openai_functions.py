"""One function call of a model, judged before the user's function runs.

Shared by the governed Responses / Chat Completions loops and the Assistants
runs: the model names a function and hands its arguments as JSON text; the
kernel judges ``{"tool": name, "args": <the parsed JSON>}``; only an allowed
call reaches the function, and what goes back to the model is the function's
result as text, or the kernel's refusal.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_os.kernel_worker import Verdict

from ._core import ToolCall, ToolGovernor

__all__ = ["Functions", "acall_function", "call_function", "function_map", "parse_arguments"]

Functions = Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]]


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """The model's arguments as a dict; text that is not a JSON object is kept under ``input``."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"input": raw}
    return value if isinstance(value, dict) else {"input": value}


def function_map(functions: Functions) -> dict[str, Callable[..., Any]]:
    """``{name: function}`` from a mapping or from functions named by ``__name__``."""
    if isinstance(functions, Mapping):
        return dict(functions)
    found: dict[str, Callable[..., Any]] = {}
    for fn in functions:
        name = getattr(fn, "__name__", None)
        if not isinstance(name, str) or not callable(fn):
            raise TypeError(f"{fn!r} is not a named function; pass a {{name: function}} mapping")
        found[name] = fn
    return found


def _prepare(name: str, arguments: str | None, call_id: str | None) -> ToolCall:
    return ToolCall(name, parse_arguments(arguments), call_id=call_id)


def _stopped(
    kernel: ToolGovernor,
    call: ToolCall,
    verdict: Verdict,
    fn: Callable[..., Any] | None,
    arguments: str | None,
) -> str | None:
    """The text for the model when the call does not run (refused, or the model's mistake)."""
    if not verdict.allowed:
        return kernel.refuse(call, verdict)
    if fn is None:
        return f"There is no function named {call.tool!r}."
    if arguments:
        try:
            if not isinstance(json.loads(arguments), dict):
                return "The arguments must be a JSON object."
        except ValueError:
            return "The arguments are not valid JSON."
    return None


def output_text(result: Any) -> str:
    """A function's result as the text a model is given."""
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result)
    except (TypeError, ValueError):
        return str(result)


def _run(
    kernel: ToolGovernor,
    functions: Mapping[str, Callable[..., Any]],
    call: ToolCall,
    verdict: Verdict,
    arguments: str | None,
) -> tuple[str | None, Any]:
    """``(text, None)`` when the call does not run, else ``(None, the function's result)``."""
    fn = functions.get(call.tool)
    stopped = _stopped(kernel, call, verdict, fn, arguments)
    if stopped is not None or fn is None:
        return stopped or "", None
    return None, fn(**call.args)


def call_function(
    kernel: ToolGovernor,
    functions: Mapping[str, Callable[..., Any]],
    name: str,
    arguments: str | None,
    call_id: str | None = None,
) -> str:
    """Judge the call; run ``functions[name]`` only if allowed; the text for the model."""
    call = _prepare(name, arguments, call_id)
    stopped, result = _run(kernel, functions, call, kernel.decide(call), arguments)
    if stopped is not None:
        return stopped
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        raise TypeError(f"function {name!r} is async: use the async loop")
    return output_text(result)


async def acall_function(
    kernel: ToolGovernor,
    functions: Mapping[str, Callable[..., Any]],
    name: str,
    arguments: str | None,
    call_id: str | None = None,
) -> str:
    """Async :func:`call_function`; the function may be sync or async."""
    call = _prepare(name, arguments, call_id)
    stopped, result = _run(kernel, functions, call, await kernel.adecide(call), arguments)
    if stopped is not None:
        return stopped
    if inspect.isawaitable(result):
        result = await result
    return output_text(result)
