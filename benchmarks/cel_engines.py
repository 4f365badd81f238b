"""Benchmark: the three CEL implementations on PyPI, on the tools section's own conditions.

Usage::

    python benchmarks/cel_engines.py            # human-readable
    python benchmarks/cel_engines.py --json     # one JSON object

For each of ``common-expression-language`` (module ``cel``, Rust),
``cel-expr-python`` (``cel_expr_python``, Google's C++ CEL) and ``cel-python``
(``celpy``, pure Python) it prints, in microseconds (p50 / p99):

* ``compile``: compiling one condition (paid once, at policy load);
* ``fresh``: converting a new context (``args`` of one action, about 1 KB,
  plus ``tool``, ``action``, ``agent``, ``data``) and evaluating: what every
  governed tool call that a conditional rule names costs;
* ``args_only``: the same with ``data`` converted once and reused, only
  ``args``/``tool``/``agent`` new per action (where the binding allows it);
* ``reused``: evaluating against an already converted context (the floor).

A package that is not installed is reported as missing, not skipped silently.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from typing import Any

import policy_check  # the same stopwatch as the policy benchmark

CONDITIONS = (
    "args.amount > 500.0 || !(args.recipient in data.payees)",
    "args.recipients.exists(r, !r.endsWith('@' + data.our_domain))",
)


def action_args(size: int = 1024) -> dict[str, Any]:
    """A ``send_money`` / ``send_email`` style argument object of about ``size`` bytes."""
    args: dict[str, Any] = {
        "amount": 120.5,
        "currency": "GBP",
        "recipient": "GB29NWBK60161331926819",
        "recipients": ["ana@example.com", "bo@example.com", "cy@example.com"],
        "subject": "Invoice 2024-117",
        "metadata": {"invoice": "2024-117", "cost_centre": "ops", "tags": ["q3", "vendor"]},
        "memo": "",
    }
    base = len(json.dumps(args))
    args["memo"] = ("Payment for consulting services, September. " * 40)[: max(0, size - base)]
    return args


DATA = {
    "payees": ["UK12345678901234567890", "GB29NWBK60161331926819"]
    + [f"GB{i:020d}" for i in range(50)],
    "our_domain": "example.com",
}
AGENT = {"id": "agent-7", "capabilities": ["payments", "email"]}


def _time(fn: Callable[[], Any], iterations: int) -> tuple[float, float]:
    return policy_check._time(lambda _: fn(), None, iterations)


def _context(args: dict[str, Any]) -> dict[str, Any]:
    return {"args": args, "tool": "send_money", "action": "tool_call", "agent": AGENT, "data": DATA}


def bench_common(iterations: int) -> dict[str, Any]:
    cel = importlib.import_module("cel")
    out: dict[str, Any] = {"package": "common-expression-language", "module": "cel"}
    args = action_args()
    out["compile"] = _time(lambda: cel.compile(CONDITIONS[0]), iterations // 10)
    programs = [cel.compile(c) for c in CONDITIONS]
    assert programs[0].execute(_context(args)) is False
    out["fresh"] = _time(lambda: programs[0].execute(_context(args)), iterations)
    base = cel.Context(variables={"data": DATA, "action": "tool_call"})

    def args_only() -> Any:
        base.update({"args": args, "tool": "send_money", "agent": AGENT})
        return programs[0].execute(base)

    out["args_only"] = _time(args_only, iterations)
    reused = cel.Context(variables=_context(args))
    out["reused"] = _time(lambda: programs[0].execute(reused), iterations)
    out["reused_exists"] = _time(lambda: programs[1].execute(reused), iterations)
    return out


def bench_cel_expr(iterations: int) -> dict[str, Any]:
    cx = importlib.import_module("cel_expr_python.cel")
    out: dict[str, Any] = {"package": "cel-expr-python", "module": "cel_expr_python"}
    dyn = cx.Type.DYN
    env = cx.NewEnv(
        variables={
            "args": dyn,
            "tool": cx.Type.STRING,
            "action": cx.Type.STRING,
            "agent": dyn,
            "data": dyn,
        }
    )
    args = action_args()
    out["compile"] = _time(lambda: env.compile(CONDITIONS[0]), iterations // 10)
    programs = [env.compile(c) for c in CONDITIONS]
    assert programs[0].eval(data=_context(args)).value() is False
    out["fresh"] = _time(lambda: programs[0].eval(data=_context(args)).value(), iterations)
    activation = env.Activation(_context(args))
    out["reused"] = _time(lambda: programs[0].eval(activation).value(), iterations)
    out["reused_exists"] = _time(lambda: programs[1].eval(activation).value(), iterations)
    return out


def bench_celpy(iterations: int) -> dict[str, Any]:
    celpy = importlib.import_module("celpy")
    out: dict[str, Any] = {"package": "cel-python", "module": "celpy"}
    env = celpy.Environment()
    args = action_args()
    n = max(200, iterations // 20)
    out["compile"] = _time(lambda: env.program(env.compile(CONDITIONS[0])), max(50, n // 10))
    programs = [env.program(env.compile(c)) for c in CONDITIONS]
    assert not programs[0].evaluate(celpy.json_to_cel(_context(args)))
    out["fresh"] = _time(lambda: programs[0].evaluate(celpy.json_to_cel(_context(args))), n)
    data = celpy.json_to_cel(DATA)

    def args_only() -> Any:
        activation = {
            "args": celpy.json_to_cel(args),
            "tool": celpy.json_to_cel("send_money"),
            "agent": celpy.json_to_cel(AGENT),
            "action": celpy.json_to_cel("tool_call"),
            "data": data,
        }
        return programs[0].evaluate(activation)

    out["args_only"] = _time(args_only, n)
    reused = celpy.json_to_cel(_context(args))
    out["reused"] = _time(lambda: programs[0].evaluate(reused), n)
    out["reused_exists"] = _time(lambda: programs[1].evaluate(reused), n)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every installed implementation and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iterations", type=int, default=20000)
    options = parser.parse_args(argv)
    report: dict[str, Any] = {"args_bytes": len(json.dumps(action_args()))}
    for bench in (bench_common, bench_cel_expr, bench_celpy):
        name = bench.__name__.removeprefix("bench_")
        try:
            report[name] = bench(options.iterations)
        except ImportError as exc:
            report[name] = {"missing": str(exc)}
    if options.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"context: args of {report['args_bytes']} B, data with {len(DATA['payees'])} payees")
    for name in ("common", "cel_expr", "celpy"):
        result = report[name]
        if "missing" in result:
            print(f"{name:<10} MISSING: {result['missing']}")
            continue
        figures = "  ".join(
            f"{key} {p50:8.2f}/{p99:8.2f}"
            for key, value in result.items()
            if isinstance(value, tuple)
            for p50, p99 in [value]
        )
        print(f"{result['package']:<28} {figures}   (us p50/p99)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
