"""Every case in tests/policy_cases/*.yaml, through the runner ``agent-os policy test`` uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_os.policies._cases import Case, load_cases, run_cases

CASES_DIR = Path(__file__).resolve().parents[2] / "policy_cases"
CASES = load_cases([CASES_DIR])
RESULTS = {result.case.id: result for result in run_cases(CASES)}


def test_there_are_enough_cases_and_notes_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 80
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_policy_case(case: Case) -> None:
    result = RESULTS[case.id]
    assert result.passed, result.report()
    assert result.verdict is not None
    assert result.verdict.policy_hash, "every verdict names the policy that judged it"
