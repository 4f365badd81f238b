"""OpenAI: the Agents SDK, plain function calling (Responses, Chat Completions), Assistants runs.

::

    from agent_os.integrations import OpenAIKernel
    kernel = OpenAIKernel()

    agent = kernel.wrap_agent(agent)  # Agents SDK (openai-agents)
    response = kernel.run_responses(client, functions=[get_weather], model=m, input=q, tools=t)
    completion = kernel.run_chat(client, functions=[get_weather], model=m, messages=q, tools=t)
    governed = kernel.wrap_assistant(assistant, client)  # Assistants API runs
    run = governed.run(thread.id, functions=[get_weather])

In every form a function call the model asks for is judged by the kernel
before the user's function runs. Hosted tools (web search, file search, code
interpreter, ...) run on OpenAI's servers: no local code sees their calls, so
they cannot be governed.

The Agents SDK is imported only by :meth:`OpenAIKernel.wrap_agent`, so the
plain-SDK forms work with ``openai`` alone.
"""

from __future__ import annotations

import importlib
from typing import Any

import openai

from ._core import ToolGovernor
from ._errors import MissingExtra
from ._openai_assistant import AssistantsUnavailable, AsyncGovernedAssistant, GovernedAssistant
from ._openai_functions import Functions, acall_function, call_function, function_map
from ._openai_loops import DEFAULT_MAX_TURNS, TooManyTurns, achat, aresponses, chat, responses

__all__ = [
    "AssistantsUnavailable",
    "AsyncGovernedAssistant",
    "GovernedAssistant",
    "OpenAIKernel",
    "TooManyTurns",
]


class OpenAIKernel(ToolGovernor):
    """Governs OpenAI agents and function calls.

    Takes the :class:`ToolGovernor` arguments: ``kernel`` (a policy for an
    in-process kernel, default ``"strict"``, or a ``KernelSpace`` or a
    ``KernelClient``), ``on_deny``, ``actions``, ``approver``, ...
    """

    # -- Agents SDK -------------------------------------------------------------

    def wrap_agent(self, agent: Any) -> Any:
        """Govern an ``agents.Agent`` in place (its function tools, MCP servers, handoffs).

        Returns the same agent. See :mod:`agent_os.integrations._openai_agents`
        for what is installed and what cannot be governed.
        """
        try:
            module = importlib.import_module("._openai_agents", __package__)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.startswith("agent_os"):
                raise
            raise MissingExtra.for_extra("openai", "openai-agents") from exc
        return module.govern_agent(self, agent)

    # -- plain function calling ------------------------------------------------------

    def call_function(
        self, functions: Functions, name: str, arguments: str | None, call_id: str | None = None
    ) -> str:
        """One function call from your own loop: judged, then run if allowed; the output text."""
        return call_function(self, function_map(functions), name, arguments, call_id)

    async def acall_function(
        self, functions: Functions, name: str, arguments: str | None, call_id: str | None = None
    ) -> str:
        """Async :meth:`call_function` (the function may be async)."""
        return await acall_function(self, function_map(functions), name, arguments, call_id)

    def run_responses(
        self,
        client: Any,
        *,
        functions: Functions,
        max_turns: int = DEFAULT_MAX_TURNS,
        **create: Any,
    ) -> Any:
        """A Responses API function-calling loop with every call governed; the final Response.

        ``create`` is what ``client.responses.create`` takes (``model``,
        ``input``, ``tools``, ...). Raises :class:`TooManyTurns` after
        ``max_turns`` model calls that still call functions.
        """
        return responses(self, client, function_map(functions), max_turns, create)

    async def arun_responses(
        self,
        client: Any,
        *,
        functions: Functions,
        max_turns: int = DEFAULT_MAX_TURNS,
        **create: Any,
    ) -> Any:
        """Async :meth:`run_responses` for an ``AsyncOpenAI`` client."""
        return await aresponses(self, client, function_map(functions), max_turns, create)

    def run_chat(
        self,
        client: Any,
        *,
        functions: Functions,
        max_turns: int = DEFAULT_MAX_TURNS,
        **create: Any,
    ) -> Any:
        """A Chat Completions tool-calling loop with every call governed; the final completion."""
        return chat(self, client, function_map(functions), max_turns, create)

    async def arun_chat(
        self,
        client: Any,
        *,
        functions: Functions,
        max_turns: int = DEFAULT_MAX_TURNS,
        **create: Any,
    ) -> Any:
        """Async :meth:`run_chat` for an ``AsyncOpenAI`` client."""
        return await achat(self, client, function_map(functions), max_turns, create)

    # -- Assistants ---------------------------------------------------------------------

    def wrap_assistant(
        self, assistant: Any, client: Any
    ) -> GovernedAssistant | AsyncGovernedAssistant:
        """Govern the tool calls of ``assistant``'s runs (an Assistant or its id).

        With an ``AsyncOpenAI`` client the result's methods are coroutines.
        Raises :class:`AssistantsUnavailable` when the SDK has no Assistants
        API (OpenAI retired the service on 2026-08-26; use :meth:`run_responses`).
        """
        if isinstance(client, openai.AsyncOpenAI):
            return AsyncGovernedAssistant(self, assistant, client)
        return GovernedAssistant(self, assistant, client)
