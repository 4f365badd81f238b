"""Benchmark: in-process policy check latency (budget: strict, 1 KB args, p50 <= 10 us).

Usage::

    python benchmarks/policy_check.py            # human-readable
    python benchmarks/policy_check.py --json     # one JSON object

A benign action is the worst case for the engine (no early exit: every rule
is checked), so the budget is measured on benign actions of realistic shape
(a tool call with a query, filters and a free-text context that mentions the
look-alike words strict must let through). One dangerous action is measured
for comparison. Each figure is p50 / p99 over many ``perf_counter_ns``-timed
calls after a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import sys
import time
from typing import Any

from agent_os.policies._policy import load_policy

_PROSE = (
    "Please draft an executive summary of the Q3 report for the leadership team. "
    "Mention that the new drop-down menu reduced support tickets, that users can "
    "reset their password from the settings page, and that pressing the Delete key "
    "no longer loses unsaved drafts. Revenue grew 12% quarter over quarter; churn "
    "fell to 3.1%. Keep it under 300 words and link to the dashboard. "
)


def benign_action(size: int) -> dict[str, Any]:
    """A realistic benign tool call whose JSON ``args`` are ``size`` bytes long."""
    args: dict[str, Any] = {
        "query": "quarterly revenue by region 2024",
        "max_results": 10,
        "filters": {"lang": "en", "sites": ["example.com", "docs.example.org"]},
        "context": "",
    }
    base = len(json.dumps(args))
    args["context"] = (_PROSE * (size // len(_PROSE) + 1))[: max(0, size - base)]
    return {"agent_id": "agent-7", "action": "tool_call", "tool": "web_search", "args": args}


_CODE = (
    "def summarise(rows):\n"
    '    """Group rows by region -- totals only."""\n'
    "    totals = {}\n"
    "    for row in rows:\n"
    "        totals[row['region']] = totals.get(row['region'], 0) + row[\"amount\"]\n"
    "    return sorted(totals.items(), key=lambda kv: -kv[1])\n\n"
)
_UNICODE = "Résumé für die Geschäftsführung: Umsatz +12 %, Kündigungen -0,4 %. 日本語の要約。 "


def code_action(size: int) -> dict[str, Any]:
    """A benign tool call carrying code: quotes, newlines and a ``--`` (second scan)."""
    action = benign_action(size)
    action["args"]["context"] = ""
    base = len(json.dumps(action["args"]))
    action["args"]["context"] = (_CODE * (size // len(_CODE) + 1))[: max(0, size - base)]
    return action


def unicode_action(size: int) -> dict[str, Any]:
    """A benign tool call with non-ASCII prose (the NFKC + casefold path)."""
    action = benign_action(size)
    action["args"]["context"] = ""
    base = len(json.dumps(action["args"], ensure_ascii=False).encode())
    text = (_UNICODE * (size // len(_UNICODE) + 1)).encode()[: max(0, size - base)]
    action["args"]["context"] = text.decode("utf-8", "ignore")
    return action


def dangerous_action(size: int) -> dict[str, Any]:
    """A tool call of ``size`` bytes whose code argument runs a shell command."""
    action = benign_action(size - 60)
    action["args"]["code"] = "import os; os.system('rm -rf /tmp/x')"
    return action


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return p50 / 1000.0, p99 / 1000.0


def _time(fn: Any, arg: Any, iterations: int) -> tuple[float, float]:
    for _ in range(min(2000, iterations)):
        fn(arg)
    samples = [0] * iterations
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(iterations):
            start = clock()
            fn(arg)
            samples[i] = clock() - start
    finally:
        gc.enable()
    return _percentiles(samples)


def environment() -> dict[str, Any]:
    """Where the numbers were taken."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def measure_policy(iterations: int = 20000) -> dict[str, Any]:
    """p50 / p99 (us) of ``load_policy("strict").evaluate(action)`` for several actions."""
    policy = load_policy("strict")
    cases = {
        "policy_strict_256b": benign_action(256),
        "policy_strict_1kb": benign_action(1024),
        "policy_strict_4kb": benign_action(4096),
        "policy_strict_1kb_code": code_action(1024),
        "policy_strict_1kb_unicode": unicode_action(1024),
        "policy_strict_1kb_dangerous": dangerous_action(1024),
    }
    results: dict[str, Any] = {}
    for key, action in cases.items():
        verdict = policy.evaluate(action)
        expected_allowed = not key.endswith("dangerous")
        if verdict.allowed != expected_allowed:
            raise SystemExit(f"{key}: unexpected verdict {verdict}")
        p50, p99 = _time(policy.evaluate, action, iterations)
        results[f"{key}_args_bytes"] = len(json.dumps(action["args"], ensure_ascii=False).encode())
        results[f"{key}_p50_us"] = round(p50, 2)
        results[f"{key}_p99_us"] = round(p99, 2)
    results["policy_budget_us"] = 10.0
    results["policy_budget_ok"] = results["policy_strict_1kb_p50_us"] <= 10.0
    return results


async def _embedded_round_trips(iterations: int) -> list[int]:
    from agent_os.adapters import KernelClient
    from agent_os.bus import connect
    from agent_os.kernel_worker import Worker
    from agent_os.trust import AgentIdentity, TrustRegistry

    kernel = AgentIdentity.create("bench-kernel")
    agent = AgentIdentity.create("bench-agent")
    registry = TrustRegistry()
    registry.register(agent.public())
    url = "memory://policy-bench"
    wbus, abus = await connect(url), await connect(url)
    worker = Worker(wbus, identity=kernel, registry=registry, policies=load_policy("strict"))
    await worker.start()
    client = KernelClient(abus, agent, [kernel.public()])
    args = benign_action(1024)["args"]
    samples = []
    for i in range(iterations + 200):
        start = time.perf_counter_ns()
        verdict = await client.check("tool_call", args, tool="web_search")
        if i >= 200:  # warm-up
            samples.append(time.perf_counter_ns() - start)
        if not verdict.allowed:
            raise SystemExit(f"embedded round trip: unexpected verdict {verdict}")
    await worker.shutdown()
    await abus.close()
    await wbus.close()
    return samples


def measure_embedded(iterations: int = 3000) -> dict[str, Any]:
    """p50 / p99 (us) of the governed round trip on the memory bus, signatures on.

    Client signs, memory bus, worker verifies and decides under strict (1 KB
    args), signs the verdict, client verifies it: everything but a broker.
    """
    p50, p99 = _percentiles(asyncio.run(_embedded_round_trips(iterations)))
    return {
        "embedded_roundtrip_1kb_p50_us": round(p50, 1),
        "embedded_roundtrip_1kb_p99_us": round(p99, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iterations", type=int, default=20000)
    options = parser.parse_args(argv)
    report: dict[str, Any] = {"environment": environment()}
    report.update(measure_policy(options.iterations))
    report.update(measure_embedded(max(500, options.iterations // 7)))
    if options.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    env = report.pop("environment")
    print(
        f"python {env['python']} ({env['implementation']}) on {env['platform']}, "
        f"{env['cpu_count']} CPUs"
    )
    for key in sorted(k for k in report if k.endswith("_p50_us")):
        stem = key.removesuffix("_p50_us")
        print(
            f"{stem:<36} args {report.get(stem + '_args_bytes', '-'):>5} B   "
            f"p50 {report[key]:7.2f} us   p99 {report[stem + '_p99_us']:7.2f} us"
        )
    print(f"budget: strict 1 KB p50 <= 10 us: {'ok' if report['policy_budget_ok'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
