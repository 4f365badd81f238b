"""Shared by the LangChain benchmarks: timing, and a create_agent run with one scripted tool call.

Imports nothing of ``agent_os``, so a peer's package (which also names itself
``agent_os``) can be measured with the same scaffolding in its own venv.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

ARGS = {"query": "weather in Paris"}
GO = {"messages": [("user", "check the weather")]}


def stats(samples_ns: list[int]) -> dict[str, float]:
    us = sorted(s / 1000 for s in samples_ns)
    return {
        "p50_us": round(statistics.median(us), 1),
        "p99_us": round(us[min(len(us) - 1, int(len(us) * 0.99))], 1),
        "n": len(us),
    }


def time_sync(fn: Callable[[], Any], calls: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return stats(samples)


async def time_async(fn: Callable[[], Awaitable[Any]], calls: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        await fn()
        samples.append(time.perf_counter_ns() - start)
    return stats(samples)


def interleaved(
    cases: dict[str, Callable[[], Any]], calls: int, warmup: int
) -> dict[str, dict[str, float]]:
    """Each case called in turn, call after call: a baseline and its governed twin see the
    same load on a shared machine (timing one after the other would not)."""
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(calls):
        for name, fn in cases.items():
            start = time.perf_counter_ns()
            fn()
            samples[name].append(time.perf_counter_ns() - start)
    return {name: stats(values) for name, values in samples.items()}


async def ainterleaved(
    cases: dict[str, Callable[[], Awaitable[Any]]], calls: int, warmup: int
) -> dict[str, dict[str, float]]:
    """The async :func:`interleaved`."""
    for _ in range(warmup):
        for fn in cases.values():
            await fn()
    samples: dict[str, list[int]] = {name: [] for name in cases}
    for _ in range(calls):
        for name, fn in cases.items():
            start = time.perf_counter_ns()
            await fn()
            samples[name].append(time.perf_counter_ns() - start)
    return {name: stats(values) for name, values in samples.items()}


def search_tool() -> Any:
    """A harmless LangChain tool, sync and async."""
    from langchain_core.tools import StructuredTool

    def search(query: str) -> str:
        """Search the web."""
        return "sunny"

    async def asearch(query: str) -> str:
        return "sunny"

    return StructuredTool.from_function(func=search, coroutine=asearch, name="search")


def scripted_agent(middleware: Sequence[Any] = (), tools: Sequence[Any] | None = None) -> Any:
    """A create_agent agent whose model asks for one search, then answers."""
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage

    class ScriptedModel(FakeMessagesListChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

    call = {"name": "search", "args": ARGS, "id": "c1", "type": "tool_call"}
    model = ScriptedModel(responses=[AIMessage("", tool_calls=[call]), AIMessage("done")])
    return create_agent(model, list(tools or [search_tool()]), middleware=list(middleware))


def added_p50(
    results: dict[str, dict[str, float]], pairs: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """p50 of each governed case minus its baseline's, for the pairs both present."""
    return {
        name: round(results[name]["p50_us"] - results[base]["p50_us"], 1)
        for name, base in pairs
        if name in results and base in results
    }


def print_table(title: str, results: dict[str, dict[str, float]], added: dict[str, float]) -> None:
    """The environment, then one row per case with its added p50 where it has a baseline."""
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus{title}"
    )
    print(f"{'case':20} {'p50 µs':>10} {'p99 µs':>10} {'added p50 µs':>14}")
    for name, figures in results.items():
        extra = f"{added[name]:>14}" if name in added else ""
        print(f"{name:20} {figures['p50_us']:>10} {figures['p99_us']:>10} {extra}")
