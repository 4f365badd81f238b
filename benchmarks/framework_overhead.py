"""Benchmark: the latency the CrewAI and OpenAI integrations add to one tool call.

Two kinds of figure, each beside a same-run baseline:

* **the governance step alone**, one call at a time: what the integration runs
  per tool call inside the framework, on the framework's real objects:
  CrewAI's before/after tool-call hooks on a ``ToolCallHookContext`` of a real
  tool; the Agents SDK's ``needs_approval`` and tool input guardrail on a real
  ``ToolContext``; the plain SDK's ``call_function`` against calling the
  function directly. Local (in-process ``strict``) and remote (a kernel worker
  over NATS; the raw ``KernelClient.check`` round trip is printed beside it);
* **end to end**: a whole run whose scripted model makes ``--steps`` harmless
  tool calls (a CrewAI crew with ``kickoff``; an Agents SDK ``Runner.run``),
  ungoverned and governed taking turns ``--runs`` times; the added time per
  tool call is the difference of the medians divided by the steps. For CrewAI
  a third variant registers hooks that do nothing: CrewAI's own cost of having
  hooks at all. The frameworks' own per-step work is large and noisy next to
  the governance step; on a busy machine this figure can come out negative.

Usage (each framework in its own environment)::

    .venv-crewai/bin/python benchmarks/framework_overhead.py [--calls 2000] [--json]
    .venv-openai/bin/python benchmarks/framework_overhead.py [--calls 2000] [--json]

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
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
warnings.simplefilter("ignore")  # upstream import-time warnings would drown the figures

from benchmarks.integration_overhead import (  # noqa: E402
    ARGS,
    RemoteKernel,
    time_async,
    time_sync,
)
from tests.servers import nats as nats_server  # noqa: E402

HARMLESS = ("search", ARGS)


def _end_to_end(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Median seconds per variant; the variants take turns, so drift hits them alike."""
    for run in variants.values():  # warm-up
        run()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def _per_call_added(plain: float, governed: float, steps: int) -> dict[str, float]:
    return {
        "plain_ms": round(plain * 1000, 1),
        "governed_ms": round(governed * 1000, 1),
        "added_per_call_us": round((governed - plain) / steps * 1e6, 1),
    }


# -- CrewAI ------------------------------------------------------------------------


def crewai_section(remote: RemoteKernel, calls: int, warmup: int, steps: int, runs: int) -> Any:
    from crewai import Agent, Crew, Task
    from crewai.hooks import (
        ToolCallHookContext,
        register_after_tool_call_hook,
        register_before_tool_call_hook,
        unregister_after_tool_call_hook,
        unregister_before_tool_call_hook,
    )
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import tool

    from agent_os.integrations import CrewAIKernel

    @tool("search")
    def search(query: str) -> str:
        """Search the web."""
        return "sunny"

    class Scripted(BaseLLM):
        position: int = 0

        def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
            if self.position >= steps:
                self.position = 0
                return "Thought: done.\nFinal Answer: done"
            self.position += 1
            return f'Thought: go.\nAction: search\nAction Input: {{"query": "q{self.position}"}}'

    def crew() -> Crew:
        agent = Agent(role="r", goal="g", backstory="b", llm=Scripted(model="s"), tools=[search])
        task = Task(description="d", expected_output="e", agent=agent)
        return Crew(agents=[agent], tasks=[task])

    out: dict[str, Any] = {}
    structured = search.to_structured_tool()

    def step(governed: Any) -> Callable[[], Any]:
        def run() -> None:
            context = ToolCallHookContext("search", dict(ARGS), structured, crew=governed.crew)
            governed._before(context)
            governed._after(context)

        return run

    out["crewai hooks local"] = time_sync(step(CrewAIKernel().wrap(crew())), calls, warmup)
    over_nats = CrewAIKernel(remote.client, loop=remote.thread.loop).wrap(crew())
    out["crewai hooks nats"] = time_sync(step(over_nats), calls, warmup)

    plain_crew, governed_crew = crew(), CrewAIKernel().wrap(crew())

    # CrewAI's own cost of having any hook at all (its dispatcher emits an
    # event per dispatch once a hook is registered): hooks that do nothing.
    def nothing(context: Any) -> None:
        return None

    def with_noop_hooks() -> None:
        register_before_tool_call_hook(nothing)
        register_after_tool_call_hook(nothing)
        try:
            plain_crew.kickoff()
        finally:
            unregister_before_tool_call_hook(nothing)
            unregister_after_tool_call_hook(nothing)

    times = _end_to_end(
        {"plain": plain_crew.kickoff, "governed": governed_crew.kickoff, "noop": with_noop_hooks},
        runs,
    )
    out["crewai kickoff local"] = _per_call_added(times["plain"], times["governed"], steps)
    out["crewai kickoff no-op hooks"] = _per_call_added(times["plain"], times["noop"], steps)
    return out


# -- OpenAI Agents SDK -----------------------------------------------------------------


def agents_section(remote: RemoteKernel, calls: int, warmup: int, steps: int, runs: int) -> Any:
    from agents import Agent, ModelResponse, Runner, Usage, function_tool
    from agents.models.interface import Model
    from agents.run_context import RunContextWrapper
    from agents.tool_context import ToolContext
    from agents.tool_guardrails import ToolInputGuardrailData
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from agent_os.integrations import OpenAIKernel

    class Scripted(Model):
        async def get_response(
            self, system_instructions: Any, input: Any, *a: Any, **k: Any
        ) -> Any:
            done = sum(1 for i in input if _type(i) == "function_call")
            if done >= steps:
                text = ResponseOutputText(type="output_text", text="done", annotations=[])
                message = ResponseOutputMessage(
                    type="message", id="m", role="assistant", status="completed", content=[text]
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)
            call = ResponseFunctionToolCall(
                type="function_call", id=f"f{done}", call_id=f"c{done}", name="search",
                arguments=json.dumps({"query": f"q{done}"}), status="completed",
            )  # fmt: skip
            return ModelResponse(output=[call], usage=Usage(), response_id=None)

        def stream_response(self, *a: Any, **k: Any) -> Any:
            raise NotImplementedError

    def make_agent() -> Any:
        @function_tool
        def search(query: str) -> str:
            """Search the web."""
            return "sunny"

        return Agent(name="a", model=Scripted(), tools=[search])

    arguments = json.dumps(ARGS)

    def step(kernel: OpenAIKernel) -> Callable[[], Any]:
        agent = kernel.wrap_agent(make_agent())
        tool = agent.tools[0]
        guardrail = tool.tool_input_guardrails[0]

        async def run() -> None:
            wrapper = RunContextWrapper(context=None)
            await tool.needs_approval(wrapper, dict(ARGS), "c1")
            context = ToolContext(
                context=None, tool_name="search", tool_call_id="c1", tool_arguments=arguments
            )
            await guardrail.run(ToolInputGuardrailData(context=context, agent=agent))

        return run

    out: dict[str, Any] = {}
    out["agents guardrail local"] = asyncio.run(time_async(step(OpenAIKernel()), calls, warmup))
    nats_kernel = OpenAIKernel(remote.client, loop=remote.thread.loop)
    out["agents guardrail nats"] = remote.thread.run(time_async(step(nats_kernel), calls, warmup))

    plain, governed = make_agent(), OpenAIKernel().wrap_agent(make_agent())
    times = _end_to_end(
        {
            "plain": lambda: asyncio.run(Runner.run(plain, "go", max_turns=steps + 2)),
            "governed": lambda: asyncio.run(Runner.run(governed, "go", max_turns=steps + 2)),
        },
        runs,
    )
    out["agents run local"] = _per_call_added(times["plain"], times["governed"], steps)
    return out


def _type(item: Any) -> Any:
    return item.get("type") if isinstance(item, dict) else getattr(item, "type", None)


# -- plain openai function calling ------------------------------------------------------


def functions_section(remote: RemoteKernel, calls: int, warmup: int) -> Any:
    from agent_os.integrations import OpenAIKernel

    def search(query: str) -> str:
        return "sunny"

    table = {"search": search}
    arguments = json.dumps(ARGS)
    local, over_nats = OpenAIKernel(), OpenAIKernel(remote.client, loop=remote.thread.loop)
    return {
        "function plain": time_sync(lambda: search(**json.loads(arguments)), calls, warmup),
        "function local": time_sync(
            lambda: local.call_function(table, "search", arguments), calls, warmup
        ),
        "function nats": time_sync(
            lambda: over_nats.call_function(table, "search", arguments), calls, warmup
        ),
        "check nats": remote.thread.run(
            time_async(lambda: remote.client.check("tool_call", ARGS, tool="search"), calls, warmup)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="latency CrewAI / OpenAI governance adds per call")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20, help="tool calls per end-to-end run")
    parser.add_argument("--runs", type=int, default=7, help="end-to-end runs per variant")
    parser.add_argument("--nats", help="NATS URL (default: start nats-server)")
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    server = None
    url = opts.nats
    if url is None:
        server = nats_server.start(Path(tempfile.mkdtemp(prefix="nats-bench-")))
        url = server.url
    remote = RemoteKernel(url)
    results: dict[str, Any] = {}
    skipped: list[str] = []
    try:
        if importlib.util.find_spec("openai") is not None:
            results.update(functions_section(remote, opts.calls, opts.warmup))
        if importlib.util.find_spec("crewai") is not None:
            results.update(crewai_section(remote, opts.calls, opts.warmup, opts.steps, opts.runs))
        else:
            skipped.append("crewai (run with .venv-crewai)")
        if importlib.util.find_spec("agents") is not None:
            results.update(agents_section(remote, opts.calls, opts.warmup, opts.steps, opts.runs))
        else:
            skipped.append("openai-agents (run with .venv-openai)")
    finally:
        remote.close()
        if server is not None:
            server.stop()

    report = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
        "results": results,
        "skipped": skipped,
    }
    if opts.json:
        print(json.dumps(report, indent=2))
        return
    print(f"python {report['python']} on {report['machine']}")
    print(f"{'one call, one at a time':26} {'p50 µs':>10} {'p99 µs':>10}")
    for name, figures in results.items():
        if "p50_us" in figures:
            print(f"{name:26} {figures['p50_us']:>10} {figures['p99_us']:>10}")
    if "function plain" in results:
        base = results["function plain"]["p50_us"]
        for name in ("function local", "function nats"):
            print(f"added p50, {name}: {results[name]['p50_us'] - base:.1f} µs")
    print(f"{'end to end':26} {'plain ms':>10} {'governed ms':>12} {'added µs/call':>14}")
    for name, figures in results.items():
        if "added_per_call_us" in figures:
            print(
                f"{name:26} {figures['plain_ms']:>10} {figures['governed_ms']:>12}"
                f" {figures['added_per_call_us']:>14}"
            )
    for name in skipped:
        print(f"skipped: {name}")


if __name__ == "__main__":
    main()
