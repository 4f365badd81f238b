"""Benchmark: the best-known peer's LangChain middleware, measured like ours.

The peer is ``agent-os-kernel`` on PyPI. It also names its package
``agent_os``, so it cannot share an environment with this project: run this
script with a venv of its own::

    python -m venv /tmp/venv-peer
    /tmp/venv-peer/bin/pip install 'agent-os-kernel==3.7.0' 'langchain>=1.0' 'langgraph>=1.0'
    /tmp/venv-peer/bin/python benchmarks/peer_langchain.py [--calls 500] [--json]

It runs the scaffolding ``benchmarks/integration_overhead.py`` uses for its
``agent`` cases (``_lc_agent.py``: the same scripted ``create_agent`` run with
one tool call): plain, then with the peer's ``GovernanceMiddleware``, sync
and async, each beside a same-run baseline; compare the added time with
``agent local`` / ``agent local async`` there. It also records what the
issue reported: whether the middleware survives ``ainvoke``, and whether it
stops ``rm -rf /`` in a ``terminal`` tool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _lc_agent import (
    GO,
    added_p50,
    ainterleaved,
    interleaved,
    print_table,
    scripted_agent,
)


def peer_middleware() -> Any:
    from agent_os.integrations.base import GovernancePolicy  # the peer's
    from agent_os.integrations.langchain_adapter import LangChainKernel

    # Its default policy stops a context after 10 tool calls; a benchmark makes thousands.
    # The pattern is the one its own docs show for shell danger.
    policy = GovernancePolicy(max_tool_calls=10**9, blocked_patterns=["rm -rf"])
    return LangChainKernel(policy=policy).as_middleware()


def outcome(run: Any) -> str:
    try:
        run()
    except Exception as exc:  # what the peer does is the figure
        return f"raises {type(exc).__name__}: {str(exc)[:120]}"
    return "ok"


def stops_rm_rf() -> str:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool

    ran: list[str] = []

    @tool
    def terminal(commands: str) -> str:
        """Run shell commands."""
        ran.append(commands)
        return "done"

    class ScriptedModel(FakeMessagesListChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    call = {"name": "terminal", "args": {"commands": "rm -rf /"}, "id": "c1", "type": "tool_call"}
    model = ScriptedModel(responses=[AIMessage("", tool_calls=[call]), AIMessage("done")])
    agent = create_agent(model, [terminal], middleware=[peer_middleware()])
    try:
        state = agent.invoke(GO)
    except Exception as exc:
        return f"stopped by {type(exc).__name__} (the run fails), body ran: {bool(ran)}"
    reply = [m.content for m in state["messages"] if isinstance(m, ToolMessage)]
    return f"body ran: {bool(ran)}; the model saw: {reply[:1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description="the peer's LangChain middleware, measured")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    plain, governed = scripted_agent(), scripted_agent([peer_middleware()])
    results = interleaved(
        {"agent plain": lambda: plain.invoke(GO), "agent peer": lambda: governed.invoke(GO)},
        opts.calls,
        opts.warmup,
    )
    ainvoke = outcome(lambda: asyncio.run(scripted_agent([peer_middleware()]).ainvoke(GO)))
    if ainvoke == "ok":
        cases = {"agent plain async": plain.ainvoke, "agent peer async": governed.ainvoke}
    else:
        cases = {"agent plain async": plain.ainvoke}
    results |= asyncio.run(
        ainterleaved({k: (lambda f=f: f(GO)) for k, f in cases.items()}, opts.calls, opts.warmup)
    )
    pairs = [("agent peer", "agent plain"), ("agent peer async", "agent plain async")]
    added = added_p50(results, pairs)
    report = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "peer": f"agent-os-kernel {version('agent-os-kernel')}, langchain {version('langchain')}",
        "results": results,
        "added_p50_us": added,
        "peer ainvoke": ainvoke,
        "peer on rm -rf /": stops_rm_rf(),
    }
    if opts.json:
        print(json.dumps(report, indent=2))
        return
    print_table(f"; {report['peer']}", results, added)
    print(f"peer with ainvoke: {ainvoke}")
    print(f"peer on rm -rf /: {report['peer on rm -rf /']}")


if __name__ == "__main__":
    main()
