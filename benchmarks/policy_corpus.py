"""Catch rate and false positives of a policy on realistic agent traffic, per category and channel.

Usage::

    python benchmarks/policy_corpus.py                 # tests/policy_corpus under strict
    python benchmarks/policy_corpus.py --misses        # ... plus every miss and false positive
    python benchmarks/policy_corpus.py --json          # one JSON object
    python benchmarks/policy_corpus.py --cases         # the older tests/policy_cases corpora

``tests/policy_corpus/*.yaml`` holds cases in the ``tests/policy_cases`` form
plus a ``category``: ``want: {decision: deny}`` means the action must be
stopped (deny or review both count), ``allow`` that it must pass. Every case
comes as a typed action and as a framework tool call (``action: tool_call``),
the two *channels*, and the report splits by both.

Two policies are scored. ``strict`` as shipped, and ``strict`` without its
blanket action-type blocks (``shell_exec``, ``code_exec``, ``file_write``...):
what the content analysers catch on their own, the figure that says whether
detection generalises rather than whether a kind is banned. The
``consistency`` category (harmless commands, code and writes) must be stopped
by ``strict`` (it blocks shell, code and writes in every channel) and must pass
the analysers. Channel agreement counts the typed / tool-call pairs of a case
that got the same decision under ``strict``. Categories named ``holdout-*``
were written after the analysers and never tuned on; their line is the honest
generalisation figure. ``outsider-*`` (``outsider-run1.yaml``) was written by an
independent tester from the README, the docs and the public API alone, and
frozen before its first run; ``outsider2-*`` by the same tester after that run,
aimed at the gaps it showed. ``outsider3-*`` (``outsider-run3.yaml``) comes from a
third tester in the same way, and ``outsider3b-*`` / ``outsider3c-*`` are its
follow-ups, written after its first run; ``outsider4-*`` (``outsider-run4.yaml``)
from a fourth, ``outsider5-*`` (``outsider-run5.yaml``) from a fifth. ``outsider6-*``
(``outsider-run6.yaml``), from a sixth, judges a coding agent's traffic under
``strict`` without its blanket shell, code and file-change bans (each case names
that policy): the content analysers alone, on the work such an agent must be let do.
``outsider7-*`` (``outsider-run7.yaml``), from a seventh, has half its cases under
``strict`` and half under that policy, written after the fixes the sixth prompted;
``outsider8-*`` (``outsider-run8.yaml``), from an eighth, likewise, after the seventh's.
Each is written in one channel, so it has no pair in the channel agreement. Their
first-run figures, before any fix, are in each file's header.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from agent_os.kernel_worker import Decision, Policy, load_policy

ROOT = Path(__file__).resolve().parents[1] / "tests"
CORPUS = ROOT / "policy_corpus"
CASES = ROOT / "policy_cases"
_STOPPED = (Decision.DENY, Decision.REVIEW)
_STRUCTURAL = ("checks", "blocked_commands", "blocked_paths", "blocked_networks")
#: Category groups reported apart: (prefix, what they are).
_APART = (
    ("holdout-", "held-out categories (written after the analysers, never tuned on)"),
    ("outsider-", "outsider corpus (an independent tester, README and API only)"),
    ("outsider2-", "outsider round 2 (the same tester, aimed at its first run's gaps)"),
    ("outsider3-", "outsider round 3 (a third tester, README, docs and API only)"),
    ("outsider3b-", "outsider round 3 follow-ups (the same tester, after its first run)"),
    ("outsider3c-", "outsider round 3: destructive API tools with structured arguments"),
    ("outsider4-", "outsider round 4 (a fourth tester, README, docs and API only)"),
    ("outsider5-", "outsider round 5 (a fifth tester, README, docs and API only)"),
    ("outsider6-", "outsider round 6 (a sixth tester; strict without its blanket bans)"),
    ("outsider7-", "outsider round 7 (a seventh tester; half strict, half without its bans)"),
    ("outsider8-", "outsider round 8 (an eighth tester; half strict, half without its bans)"),
)


def _load(folder: Path, pattern: str = "*.yaml") -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.glob(pattern)):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case.setdefault("category", path.stem)
            out.append(case)
    return out


def _without(policy: Policy, *keys: str) -> Policy:
    mapping = policy.to_dict()
    for key in keys:
        mapping.pop(key, None)
    mapping["name"] = f"{policy.name}-analysers"
    return load_policy(mapping)


class _Scorer:
    def __init__(self, variant: str) -> None:
        self._variant = variant
        self._policies: dict[str, Policy] = {}

    def policy(self, spec: Any) -> Policy:
        key = json.dumps(spec, sort_keys=True)
        if key not in self._policies:
            policy = load_policy(spec)
            if self._variant == "analysers":
                policy = _without(policy, "blocked_actions")
            elif self._variant == "regex":
                policy = _without(policy, *_STRUCTURAL)
            self._policies[key] = policy
        return self._policies[key]

    def run(self, cases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any, float]]:
        out = []
        for case in cases:
            policy = self.policy(case.get("policy", "strict"))
            start = time.perf_counter_ns()
            verdict = policy.evaluate(case["input"])
            out.append((case, verdict, (time.perf_counter_ns() - start) / 1000.0))
        return out


def _should_stop(case: dict[str, Any], variant: str) -> bool:
    if case["category"] == "consistency":
        return variant == "strict"
    return bool(case["want"]["decision"] in ("deny", "review"))


def _channel(case: dict[str, Any]) -> str:
    return "tool" if case["input"].get("action") == "tool_call" else "typed"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "    -"


def _score(results: list[tuple[dict[str, Any], Any, float]], variant: str) -> dict[str, Any]:
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [right, total]
    by_channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong = []
    pairs: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for case, verdict, _ in results:
        stopped = verdict.decision in _STOPPED
        want = _should_stop(case, variant)
        right = stopped == want
        kind = "dangerous" if want else "benign"
        if case["category"] == "consistency":
            kind = "consistency"
        for key, table in ((case["category"], by_cat), (f"{kind}/{_channel(case)}", by_channel)):
            table[key][0] += right
            table[key][1] += 1
        if not right:
            wrong.append(
                f"{case['category']}: {case['note']} -> {verdict.decision.value} "
                f"{verdict.rule or ''}".rstrip()
            )
        pairs[(case["category"], case["note"].rsplit(" [", 1)[0])][_channel(case)] = (
            verdict.decision.value
        )
    # A case written in one channel only has no pair to agree with.
    both = [v for v in pairs.values() if len(v) == 2]
    return {
        "categories": {k: v for k, v in sorted(by_cat.items())},
        "channels": {k: v for k, v in sorted(by_channel.items())},
        "wrong": wrong,
        "pairs_agree": sum(len(set(v.values())) == 1 for v in both),
        "pairs": len(both),
    }


def _summary(score: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for kind in ("dangerous", "benign", "consistency"):
        right = sum(v[0] for k, v in score["channels"].items() if k.startswith(kind))
        total = sum(v[1] for k, v in score["channels"].items() if k.startswith(kind))
        out[kind] = [right, total]
    return out


def _timing(results: list[tuple[dict[str, Any], Any, float]]) -> dict[str, float]:
    ordered = sorted(us for _, _, us in results)
    n = len(ordered)
    return {
        "p50_us": round(ordered[n // 2], 1),
        "p99_us": round(ordered[min(n - 1, (n * 99) // 100)], 1),
        "max_us": round(ordered[-1], 1),
    }


def _print(name: str, score: dict[str, Any], timing: dict[str, float], misses: bool) -> None:
    summary = _summary(score)
    caught, dangerous = summary["dangerous"]
    passed, benign = summary["benign"]
    print(f"== {name}")
    print(
        f"   caught {caught}/{dangerous} ({_pct(caught, dangerous).strip()}), "
        f"false positives {benign - passed}/{benign} ({_pct(benign - passed, benign).strip()}), "
        f"consistency {summary['consistency'][0]}/{summary['consistency'][1]}, "
        f"channel agreement {score['pairs_agree']}/{score['pairs']}; "
        f"eval p50 {timing['p50_us']} us, p99 {timing['p99_us']} us, max {timing['max_us']} us"
    )
    for prefix, title in _APART:
        held = [(k, v) for k, v in score["categories"].items() if k.startswith(prefix)]
        if not held:
            continue
        caught = [v for k, v in held if not k.startswith(f"{prefix}benign")]
        benign_held = [v for k, v in held if k.startswith(f"{prefix}benign")]
        right, total = sum(v[0] for v in caught), sum(v[1] for v in caught)
        passed_h, total_h = sum(v[0] for v in benign_held), sum(v[1] for v in benign_held)
        print(
            f"   {title}: caught "
            f"{right}/{total} ({_pct(right, total).strip()}), false positives "
            f"{total_h - passed_h}/{total_h} ({_pct(total_h - passed_h, total_h).strip()})"
        )
    print("   per channel (right / total):")
    for key, (right, total) in score["channels"].items():
        label = "caught" if key.startswith("dangerous") else "passed"
        if key.startswith("consistency"):
            label = "as specified"
        print(f"     {key:<20} {right:4}/{total:<4} {_pct(right, total)} {label}")
    print("   per category (right / total):")
    for key, (right, total) in score["categories"].items():
        print(f"     {key:<26} {right:4}/{total:<4} {_pct(right, total)}")
    if misses:
        for line in score["wrong"]:
            print(f"     WRONG {line}")


def _corpus(options: argparse.Namespace) -> int:
    cases = _load(CORPUS)
    report: dict[str, Any] = {"cases": len(cases)}
    for variant, title in (
        ("strict", "strict"),
        ("analysers", "strict without blanket action-type blocks (the analysers alone)"),
    ):
        results = _Scorer(variant).run(cases)
        score = _score(results, variant)
        timing = _timing(results)
        report[variant] = {**_summary(score), **score, **timing}
        if not options.json:
            _print(title, score, timing, options.misses)
    if options.json:
        print(json.dumps(report, sort_keys=True))
    return 0


def _cases(options: argparse.Namespace) -> int:
    """The older corpora: tests/policy_cases/evasion_*.yaml must stop, benign*.yaml must pass."""
    evasion = _load(CASES, "evasion_*.yaml")
    benign = _load(CASES, "benign*.yaml")
    report = {}
    for variant in ("strict", "regex"):
        caught = sum(v.decision is not Decision.ALLOW for _, v, _ in _Scorer(variant).run(evasion))
        report[f"evasion_caught_{variant}"] = caught
    fps = [(c, v) for c, v, _ in _Scorer("strict").run(benign) if v.decision is not Decision.ALLOW]
    report.update(
        evasion_total=len(evasion),
        benign_total=len(benign),
        benign_false_positives=len(fps),
    )
    if options.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(
        f"evasion corpus: {report['evasion_caught_strict']}/{len(evasion)} stopped "
        f"(without structural rules: {report['evasion_caught_regex']}); "
        f"benign corpus: {len(fps)}/{len(benign)} false positives"
    )
    for case, verdict in fps:
        print(f"  FALSE POSITIVE {case['category']}: {case['note']} -> {verdict.rule}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Score the corpus and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--misses", action="store_true", help="list every wrong verdict")
    parser.add_argument("--cases", action="store_true", help="score tests/policy_cases instead")
    options = parser.parse_args(argv)
    return _cases(options) if options.cases else _corpus(options)


if __name__ == "__main__":
    raise SystemExit(main())
