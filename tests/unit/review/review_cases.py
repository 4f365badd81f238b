"""Verdicts that hold an action, shared by the review tests."""

from __future__ import annotations

import asyncio

from agent_os.policies import Decision, Signal, Verdict
from agent_os.review import ReviewStore


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


async def pending_ticket(store: ReviewStore) -> str:
    """The ticket of the first held action, once a kernel has recorded it."""
    for _ in range(2000):
        items = await asyncio.to_thread(store.pending)
        if items:
            return items[0].ticket
        await asyncio.sleep(0.01)
    raise AssertionError("nothing was held")
