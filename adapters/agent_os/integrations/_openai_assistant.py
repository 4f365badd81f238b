"""OpenAI Assistants runs: every ``requires_action`` tool call is judged before it runs.

::

    from agent_os.integrations import OpenAIKernel
    governed = OpenAIKernel().wrap_assistant(assistant, client)
    run = governed.run(thread.id, functions={"get_weather": get_weather})

When a run stops at ``requires_action``, each function call it asks for goes
to the kernel; only allowed calls reach the user's function, and the tool
outputs submitted to the run are the functions' results or the kernel's
refusals. With ``on_deny="raise"`` a refusal cancels the run and raises
:class:`~agent_os.policies.PolicyViolation` (a function that raises cancels
it too).

OpenAI retired the Assistants API service on 2026-08-26; the openai SDK (2.x,
3.x) still has ``client.beta.assistants`` and ``client.beta.threads.runs``, and
compatible servers still speak it. An SDK without it gets
:class:`AssistantsUnavailable`, which names the replacement: the Responses
API (``OpenAIKernel().run_responses``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ._core import ToolGovernor
from ._errors import IntegrationError
from ._openai_functions import Functions, acall_function, call_function, function_map

__all__ = ["AssistantsUnavailable", "AsyncGovernedAssistant", "GovernedAssistant", "runs_api"]

RETIREMENT = (
    "OpenAI retired the Assistants API on 2026-08-26; its replacement is the Responses API"
    " (govern it with OpenAIKernel().run_responses(client, functions=..., ...))."
)


class AssistantsUnavailable(IntegrationError):
    """The installed openai SDK (or the client given) has no Assistants API."""

    code = "assistants_unavailable"


def runs_api(client: Any) -> Any:
    """``client.beta.threads.runs``, or :class:`AssistantsUnavailable` explaining the retirement."""
    runs = getattr(getattr(getattr(client, "beta", None), "threads", None), "runs", None)
    if runs is None or not hasattr(runs, "submit_tool_outputs"):
        raise AssistantsUnavailable(
            f"this openai client ({type(client).__module__}.{type(client).__name__}) has no"
            f" Assistants API (client.beta.threads.runs). {RETIREMENT}"
        )
    return runs


@contextmanager
def _retired_api() -> Iterator[None]:
    # The SDK marks every Assistants method deprecated; a governed run is a
    # deliberate use of it, and the warning would reach the user once per poll.
    # The async SDK warns inside its coroutines, so this is held across awaits:
    # overlapping runs may restore each other's filter, and the only filter
    # that can leak is this one, for this one message.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
        )
        yield


def _assistant_id(assistant: Any) -> str:
    value = assistant if isinstance(assistant, str) else getattr(assistant, "id", None)
    if not isinstance(value, str) or not value:
        raise TypeError("wrap_assistant() takes an Assistant or an assistant id")
    return value


def _tool_calls(run: Any) -> list[Any]:
    action = getattr(run, "required_action", None)
    submit = getattr(action, "submit_tool_outputs", None)
    return list(getattr(submit, "tool_calls", None) or [])


class _Base:
    def __init__(self, kernel: ToolGovernor, assistant: Any, client: Any) -> None:
        self._runs = runs_api(client)
        self._kernel = kernel
        self._client = client
        self.assistant_id = _assistant_id(assistant)

    @property
    def client(self) -> Any:
        return self._client


class GovernedAssistant(_Base):
    """An assistant whose runs execute tool calls only after the kernel allows them."""

    def run(self, thread_id: str, *, functions: Functions, **create: Any) -> Any:
        """Create a run on ``thread_id`` and drive it to the end; the final Run.

        ``functions`` maps function names to callables (or lists named
        functions). ``create`` goes to ``runs.create_and_poll``.
        """
        table = function_map(functions)
        with _retired_api():
            run = self._runs.create_and_poll(
                thread_id=thread_id, assistant_id=self.assistant_id, **create
            )
        while getattr(run, "status", None) == "requires_action":
            run = self.submit(run, functions=table)
        return run

    def submit(self, run: Any, *, functions: Functions) -> Any:
        """Govern one ``requires_action`` step of ``run``: judge, run, submit; the polled Run."""
        table = function_map(functions)
        outputs = self._outputs(run, table)
        with _retired_api():
            return self._runs.submit_tool_outputs_and_poll(
                thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs
            )

    def _outputs(self, run: Any, table: Mapping[str, Callable[..., Any]]) -> list[dict[str, str]]:
        outputs = []
        try:
            for call in _tool_calls(run):
                fn = call.function
                text = call_function(self._kernel, table, fn.name, fn.arguments, call.id)
                outputs.append({"tool_call_id": call.id, "output": text})
        except Exception:
            # A raised refusal (or a failing function) must not leave the run
            # waiting for outputs it will never get.
            with _retired_api():
                self._runs.cancel(thread_id=run.thread_id, run_id=run.id)
            raise
        return outputs


class AsyncGovernedAssistant(_Base):
    """:class:`GovernedAssistant` for an ``AsyncOpenAI`` client: ``await governed.run(...)``."""

    async def run(self, thread_id: str, *, functions: Functions, **create: Any) -> Any:
        """Create a run on ``thread_id`` and drive it to the end; the final Run."""
        table = function_map(functions)
        with _retired_api():
            run = await self._runs.create_and_poll(
                thread_id=thread_id, assistant_id=self.assistant_id, **create
            )
        while getattr(run, "status", None) == "requires_action":
            run = await self.submit(run, functions=table)
        return run

    async def submit(self, run: Any, *, functions: Functions) -> Any:
        """Govern one ``requires_action`` step of ``run``: judge, run, submit; the polled Run."""
        table = function_map(functions)
        outputs = []
        try:
            for call in _tool_calls(run):
                fn = call.function
                text = await acall_function(self._kernel, table, fn.name, fn.arguments, call.id)
                outputs.append({"tool_call_id": call.id, "output": text})
        except Exception:
            with _retired_api():
                await self._runs.cancel(thread_id=run.thread_id, run_id=run.id)
            raise
        with _retired_api():
            return await self._runs.submit_tool_outputs_and_poll(
                thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs
            )
