"""Waiting for a person's decision on a flagged result (real review store, loopback models).

``await verifier.review_decision(ticket, timeout=...)`` answers once a reviewer decides; only
a signed approval is approved, and anything else (a deny, no decision in time, an unknown
ticket, no sink that can wait) fails closed with its code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_os.adapters import QueueReview
from agent_os.review import (
    ReviewQueue,
    ReviewRules,
    ReviewStore,
    SqliteReviewStore,
    Status,
    sign_decision,
    take_decision,
    verify_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from agent_os.verifier import (
    ConsensusVerifier,
    LexicalJudge,
    ReviewDecision,
    ReviewDecisions,
)
from tests.unit.verifier.vendor_server import three, vendor_server

PROMPT = "In which year was the Eiffel Tower completed?"
SPLIT = {"gpt-local": ["1889"], "claude-local": ["1889."], "gemini-local": ["1925"]}
REVIEWER = AgentIdentity.create("alice", "Alice", [])
STRANGER = AgentIdentity.create("mallory", "Mallory", [])


@dataclass
class Setup:
    store: ReviewStore
    registry: TrustRegistry
    verifier: ConsensusVerifier
    ticket: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ReviewStore]:
    with SqliteReviewStore(tmp_path / "review.db") as opened:
        yield opened


async def _flagged(store: ReviewStore, rules: ReviewRules | None = None) -> Setup:
    registry = TrustRegistry()
    registry.register(REVIEWER.public(), TrustLevel.REVIEWER)
    queue = ReviewQueue(store, registry=registry, rules=rules, poll=0.02)
    with vendor_server(SPLIT) as server:
        verifier = ConsensusVerifier(
            models=three(server), judge=LexicalJudge(), review_on_disagreement=QueueReview(queue)
        )
        result = await verifier.verify_consensus(PROMPT)
    assert result.flagged and result.review_ticket is not None
    return Setup(store, registry, verifier, result.review_ticket)


@pytest.fixture
async def flagged(store: ReviewStore) -> AsyncIterator[Setup]:
    setup = await _flagged(store)
    yield setup
    await setup.verifier.aclose()


async def _decided_while_waiting(setup: Setup, signed: bytes) -> ReviewDecision:
    waiting = asyncio.create_task(setup.verifier.review_decision(setup.ticket, timeout=30))
    await asyncio.sleep(0)  # the wait has begun before the reviewer decides
    assert not waiting.done()
    await take_decision(setup.store, setup.registry, signed)
    return await waiting


async def test_an_approval_is_awaited(flagged: Setup) -> None:
    decision = await _decided_while_waiting(
        flagged, sign_decision(REVIEWER, flagged.ticket, approve=True, comment="1889 it is")
    )
    assert decision.approved and decision.code == "review_approved"
    assert decision.ticket == flagged.ticket and decision.decided_by == "alice"


async def test_a_deny_is_not_approved(flagged: Setup) -> None:
    decision = await _decided_while_waiting(
        flagged, sign_decision(REVIEWER, flagged.ticket, approve=False, comment="wrong")
    )
    assert not decision.approved and decision.code == "review_denied"


async def test_no_decision_within_the_wait_is_not_approved(flagged: Setup) -> None:
    decision = await flagged.verifier.review_decision(flagged.ticket, timeout=0.2)
    assert not decision.approved and decision.code == "review_timeout"
    assert "within 0.2s" in decision.reason


async def test_no_decision_by_the_items_deadline_is_not_approved(
    store: ReviewStore,
) -> None:
    setup = await _flagged(store, ReviewRules(timeout=0.2))
    decision = await setup.verifier.review_decision(setup.ticket, timeout=30)
    await setup.verifier.aclose()
    assert not decision.approved and decision.code == "review_timeout"
    assert "deadline" in decision.reason


async def test_an_approval_no_reviewer_signed_is_not_approved(flagged: Setup) -> None:
    # Someone with write access to the store records an approval signed by a non-reviewer.
    elsewhere = TrustRegistry()
    elsewhere.register(STRANGER.public(), TrustLevel.REVIEWER)
    forged = verify_decision(elsewhere, sign_decision(STRANGER, flagged.ticket, approve=True))
    assert flagged.store.decide(forged).status is Status.APPROVED
    decision = await flagged.verifier.review_decision(flagged.ticket, timeout=5)
    assert not decision.approved and decision.code == "review_unverified"


async def test_an_unknown_ticket_is_not_approved(flagged: Setup) -> None:
    decision = await flagged.verifier.review_decision("no-such-ticket", timeout=5)
    assert not decision.approved and decision.code == "review_unknown"


async def test_a_failing_store_is_not_approved(tmp_path: Path) -> None:
    with SqliteReviewStore(tmp_path / "review.db") as store:
        setup = await _flagged(store)
    # The store is closed now: reading the decision fails.
    decision = await setup.verifier.review_decision(setup.ticket, timeout=5)
    await setup.verifier.aclose()
    assert not decision.approved and decision.code == "review_unavailable"


async def test_a_verifier_without_a_review_sink_cannot_wait() -> None:
    with vendor_server(SPLIT) as server:
        async with ConsensusVerifier(models=three(server), judge=LexicalJudge()) as verifier:
            decision = await verifier.review_decision("any", timeout=5)
    assert not decision.approved and decision.code == "review_unavailable"


def test_the_queue_sink_can_wait(store: ReviewStore) -> None:
    assert isinstance(QueueReview(ReviewQueue(store, registry=TrustRegistry())), ReviewDecisions)
