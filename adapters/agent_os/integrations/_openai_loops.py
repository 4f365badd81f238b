"""Governed function-calling loops for the plain openai SDK: Responses and Chat Completions.

Each loop calls the model, and for every function call in its answer asks
the kernel first and runs the user's function only if allowed; the output (or
the refusal) goes back to the model, until it answers without calling a
function. The conversation is sent in full every turn (no server-side state),
so the loops work with ``store=False`` and with compatible servers.

Each loop is written once, as a generator that yields what it needs (a model
call, a function call) and receives the answer; :func:`drive` and
:func:`adrive` run it with a sync or an async client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

from ._core import ToolGovernor
from ._errors import IntegrationError
from ._openai_functions import acall_function, call_function

__all__ = ["DEFAULT_MAX_TURNS", "TooManyTurns", "achat", "aresponses", "chat", "responses"]

DEFAULT_MAX_TURNS = 10
Functions = Mapping[str, Callable[..., Any]]
#: ("model", create kwargs) -> the API's answer; ("call", (name, arguments, call_id)) -> text.
Need = tuple[str, Any]
Loop = Generator[Need, Any, Any]


class TooManyTurns(IntegrationError):
    """The model was still calling functions after ``max_turns`` turns."""

    code = "too_many_turns"


def _start(value: Any, key: str) -> list[Any]:
    if value is None:
        raise TypeError(f"{key}= is required")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value)


def _responses_loop(max_turns: int, create: dict[str, Any]) -> Loop:
    items = _start(create.pop("input", None), "input")
    for _ in range(max_turns):
        response = yield "model", {**create, "input": items}
        calls = [i for i in response.output if getattr(i, "type", None) == "function_call"]
        if not calls:
            return response
        items.extend(response.output)
        for call in calls:
            output = yield "call", (call.name, call.arguments, call.call_id)
            items.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": output}
            )
    raise TooManyTurns(f"the model still called functions after {max_turns} turns")


def _chat_loop(max_turns: int, create: dict[str, Any]) -> Loop:
    messages = _start(create.pop("messages", None), "messages")
    for _ in range(max_turns):
        completion = yield "model", {**create, "messages": messages}
        message = completion.choices[0].message
        calls = [c for c in (message.tool_calls or []) if getattr(c, "type", None) == "function"]
        if not calls:
            return completion
        messages.append(message.model_dump(exclude_none=True))
        for call in calls:
            output = yield "call", (call.function.name, call.function.arguments, call.id)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
    raise TooManyTurns(f"the model still called functions after {max_turns} turns")


def drive(loop: Loop, model: Callable[[dict[str, Any]], Any], call: Callable[..., str]) -> Any:
    """Run ``loop`` with a sync model and sync function calls; its result."""
    need = next(loop)
    while True:
        kind, payload = need
        answer = model(payload) if kind == "model" else call(*payload)
        try:
            need = loop.send(answer)
        except StopIteration as done:
            return done.value


async def adrive(
    loop: Loop,
    model: Callable[[dict[str, Any]], Awaitable[Any]],
    call: Callable[..., Awaitable[str]],
) -> Any:
    """Run ``loop`` with an async model and async function calls; its result."""
    need = next(loop)
    while True:
        kind, payload = need
        answer = await (model(payload) if kind == "model" else call(*payload))
        try:
            need = loop.send(answer)
        except StopIteration as done:
            return done.value


def responses(
    kernel: ToolGovernor, client: Any, functions: Functions, max_turns: int, create: dict[str, Any]
) -> Any:
    """``client.responses.create`` in a loop, each function call governed; the final Response."""
    return drive(
        _responses_loop(max_turns, create),
        lambda kwargs: client.responses.create(**kwargs),
        lambda *call: call_function(kernel, functions, *call),
    )


async def aresponses(
    kernel: ToolGovernor, client: Any, functions: Functions, max_turns: int, create: dict[str, Any]
) -> Any:
    """Async :func:`responses` (an ``AsyncOpenAI`` client)."""
    return await adrive(
        _responses_loop(max_turns, create),
        lambda kwargs: client.responses.create(**kwargs),
        lambda *call: acall_function(kernel, functions, *call),
    )


def chat(
    kernel: ToolGovernor, client: Any, functions: Functions, max_turns: int, create: dict[str, Any]
) -> Any:
    """``client.chat.completions.create`` in a loop, each tool call governed; the last answer."""
    return drive(
        _chat_loop(max_turns, create),
        lambda kwargs: client.chat.completions.create(**kwargs),
        lambda *call: call_function(kernel, functions, *call),
    )


async def achat(
    kernel: ToolGovernor, client: Any, functions: Functions, max_turns: int, create: dict[str, Any]
) -> Any:
    """Async :func:`chat` (an ``AsyncOpenAI`` client)."""
    return await adrive(
        _chat_loop(max_turns, create),
        lambda kwargs: client.chat.completions.create(**kwargs),
        lambda *call: acall_function(kernel, functions, *call),
    )
