"""A deterministic model for the OpenAI Agents SDK: real agents, real runner, scripted answers.

:class:`ScriptedModel` is a ``Model`` subclass. Its script is a list of tool
calls ``(name, arguments)``; it reads the conversation it is given, so a run
that was interrupted and resumed picks up where it was: with ``n`` of its own
function calls already in the input it asks for call ``n``, and once the script is done
it answers with text listing every tool output it was given. Streamed runs
get the same answer as one ``response.completed`` event.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agents import ModelResponse, Usage
from agents.models.interface import Model
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

Step = tuple[str, dict[str, Any] | str]


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return []
    found = []
    for item in value:
        found.append(item if isinstance(item, dict) else item.model_dump())
    return found


class ScriptedModel(Model):
    """Calls the scripted tools in turn, then summarises what the tools returned."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.inputs: list[list[dict[str, Any]]] = []
        # Its own calls are told apart from other agents' in a shared conversation.
        self._prefix = f"call_{id(self):x}_"

    def outputs(self) -> list[str]:
        """Every tool output the model was last shown, in order."""
        last = self.inputs[-1] if self.inputs else []
        return [str(i.get("output")) for i in last if i.get("type") == "function_call_output"]

    def seen(self, text: str) -> bool:
        return any(text in output for output in self.outputs())

    def _answer(self, input: str | list[Any]) -> list[Any]:
        items = _items(input)
        self.inputs.append(items)
        done = sum(
            1
            for i in items
            if i.get("type") == "function_call" and str(i.get("call_id")).startswith(self._prefix)
        )
        if done < len(self.steps):
            name, args = self.steps[done]
            arguments = args if isinstance(args, str) else json.dumps(args)
            return [
                ResponseFunctionToolCall(
                    type="function_call",
                    id=f"fc_{done}",
                    call_id=f"{self._prefix}{done}",
                    name=name,
                    arguments=arguments,
                    status="completed",
                )
            ]
        text = "done: " + " | ".join(self.outputs())
        return [
            ResponseOutputMessage(
                type="message",
                id="msg_final",
                role="assistant",
                status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )
        ]

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        return ModelResponse(output=self._answer(input), usage=Usage(), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[Any]:
        """The same answer as one ``response.completed`` event."""
        response = Response(
            id="resp_scripted",
            created_at=0,
            model="scripted",
            object="response",
            output=self._answer(input),
            tool_choice="auto",
            tools=[],
            parallel_tool_calls=False,
            status="completed",
        )
        yield ResponseCompletedEvent(
            type="response.completed", response=response, sequence_number=0
        )
