"""Verdicts that hold an action, shared by the review tests."""

from __future__ import annotations

from agent_os.policies import Decision, Signal, Verdict


def held(rule: str = "action:deploy", reason: str = "deploys need a human") -> Verdict:
    """A SIGSTOP ``review`` verdict of rule ``rule``."""
    return Verdict(
        decision=Decision.REVIEW,
        signal=Signal.SIGSTOP,
        rule=rule,
        reason=reason,
        matched=None,
        policy="ops",
        policy_hash="0" * 16,
        code="policy_violation",
    )
