"""Benchmark: what tool classification and field reading cost per action.

Prints p50 / p99 of ``classify`` and of ``read_fields`` for typical inputs (a
catalogue hit, an uncatalogued tool, a typed action, a 1 KB tool call), next
to a same-run baseline: the engine's all-text flattening of the same
arguments (``analysis._normalise.flatten``), so the ratio survives a noisy
machine.

Usage::

    python benchmarks/classify_cost.py
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from agent_os.policies._classify import classify, read_fields
from agent_os.policies.analysis._normalise import flatten

_PROSE = (
    "Please draft an executive summary of the Q3 report for the leadership team; mention "
    "that the new drop-down menu reduced support tickets (and that the Delete key no longer "
    "loses drafts). Revenue grew 12% quarter over quarter. "
)

INPUTS: list[tuple[str, str, Any, dict[str, Any] | None]] = [
    ("catalogue: terminal", "terminal", {"commands": ["ls -la"]}, {"class": "ShellTool"}),
    ("catalogue: read_file", "read_file", {"file_path": "reports/q3.csv"}, None),
    ("catalogue: tavily search", "tavily_search_results_json", {"query": "weather berlin"}, None),
    ("uncatalogued: get_weather", "get_weather", {"city": "Berlin", "units": "metric"}, None),
    ("uncatalogued: argv command", "run_it", {"command": "rm", "args": ["-rf", "/tmp/x"]}, None),
    ("typed shell_exec", "", {"command": "ls -la"}, {"action": "shell_exec"}),
    (
        "1 KB web_search",
        "web_search",
        {
            "query": "quarterly revenue by region 2024",
            "max_results": 10,
            "filters": {"lang": "en", "sites": ["example.com", "docs.example.org"]},
            "context": (_PROSE * 6)[:880],
        },
        None,
    ),
]


def _percentiles(fn: Callable[[], object], rounds: int = 20_000) -> tuple[float, float]:
    for _ in range(2_000):
        fn()
    samples = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(rounds):
            start = clock()
            fn()
            samples.append(clock() - start)
    finally:
        gc.enable()
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def main() -> None:
    print(f"{'input':30} {'classify p50/p99':>18} {'read_fields p50/p99':>21} {'flatten p50':>12}")
    for label, tool, args, hints in INPUTS:
        found = classify(tool, args, hints)
        c50, c99 = _percentiles(_bind(classify, tool, args, hints))
        r50, r99 = _percentiles(_bind(read_fields, args, found))
        f50, _ = _percentiles(_bind(flatten, args, {}, [], {}))
        how = f"{', '.join(found.kinds) or '-'} by {found.source}"
        print(
            f"{label:30} {c50:8.2f} / {c99:6.2f} us {r50:9.2f} / {r99:6.2f} us {f50:9.2f} us"
            f"   ({(c50 + r50) / f50:.1f}x flatten; {how})"
        )


def _bind(fn: Callable[..., object], *args: Any) -> Callable[[], object]:
    return lambda: fn(*args)


if __name__ == "__main__":
    main()
