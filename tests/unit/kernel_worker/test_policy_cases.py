"""Runs every policy case in tests/policy_cases/*.yaml (note, policy, input, want)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_os.policies._load import load_policy
from agent_os.policies._policy import Policy

CASES_DIR = Path(__file__).resolve().parents[2] / "policy_cases"
CASE_KEYS = {"note", "policy", "capabilities", "input", "want"}
WANT_KEYS = {"decision", "rule", "signal", "code", "matched"}


def _load_cases() -> list[Any]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(entries, list), f"{path.name}: a case file is a list of cases"
        for case in entries:
            assert set(case) <= CASE_KEYS, f"{path.name}: unknown keys {set(case) - CASE_KEYS}"
            assert set(case["want"]) <= WANT_KEYS, f"{path.name}: {case['note']}: bad want keys"
            cases.append(pytest.param(case, id=f"{path.stem}: {case['note']}"))
    return cases


CASES = _load_cases()
_policies: dict[str, Policy] = {}


def _policy(spec: Any) -> Policy:
    key = json.dumps(spec, sort_keys=True)
    if key not in _policies:
        _policies[key] = load_policy(spec)
    return _policies[key]


def test_there_are_enough_cases_and_notes_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 80
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES)
def test_policy_case(case: dict[str, Any]) -> None:
    policy = _policy(case.get("policy", "strict"))
    caps = case.get("capabilities")
    verdict = policy.evaluate(case["input"], capabilities=None if caps is None else frozenset(caps))
    want = case["want"]
    got = {
        "decision": verdict.decision.value,
        "rule": verdict.rule,
        "signal": None if verdict.signal is None else verdict.signal.value,
        "code": verdict.code,
        "matched": verdict.matched,
    }
    assert {k: got[k] for k in want} == want, verdict
    assert verdict.policy == policy.name
    assert verdict.policy_hash == policy.content_hash
