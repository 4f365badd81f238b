"""A LangChain agent governed by Agent OS, offline: a harmless tool runs, a dangerous one stops.

    pip install 'agent-os[langchain]'
    python examples/langchain_agent.py

The model is a scripted stand-in (LangChain's own fake chat model) that asks
for two tool calls: a web search and ``rm -rf /`` in a terminal. The kernel
(in-process, the ``strict`` policy) lets the search run and stops the terminal
call before its body runs; the model is told why and carries on. The same
agent is then run the seed's way, through a ``langchain-classic``
``AgentExecutor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from langchain_core.tools import tool

from agent_os.integrations import LangChainKernel

ran: list[str] = []


@tool
def search(query: str) -> str:
    """Search the web."""
    ran.append(f"search({query!r})")
    return f"Sunny in {query}."


@tool
def terminal(commands: str) -> str:
    """Run shell commands."""
    ran.append(f"terminal({commands!r})")  # never reached: the kernel stops rm -rf
    return "done"


class ScriptedModel(FakeMessagesListChatModel):
    """A chat model that replays a script; binding tools changes nothing."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self


def scripted() -> ScriptedModel:
    calls = [
        {"name": "search", "args": {"query": "Paris"}, "id": "1", "type": "tool_call"},
        {"name": "terminal", "args": {"commands": "rm -rf /"}, "id": "2", "type": "tool_call"},
    ]
    return ScriptedModel(
        responses=[AIMessage(content="", tool_calls=calls), AIMessage(content="All done.")]
    )


def main() -> None:
    kernel = LangChainKernel()  # in-process kernel, strict policy

    agent = kernel.wrap(create_agent(scripted(), [search, terminal]))
    state = agent.invoke({"messages": [("user", "Check the weather, then tidy the disk.")]})
    print("create_agent:")
    for message in state["messages"]:
        if isinstance(message, ToolMessage):
            print(f"  {message.name:9} [{message.status}] {message.content}")
    print(f"  tool bodies that ran: {ran}")

    ran.clear()
    prompt = ChatPromptTemplate.from_messages(
        [("human", "{input}"), ("placeholder", "{agent_scratchpad}")]
    )
    agent_executor = AgentExecutor(
        agent=create_tool_calling_agent(scripted(), [search, terminal], prompt),
        tools=[search, terminal],
    )
    governed_agent = LangChainKernel().wrap(agent_executor)
    result = governed_agent.invoke({"input": "analyze this data"})
    print(f"AgentExecutor: output={result['output']!r}; tool bodies that ran: {ran}")
    assert ran == ["search('Paris')"], ran


if __name__ == "__main__":
    main()
