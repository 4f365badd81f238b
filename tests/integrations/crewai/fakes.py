"""Deterministic fake models for CrewAI: real crews, real tools, scripted LLMs.

:class:`ReActLLM` answers in the ReAct text format CrewAI parses for models
without native function calling; :class:`FunctionCallingLLM` returns native
tool calls, which CrewAI runs through its function-calling path. Both play
their script one tool call per model call, then give a final answer, and keep
every prompt they were shown so a test can read what reached the model.
"""

from __future__ import annotations

import json
from typing import Any

from crewai.llms.base_llm import BaseLLM
from pydantic import Field

Step = tuple[str, dict[str, Any]]


class _ScriptedLLM(BaseLLM):
    steps: list[Step] = Field(default_factory=list)
    prompts: list[str] = Field(default_factory=list)
    position: int = 0

    def _record(self, messages: Any) -> None:
        if isinstance(messages, str):
            self.prompts.append(messages)
        else:
            self.prompts.append("\n".join(str(m.get("content", "")) for m in messages))

    def _next(self) -> Step | None:
        if self.position >= len(self.steps):
            return None
        step = self.steps[self.position]
        self.position += 1
        return step

    def seen(self, text: str) -> bool:
        """Whether ``text`` appeared in any prompt the model was given."""
        return any(text in prompt for prompt in self.prompts)

    def _answer(self, messages: Any) -> Any:
        raise NotImplementedError

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        self._record(messages)
        return self._answer(messages)

    async def acall(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        self._record(messages)
        return self._answer(messages)


class ReActLLM(_ScriptedLLM):
    """Emits ``Action:`` / ``Action Input:`` text for each step, then ``Final Answer:``."""

    def _answer(self, messages: Any) -> Any:
        step = self._next()
        if step is None:
            return "Thought: I have what I need.\nFinal Answer: finished"
        name, args = step
        return f"Thought: I should use {name}.\nAction: {name}\nAction Input: {json.dumps(args)}"


class FunctionCallingLLM(_ScriptedLLM):
    """Returns native tool calls (OpenAI shape), then a plain final answer."""

    def supports_function_calling(self) -> bool:
        return True

    def _answer(self, messages: Any) -> Any:
        step = self._next()
        if step is None:
            return "finished"
        name, args = step
        return [
            {
                "id": f"call_{self.position}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
        ]
