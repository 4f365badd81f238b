"""Verdicts that hold an action, shared by the review tests."""

from __future__ import annotations

import asyncio

from agent_os.policies import Decision, Signal, Verdict
from agent_os.review import ReviewStore
from tests.eventually import eventually


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
    items = await eventually(lambda: asyncio.to_thread(store.pending), 20.0, "a held action")
    return items[0].ticket
