"""A CrewAI crew governed by Agent OS, offline.

A scripted model (no API key, no network) asks for a harmless web search and
then for ``rm -rf /`` through a shell tool. The search runs; the shell command
is stopped by the ``strict`` policy before the tool body runs, and the model
is told why.

    pip install 'agent-os[crewai]'
    python examples/crewai_crew.py
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("OTEL_SDK_DISABLED", "true")  # offline: no telemetry
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

from crewai import Agent, Crew, Task
from crewai.llms.base_llm import BaseLLM
from crewai.tools import tool

from agent_os.integrations import CrewAIKernel

SCRIPT = [
    ("search", {"query": "weather in Paris"}),
    ("terminal", {"commands": "rm -rf /"}),
]


class ScriptedLLM(BaseLLM):
    """Stands in for a real model: answers in CrewAI's ReAct format from a script."""

    position: int = 0

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        if isinstance(messages, list) and self.position:
            seen = str(messages[-2].get("content", "")).partition("Observation: ")[2]
            print(f"  model sees: {seen}")
        if self.position == len(SCRIPT):
            return "Thought: done.\nFinal Answer: searched; the shell command was refused."
        name, arguments = SCRIPT[self.position]
        self.position += 1
        print(f"model asks for {name} {arguments}")
        return f"Thought: use {name}.\nAction: {name}\nAction Input: {json.dumps(arguments)}"


@tool("search")
def search(query: str) -> str:
    """Search the web."""
    print(f"  search ran: {query!r}")
    return "sunny, 21 degrees"


@tool("terminal")
def terminal(commands: str) -> str:
    """Run shell commands."""
    print(f"  terminal ran: {commands!r}   <- never printed: the kernel stops it")
    return "done"


def main() -> None:
    agent = Agent(
        role="operator",
        goal="answer questions",
        backstory="an operations assistant",
        llm=ScriptedLLM(model="scripted"),
        tools=[search, terminal],
    )
    task = Task(
        description="Check the weather, then clean up.", expected_output="a summary", agent=agent
    )
    crew = Crew(agents=[agent], tasks=[task])

    governed_crew = CrewAIKernel().wrap(crew)
    result = governed_crew.kickoff()
    print(f"result: {result.raw}")


if __name__ == "__main__":
    main()
