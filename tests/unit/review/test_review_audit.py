"""Review records in the signed audit trail: reviewers sign their own decisions, nothing else."""

from __future__ import annotations

import dataclasses
import time

import pytest

from agent_os.audit import AuditError, AuditEvent
from agent_os.audit._signed import AuditStream, open_batch
from agent_os.bus import new_id
from agent_os.review import ReviewItem, decision_event, sign_decision, verify_decision
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from tests.unit.review.review_cases import held

HELD = held()


def _setup() -> tuple[TrustRegistry, AgentIdentity, AgentIdentity, ReviewItem]:
    registry = TrustRegistry()
    alice, agent = AgentIdentity.create("alice"), AgentIdentity.create("agent-1")
    registry.register(alice, TrustLevel.REVIEWER)
    registry.register(agent)
    action = {"agent_id": "agent-1", "action": "deploy", "args": {}, "request_id": new_id()}
    item = ReviewItem.hold(new_id(), action, HELD, now=time.time(), timeout=60)
    return registry, alice, agent, item


def test_a_reviewer_signs_its_own_decision_record() -> None:
    registry, alice, _, item = _setup()
    record = verify_decision(registry, sign_decision(alice, item.ticket, approve=True))
    event = decision_event(item, record, time.time())
    batch = open_batch(AuditStream(alice).sign([event]), registry)
    assert [e.event_id for e in batch.events] == [f"review-{item.ticket}-alice"]


def test_a_reviewer_cannot_sign_a_verdict_record() -> None:
    registry, alice, _, item = _setup()
    record = verify_decision(registry, sign_decision(alice, item.ticket, approve=True))
    verdict_like = dataclasses.replace(decision_event(item, record, time.time()), review=None)
    with pytest.raises(AuditError) as info:
        open_batch(AuditStream(alice).sign([verdict_like]), registry)
    assert info.value.code == "audit_signer_role"


def test_an_agent_cannot_sign_review_records() -> None:
    registry, _, agent, _ = _setup()
    event = AuditEvent.from_verdict(
        {"agent_id": "agent-1", "action": "deploy"},
        dataclasses.replace(HELD, kernel_id="agent-1"),
        review="approved",
    )
    with pytest.raises(AuditError) as info:
        open_batch(AuditStream(agent).sign([event]), registry)
    assert info.value.code == "bad_audit_signature"
