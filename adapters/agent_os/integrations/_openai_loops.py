"""Governed function-calling loops for the plain openai SDK: Responses and Chat Completions.

Each loop calls the model, and for every function call in its answer asks
the kernel first and runs the user's function only if allowed; the output (or
the refusal) goes back to the model, until it answers without calling a
function. The conversation is sent in full every turn (no server-side state),
so the loops work with ``store=False`` and with compatible servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._core import ToolGovernor
from ._errors import IntegrationError
from ._openai_functions import acall_function, call_function

__all__ = ["DEFAULT_MAX_TURNS", "TooManyTurns", "achat", "aresponses", "chat", "responses"]

DEFAULT_MAX_TURNS = 10
Functions = Mapping[str, Callable[..., Any]]


class TooManyTurns(IntegrationError):
    """The model was still calling functions after ``max_turns`` turns."""

    code = "too_many_turns"


def _start(value: Any, key: str) -> list[Any]:
    if value is None:
        raise TypeError(f"{key}= is required")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value)


def _function_calls(response: Any) -> list[Any]:
    return [item for item in response.output if getattr(item, "type", None) == "function_call"]


def _tool_calls(completion: Any) -> tuple[Any, list[Any]]:
    message = completion.choices[0].message
    calls = [c for c in (message.tool_calls or []) if getattr(c, "type", None) == "function"]
    return message, calls


def _assistant_turn(message: Any) -> dict[str, Any]:
    turn: dict[str, Any] = message.model_dump(exclude_none=True)
    return turn


def _exhausted(max_turns: int) -> TooManyTurns:
    return TooManyTurns(f"the model still called functions after {max_turns} turns")


def responses(
    kernel: ToolGovernor,
    client: Any,
    functions: Functions,
    max_turns: int,
    create: dict[str, Any],
) -> Any:
    """``client.responses.create`` in a loop, each function call governed; the final Response."""
    items = _start(create.pop("input", None), "input")
    for _ in range(max_turns):
        response = client.responses.create(input=items, **create)
        calls = _function_calls(response)
        if not calls:
            return response
        items.extend(response.output)
        for call in calls:
            output = call_function(kernel, functions, call.name, call.arguments, call.call_id)
            items.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
    raise _exhausted(max_turns)


async def aresponses(
    kernel: ToolGovernor,
    client: Any,
    functions: Functions,
    max_turns: int,
    create: dict[str, Any],
) -> Any:
    """Async :func:`responses` (an ``AsyncOpenAI`` client)."""
    items = _start(create.pop("input", None), "input")
    for _ in range(max_turns):
        response = await client.responses.create(input=items, **create)
        calls = _function_calls(response)
        if not calls:
            return response
        items.extend(response.output)
        for call in calls:
            output = await acall_function(
                kernel, functions, call.name, call.arguments, call.call_id
            )
            items.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
    raise _exhausted(max_turns)


def chat(
    kernel: ToolGovernor,
    client: Any,
    functions: Functions,
    max_turns: int,
    create: dict[str, Any],
) -> Any:
    """``client.chat.completions.create`` in a loop, each tool call governed; the last answer."""
    messages = _start(create.pop("messages", None), "messages")
    for _ in range(max_turns):
        completion = client.chat.completions.create(messages=messages, **create)
        message, calls = _tool_calls(completion)
        if not calls:
            return completion
        messages.append(_assistant_turn(message))
        for call in calls:
            fn = call.function
            output = call_function(kernel, functions, fn.name, fn.arguments, call.id)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
    raise _exhausted(max_turns)


async def achat(
    kernel: ToolGovernor,
    client: Any,
    functions: Functions,
    max_turns: int,
    create: dict[str, Any],
) -> Any:
    """Async :func:`chat` (an ``AsyncOpenAI`` client)."""
    messages = _start(create.pop("messages", None), "messages")
    for _ in range(max_turns):
        completion = await client.chat.completions.create(messages=messages, **create)
        message, calls = _tool_calls(completion)
        if not calls:
            return completion
        messages.append(_assistant_turn(message))
        for call in calls:
            fn = call.function
            output = await acall_function(kernel, functions, fn.name, fn.arguments, call.id)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
    raise _exhausted(max_turns)
