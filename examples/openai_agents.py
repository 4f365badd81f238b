"""An OpenAI Agents SDK agent governed by Agent OS, offline.

A scripted model (no API key, no network) asks for a harmless search, then
for ``rm -rf /`` through a shell tool, then for a production deploy. The
search runs; the shell command is stopped before the tool body runs; the
deploy is held (SIGSTOP): the run pauses with an interruption, a person
approves it through ``RunState``, and only then does the tool run.

    pip install 'agent-os[openai]'
    python examples/openai_agents.py
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")  # offline: no trace export

from agents import Agent, ModelResponse, Runner, Usage, function_tool
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from agent_os.integrations import OpenAIKernel
from agent_os.policies import load_policy

SCRIPT = [
    ("search", {"query": "weather in Paris"}),
    ("terminal", {"commands": "rm -rf /"}),
    ("release", {"target": "deploy to production"}),
]

# strict, plus: anything that deploys waits for a person.
POLICY = load_policy(
    {
        "name": "ops",
        "extends": "strict",
        "blocked_patterns": [
            {"pattern": "deploy", "reason": "deploys need a person", "signal": "SIGSTOP"}
        ],
    }
)


class ScriptedModel(Model):
    """Stands in for a real model: one scripted function call per turn, then a summary."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        items = [i if isinstance(i, dict) else i.model_dump() for i in input]
        outputs = [str(i["output"]) for i in items if i.get("type") == "function_call_output"]
        if outputs:
            print(f"  model sees: {outputs[-1]}")
        done = sum(1 for i in items if i.get("type") == "function_call")
        if done == len(SCRIPT):
            text = ResponseOutputText(type="output_text", text="all done", annotations=[])
            message = ResponseOutputMessage(
                type="message", id="m", role="assistant", status="completed", content=[text]
            )
            return ModelResponse(output=[message], usage=Usage(), response_id=None)
        name, arguments = SCRIPT[done]
        print(f"model asks for {name} {arguments}")
        call = ResponseFunctionToolCall(
            type="function_call",
            id=f"fc{done}",
            call_id=f"c{done}",
            name=name,
            arguments=json.dumps(arguments),
            status="completed",
        )
        return ModelResponse(output=[call], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@function_tool
def search(query: str) -> str:
    """Search the web."""
    print(f"  search ran: {query!r}")
    return "sunny, 21 degrees"


@function_tool
def terminal(commands: str) -> str:
    """Run shell commands."""
    print(f"  terminal ran: {commands!r}   <- never printed: the kernel stops it")
    return "done"


@function_tool
def release(target: str) -> str:
    """Release a build."""
    print(f"  release ran: {target!r}   <- only after approval")
    return f"released to {target}"


def main() -> None:
    agent = Agent(name="operator", model=ScriptedModel(), tools=[search, terminal, release])
    governed = OpenAIKernel(POLICY).wrap_agent(agent)

    result = Runner.run_sync(governed, "Check the weather, clean up, ship it.")
    while result.interruptions:
        state = result.to_state()
        for held in result.interruptions:
            arguments = getattr(held.raw_item, "arguments", "")
            print(f"held for review: {held.tool_name} {arguments} -> approving")
            state.approve(held)
        result = Runner.run_sync(governed, state)
    print(f"result: {result.final_output}")


if __name__ == "__main__":
    main()
