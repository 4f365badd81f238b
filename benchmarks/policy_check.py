"""Benchmark: in-process policy check latency (budget: strict, 1 KB args, p50 <= 10 us).

Budgets (DESIGN.md): strict at 1 KB on a *mixed* set of typed actions and
framework tool calls, benign and dangerous: p50 <= 10 us, p99 <= 100 us; a
tool rule with a CEL condition adds <= 10 us p50; a tool call that no rule
names pays nothing for conditions.

Usage::

    python benchmarks/policy_check.py            # human-readable
    python benchmarks/policy_check.py --json     # one JSON object
    python benchmarks/policy_check.py --adversarial   # worst case over generated 64 KB inputs

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


# -- a mixed set: typed actions and framework tool calls, benign and dangerous ------------

_BODY = (
    "Hi team, attached is the summary of the September invoices. Two vendors changed "
    "their bank details this quarter; finance has confirmed both by phone. Please "
    "review the totals before Friday and reply with any questions. "
)


def _padded(args: dict[str, Any], field: str, size: int, variant: int = 0) -> dict[str, Any]:
    """``args`` with ``field`` grown (prose) until the JSON arguments are ``size`` bytes.

    A list field (a terminal's ``commands``) grows by one ``echo '<prose>'`` command.
    A ``variant`` above 0 starts the prose with its number, so every variant's text
    is new to any cache keyed by text.
    """
    args = dict(args)
    body = f"Ref {variant}. {_BODY}" if variant else _BODY
    if isinstance(args.get(field), list):
        args[field] = [*args[field], "echo ''"]
        extra = max(0, size - len(json.dumps(args)))
        text = (body * (extra // len(body) + 1))[:extra].replace("'", "")
        args[field][-1] = f"echo '{text}'"
        return args
    args.setdefault(field, "")
    extra = max(0, size - len(json.dumps(args)) - 1)
    args[field] = (args[field] + " " + body * (extra // len(body) + 1))[
        : len(args[field]) + 1 + extra
    ]
    return args


def mixed_inputs(size: int, variant: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Actions as agents send them, by group, each with about ``size`` bytes of arguments.

    Tool calls use the real tool and argument names of LangChain community tools,
    CrewAI tools, the OpenAI function-calling shape and the reference MCP servers.
    """

    def typed(kind: str, field: str, **args: Any) -> dict[str, Any]:
        return {"agent_id": "agent-7", "action": kind, "args": _padded(args, field, size, variant)}

    def tool(name: str, field: str, **args: Any) -> dict[str, Any]:
        return {
            "agent_id": "agent-7",
            "action": "tool_call",
            "tool": name,
            "args": _padded(args, field, size, variant),
        }

    return {
        "typed_benign": [
            typed("file_read", "purpose", path="/srv/app/README.md", purpose="summarise"),
            typed("sql", "comment", query="SELECT id, total FROM orders WHERE total > 100"),
            typed("http_request", "body", url="https://api.github.com/repos/org/app", method="GET"),
        ],
        "typed_dangerous": [
            typed("sql", "comment", query="DROP TABLE users"),
            typed("shell_exec", "comment", command="rm -rf / --no-preserve-root", comment=""),
            typed("file_write", "content", path="/etc/app/config.yaml", content="debug: true"),
        ],
        "tool_benign": [
            tool("tavily_search_results_json", "query", query="quarterly revenue by region"),
            tool("read_file", "file_path", file_path="/srv/data/report.csv"),
            tool("list_directory", "dir_path", dir_path="/srv/data"),
            tool(
                "sql_db_query", "query", query="SELECT id, name FROM customers WHERE region = 'EU'"
            ),
            tool("send_email", "body", to=["ana@example.com"], subject="Invoices", body=""),
        ],
        "tool_dangerous": [
            tool("terminal", "description", commands=["rm -rf /var/www"], description=""),
            tool("write_file", "text", file_path="/etc/cron.d/job", text="* * * * * root sh"),
            tool(
                "shell",
                "description",
                cmd="chmod -R 777 /var/www && sudo systemctl restart nginx",
                description="",
            ),
            tool("sql_db_query", "query", query="DELETE FROM customers"),
            tool("delete_file", "file_path", file_path="/srv/app/config.yaml"),
        ],
    }


def _group_percentiles(
    policy: Any, actions: list[dict[str, Any]], iterations: int
) -> tuple[float, float]:
    samples: list[int] = []
    clock = time.perf_counter_ns
    per = max(1000, iterations // len(actions))
    for action in actions:
        for _ in range(min(1000, per)):
            policy.evaluate(action)
        gc.disable()
        try:
            for _ in range(per):
                start = clock()
                policy.evaluate(action)
                samples.append(clock() - start)
        finally:
            gc.enable()
    return _percentiles(samples)


def measure_mixed(iterations: int = 20000) -> dict[str, Any]:
    """p50 / p99 (us) per group of :func:`mixed_inputs` under strict, at 256 B, 1 KB and 4 KB."""
    policy = load_policy("strict")
    results: dict[str, Any] = {}
    for size, label in ((256, "256b"), (1024, "1kb"), (4096, "4kb")):
        groups = mixed_inputs(size)
        everything = []
        for group, actions in groups.items():
            for action in actions:
                verdict = policy.evaluate(action)
                if verdict.allowed != group.endswith("benign"):
                    raise SystemExit(f"{group} {action.get('tool') or action['action']}: {verdict}")
            p50, p99 = _group_percentiles(policy, actions, iterations)
            results[f"mixed_{group}_{label}_p50_us"] = round(p50, 2)
            results[f"mixed_{group}_{label}_p99_us"] = round(p99, 2)
            everything.extend(actions)
        p50, p99 = _group_percentiles(policy, everything, iterations)
        results[f"mixed_all_{label}_p50_us"] = round(p50, 2)
        results[f"mixed_all_{label}_p99_us"] = round(p99, 2)
    results["mixed_budget_ok"] = (
        results["mixed_all_1kb_p50_us"] <= 10.0 and results["mixed_all_1kb_p99_us"] <= 100.0
    )
    return results


def measure_fresh(iterations: int = 20000) -> dict[str, Any]:
    """p50 / p99 (us) of the 1 KB mixed set with every evaluation on text no cache has seen.

    The mixed set repeats each action, so whatever the engine remembers by text
    (SQL parses, shell reports) is remembered there. Here each evaluation judges
    a new variant (its padded prose starts with a number); what stays the same
    is what agents repeat too: the short fields (commands, paths, queries' heads).
    """
    policy = load_policy("strict")
    per = max(200, iterations // 16)
    variants = [mixed_inputs(1024, variant) for variant in range(1, per + 1)]
    clock = time.perf_counter_ns
    samples: list[int] = []
    for group in variants[0]:
        for index in range(len(variants[0][group])):
            gc.disable()
            try:
                for actions in variants:
                    action = actions[group][index]
                    start = clock()
                    policy.evaluate(action)
                    samples.append(clock() - start)
            finally:
                gc.enable()
    p50, p99 = _percentiles(samples)
    return {"mixed_fresh_1kb_p50_us": round(p50, 2), "mixed_fresh_1kb_p99_us": round(p99, 2)}


def measure_condition(iterations: int = 20000) -> dict[str, Any]:
    """What a CEL condition adds to a tool call at 1 KB, and what an unnamed tool pays (nothing).

    The same ``send_money`` call is judged by two policies that differ only in
    the tool rule: with the condition, and with the tool merely allowed.
    """
    from agent_os.policies import Policy

    data = {"payees": ["UK12345678901234567890", "GB29NWBK60161331926819"], "limit": 500.0}
    condition = "double(args.amount) > data.limit || !(args.recipient in data.payees)"
    with_rule = Policy(
        "bench-cel",
        data=data,
        tools={"rules": [{"tool": "send_money", "when": condition, "signal": "SIGSTOP"}]},
    )
    without = Policy("bench-cel", data=data, tools={"allow": ["send_money"]})
    args = _padded({"amount": 120.5, "recipient": "GB29NWBK60161331926819"}, "memo", 1024)
    action = {"agent_id": "agent-7", "action": "tool_call", "tool": "send_money", "args": args}
    unnamed = {**action, "tool": "get_statement"}
    for policy in (with_rule, without):
        if not policy.evaluate(action).allowed:
            raise SystemExit(f"condition benchmark: unexpected verdict {policy.evaluate(action)}")
    cel_p50, cel_p99 = _time(with_rule.evaluate, action, iterations)
    base_p50, base_p99 = _time(without.evaluate, action, iterations)
    unnamed_p50, _ = _time(with_rule.evaluate, unnamed, iterations)
    unnamed_base, _ = _time(without.evaluate, unnamed, iterations)
    added = round(cel_p50 - base_p50, 2)
    return {
        "condition_1kb_p50_us": round(cel_p50, 2),
        "condition_1kb_p99_us": round(cel_p99, 2),
        "condition_baseline_1kb_p50_us": round(base_p50, 2),
        "condition_baseline_1kb_p99_us": round(base_p99, 2),
        "condition_added_us": added,
        "condition_unnamed_tool_added_us": round(unnamed_p50 - unnamed_base, 2),
        "condition_budget_ok": added <= 10.0,
    }


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


def adversarial(as_json: bool) -> int:
    """Worst cost over benchmarks/_adversarial.py's families (budget: 5 ms per action)."""
    from _adversarial import BUDGET_US, worst_case

    rows = worst_case(load_policy("strict").evaluate)
    over = [row for row in rows if row["us"] > BUDGET_US]
    if as_json:
        print(json.dumps({"worst": rows[0], "over_budget": len(over), "inputs": len(rows)}))
        return 0
    print(f"{len(rows)} generated inputs up to 64 KB; worst first (median of 3 evaluations):")
    for row in rows[:10]:
        print(
            f"  {row['us']:9.1f} us  {row['bytes']:>6} B  {row['family']} [{row['channel']}]"
            f" -> {row['decision']} {row['rule'] or ''}"
        )
    print(
        f"budget: no action up to 64 KB over {BUDGET_US / 1000:.0f} ms: "
        f"{'ok' if not over else f'MISSED by {len(over)} inputs'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument(
        "--adversarial",
        action="store_true",
        help="print the worst case over generated pathological inputs up to 64 KB",
    )
    options = parser.parse_args(argv)
    if options.adversarial:
        return adversarial(options.json)
    report: dict[str, Any] = {"environment": environment()}
    report.update(measure_policy(options.iterations))
    report.update(measure_mixed(options.iterations))
    report.update(measure_fresh(options.iterations))
    report.update(measure_condition(options.iterations))
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
    print(
        "for comparison, one benign search call with nested filters, 1 KB: p50 "
        f"{report['policy_strict_1kb_p50_us']:.2f} us "
        f"({'within' if report['policy_budget_ok'] else 'over'} 10 us; DESIGN.md sets the "
        "budget on the mixed set)"
    )
    print(
        "budget: mixed set (typed + tool calls) 1 KB p50 <= 10 us, p99 <= 100 us: "
        f"{'ok' if report['mixed_budget_ok'] else 'MISSED'}"
    )
    print(
        f"CEL condition adds {report['condition_added_us']:.2f} us p50 at 1 KB "
        f"(budget <= 10 us: {'ok' if report['condition_budget_ok'] else 'MISSED'}); "
        f"a tool no rule names: {report['condition_unnamed_tool_added_us']:+.2f} us"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
