"""Catch rate of the evasion corpus and false positives of the benign corpus.

Usage::

    python benchmarks/policy_corpus.py            # summary, plus every miss
    python benchmarks/policy_corpus.py --json     # one JSON object

Reads ``tests/policy_cases/evasion_*.yaml`` (every case should be stopped:
deny or review) and ``tests/policy_cases/benign*.yaml`` (every case should
be allowed), evaluates each case's input under its policy (``strict`` unless
the case names one), and reports caught / total, false positives / total and
the p50 evaluation time per corpus. The expectation of a single case (which
rule) is the unit tests' business (tests/unit/kernel_worker/test_policy_cases.py);
this script only counts outcomes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

from agent_os.kernel_worker import Decision, Policy, load_policy

CASES = Path(__file__).resolve().parents[1] / "tests" / "policy_cases"


def _cases(pattern: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(CASES.glob(pattern)):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.append((f"{path.stem}: {case['note']}", case))
    return out


_STRUCTURAL = ("checks", "blocked_commands", "blocked_paths", "blocked_networks")


def _regex_only(policy: Policy) -> Policy:
    """The same policy without its structural rules: what regexes and domain rules alone do."""
    mapping = policy.to_dict()
    for key in _STRUCTURAL:
        mapping.pop(key, None)
    return load_policy(mapping)


def _run(
    cases: list[tuple[str, dict[str, Any]]], regex_only: bool = False
) -> tuple[list[tuple[str, Any]], list[float]]:
    policies: dict[str, Policy] = {}
    results = []
    timings = []
    for label, case in cases:
        spec = case.get("policy", "strict")
        key = json.dumps(spec, sort_keys=True)
        if key not in policies:
            policies[key] = load_policy(spec)
            if regex_only:
                policies[key] = _regex_only(policies[key])
        policy = policies[key]
        start = time.perf_counter_ns()
        verdict = policy.evaluate(case["input"])
        timings.append((time.perf_counter_ns() - start) / 1000.0)
        results.append((label, verdict))
    return results, timings


def _p50(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 1) if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    """Evaluate both corpora and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args(argv)
    evasion, evasion_us = _run(_cases("evasion_*.yaml"))
    benign, benign_us = _run(_cases("benign*.yaml"))
    baseline, _ = _run(_cases("evasion_*.yaml"), regex_only=True)
    missed = [(label, v) for label, v in evasion if v.decision is Decision.ALLOW]
    reviewed = [label for label, v in evasion if v.decision is Decision.REVIEW]
    false_positives = [(label, v) for label, v in benign if v.decision is not Decision.ALLOW]
    report = {
        "evasion_total": len(evasion),
        "evasion_caught": len(evasion) - len(missed),
        "evasion_caught_by_review": len(reviewed),
        "evasion_missed": [label for label, _ in missed],
        "evasion_caught_regex_only": sum(v.decision is not Decision.ALLOW for _, v in baseline),
        "benign_total": len(benign),
        "benign_false_positives": len(false_positives),
        "benign_false_positive_cases": [f"{label} -> {v.rule}" for label, v in false_positives],
        "evasion_eval_p50_us": _p50(evasion_us),
        "benign_eval_p50_us": _p50(benign_us),
    }
    if options.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(
        f"evasion corpus: {report['evasion_caught']}/{report['evasion_total']} stopped "
        f"({report['evasion_caught_by_review']} of them by SIGSTOP review), "
        f"p50 {report['evasion_eval_p50_us']} us; "
        f"the same policies without structural rules: {report['evasion_caught_regex_only']}"
    )
    for label in report["evasion_missed"]:
        print(f"  MISSED {label}")
    print(
        f"benign corpus: {report['benign_false_positives']}/{report['benign_total']} "
        f"false positives, p50 {report['benign_eval_p50_us']} us"
    )
    for line in report["benign_false_positive_cases"]:
        print(f"  FALSE POSITIVE {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
