"""Benchmark: the latency a framework integration adds to one tool call.

Each figure is one call at a time, timed end to end, beside a same-run
baseline without governance:

LangChain (needs the ``langchain`` extra: run with ``.venv-langchain``):

* ``tool``      ``BaseTool.invoke`` of a harmless tool: plain, then wrapped by
  ``LangChainKernel()`` (in-process kernel, ``strict``), then wrapped with a
  remote kernel worker over NATS, called sync (bridged to the bus's loop
  thread) and async (on the bus's own loop);
* ``toolnode``  a one-node LangGraph graph whose ``ToolNode`` runs one model
  tool call: plain, then wrapped (the kernel's hooks: the agent path);
* ``check``     the raw ``KernelClient.check`` round trip over the same NATS
  server: what a remote verdict costs by itself.

MCP (needs the ``mcp`` extra: the main ``.venv``):

* ``call_tool`` over the official client to the demo server (stdio
  subprocess): direct, then through ``GovernedMCPProxy`` (in-process MCP hop
  plus the in-process kernel), and the proxy's governance step alone.

Usage::

    .venv-langchain/bin/python benchmarks/integration_overhead.py [--calls 2000] [--json]
    .venv/bin/python benchmarks/integration_overhead.py --calls 500     # the MCP part

A NATS server is started from the pip-installed ``nats-server`` (or taken
from ``--nats URL``). Sections whose framework is not installed are skipped
and say so.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_os.adapters import KernelClient  # noqa: E402
from agent_os.bus import connect  # noqa: E402
from agent_os.integrations import EventLoopThread  # noqa: E402
from agent_os.kernel_worker import Worker, load_policy  # noqa: E402
from agent_os.trust import AgentIdentity, TrustRegistry  # noqa: E402
from tests.servers import nats as nats_server  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _lc_agent import (  # noqa: E402
    ARGS,
    GO,
    added_p50,
    ainterleaved,
    interleaved,
    print_table,
    scripted_agent,
    search_tool,
    stats,
    time_async,
    time_sync,
)

__all__ = ["ARGS", "RemoteKernel", "stats", "time_async", "time_sync"]


class RemoteKernel:
    """A kernel worker and an agent's client over NATS, on an event-loop thread."""

    def __init__(self, url: str) -> None:
        self.thread = EventLoopThread()
        kernel, agent = AgentIdentity.create("kernel-b"), AgentIdentity.create("agent-b")
        registry = TrustRegistry()
        registry.register(agent)
        self.worker_bus = self.thread.run(connect(url))
        self.agent_bus = self.thread.run(connect(url))
        self.worker = Worker(
            self.worker_bus, identity=kernel, registry=registry,
            policies=load_policy("strict"), publish_audit=False,
        )  # fmt: skip
        self.thread.run(self.worker.start())
        self.client = KernelClient(self.agent_bus, agent, [kernel.public()])

    def close(self) -> None:
        self.thread.run(self.worker.shutdown())
        self.thread.run(self.agent_bus.close())
        self.thread.run(self.worker_bus.close())
        self.thread.close()


def langchain_section(remote: RemoteKernel, calls: int, warmup: int) -> dict[str, Any]:
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    from agent_os.integrations import LangChainKernel

    make_tool = search_tool
    plain = make_tool()
    local = LangChainKernel().wrap(make_tool())
    over_nats = LangChainKernel(remote.client, loop=remote.thread.loop).wrap(make_tool())
    out: dict[str, Any] = interleaved(
        {
            "tool plain": lambda: plain.invoke(ARGS),
            "tool local": lambda: local.invoke(ARGS),
            "tool nats sync": lambda: over_nats.invoke(ARGS),
        },
        calls,
        warmup,
    )
    out |= remote.thread.run(
        ainterleaved(
            {
                "tool plain async": lambda: plain.ainvoke(ARGS),
                "tool nats async": lambda: over_nats.ainvoke(ARGS),
                "check nats": lambda: remote.client.check("tool_call", ARGS, tool="search"),
            },
            calls,
            warmup,
        )
    )

    def graph(node: ToolNode) -> Any:
        # A ToolNode runs inside a graph (it needs the graph's runtime).
        builder = StateGraph(MessagesState)
        builder.add_node("tools", node)
        builder.add_edge(START, "tools")
        builder.add_edge("tools", END)
        return builder.compile()

    message = AIMessage("", tool_calls=[{"name": "search", "args": ARGS, "id": "c1"}])
    node_plain = graph(ToolNode([make_tool()]))
    node_local = LangChainKernel().wrap(graph(ToolNode([make_tool()])))
    state = {"messages": [message]}
    out |= interleaved(
        {
            "toolnode plain": lambda: node_plain.invoke(state),
            "toolnode local": lambda: node_local.invoke(state),
        },
        calls // 2,
        warmup // 2,
    )

    # A whole create_agent run (two model turns, one tool call), as the peer benchmark runs it.
    agent_plain = scripted_agent()
    agent_local = scripted_agent([LangChainKernel().middleware()])
    out |= interleaved(
        {
            "agent plain": lambda: agent_plain.invoke(GO),
            "agent local": lambda: agent_local.invoke(GO),
        },
        calls // 4,
        warmup // 4,
    )
    out |= asyncio.run(
        ainterleaved(
            {
                "agent plain async": lambda: agent_plain.ainvoke(GO),
                "agent local async": lambda: agent_local.ainvoke(GO),
            },
            calls // 4,
            warmup // 4,
        )
    )
    return out


async def mcp_section(calls: int, warmup: int) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    from agent_os.integrations import GovernedMCPProxy, ToolCall

    sandbox = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    (sandbox / "notes.txt").write_text("numbers")
    upstream = StdioServerParameters(
        command=sys.executable,
        args=[str(ROOT / "examples" / "mcp_demo_server.py"), "--root", str(sandbox)],
    )
    args = {"path": "notes.txt"}
    call = ToolCall("read_file", args, "MCPTool", {"readOnlyHint": True})
    async with (
        Client(upstream, cache=None) as direct,
        GovernedMCPProxy(upstream, "strict") as proxy,
        Client(proxy.server) as via,
    ):
        out: dict[str, Any] = await ainterleaved(
            {
                "mcp direct": lambda: direct.call_tool("read_file", args),
                "mcp proxy local": lambda: via.call_tool("read_file", args),
                # The governance step alone; the rest of the proxy's cost is the extra MCP hop.
                "mcp judge step": lambda: proxy.governor.adecide(call),
            },
            calls,
            warmup,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="latency an integration adds per tool call")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--nats", help="NATS URL (default: start nats-server)")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    results: dict[str, Any] = {}
    skipped: list[str] = []
    if importlib.util.find_spec("langchain") is not None:
        server = None
        url = opts.nats
        if url is None:
            server = nats_server.start(Path(tempfile.mkdtemp(prefix="nats-bench-")))
            url = server.url
        remote = RemoteKernel(url)
        try:
            results.update(langchain_section(remote, opts.calls, opts.warmup))
        finally:
            remote.close()
            if server is not None:
                server.stop()
    else:
        skipped.append("langchain (run with .venv-langchain)")
    if importlib.util.find_spec("mcp") is not None:
        results.update(asyncio.run(mcp_section(max(opts.calls // 4, 100), opts.warmup // 4)))
    else:
        skipped.append("mcp (run with the main .venv)")

    added = added_p50(
        results,
        [
            ("tool local", "tool plain"),
            ("tool nats sync", "tool plain"),
            ("tool nats async", "tool plain async"),
            ("toolnode local", "toolnode plain"),
            ("agent local", "agent plain"),
            ("agent local async", "agent plain async"),
            ("mcp proxy local", "mcp direct"),
        ],
    )
    report = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "results": results,
        "added_p50_us": added,
        "skipped": skipped,
    }
    if opts.json:
        print(json.dumps(report, indent=2))
        return
    print_table("", results, added)
    if "check nats" in results and "tool nats async" in added:
        share = added["tool nats async"] / results["check nats"]["p50_us"]
        print(f"remote: added per call / raw check round trip = {share:.2f}")
    for name in skipped:
        print(f"skipped: {name}")


if __name__ == "__main__":
    main()
