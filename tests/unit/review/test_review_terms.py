"""Review terms written on a policy's SIGSTOP rule: two approvals asked by a tool rule in a YAML
policy file hold the action until two distinct reviewers approve; the policy's terms win over
the review rules file's."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import connect, new_id
from agent_os.kernel_worker import KernelSpace, Worker
from agent_os.policies import Policy, load_policy
from agent_os.review import (
    DecisionRefused,
    ReviewQueue,
    ReviewRules,
    SqliteReviewStore,
    Status,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from tests.unit.review.review_cases import pending_ticket

PAYMENTS = """\
name: payments
tools:
  rules:
    - tool: send_money
      signal: SIGSTOP
      reason: money leaves the company
      approvals: 2
      review_timeout: 1h
"""

Reviewers = tuple[TrustRegistry, AgentIdentity, AgentIdentity]


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    path = tmp_path / "payments.yaml"
    path.write_text(PAYMENTS)
    return load_policy(path)


@pytest.fixture
def reviewers() -> Reviewers:
    registry = TrustRegistry()
    alice, bob = AgentIdentity.create("alice"), AgentIdentity.create("bob")
    registry.register(alice, TrustLevel.REVIEWER)
    registry.register(bob, TrustLevel.REVIEWER)
    return registry, alice, bob


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteReviewStore]:
    s = SqliteReviewStore(tmp_path / "review.db")
    yield s
    s.close()


async def test_a_tool_rule_asking_two_approvals_needs_two_distinct_reviewers(
    policy: Policy, store: SqliteReviewStore, reviewers: Reviewers
) -> None:
    registry, alice, bob = reviewers
    kernel = KernelSpace(policy, review=ReviewQueue(store, registry=registry, poll=0.02))
    sent: list[int] = []

    @kernel.register
    def send_money(amount: int) -> None:
        sent.append(amount)

    started = time.time()
    call = asyncio.create_task(send_money(100))
    ticket = await pending_ticket(store)
    item = store.get(ticket)
    assert item is not None and item.approvals == 2 and item.rule == "tool:send_money"
    assert 3600 - 5 <= item.deadline - started <= 3600 + 5
    first = await take_decision(store, registry, sign_decision(alice, ticket, approve=True))
    assert first.status is Status.PENDING and not call.done()
    with pytest.raises(DecisionRefused) as info:
        await take_decision(store, registry, sign_decision(alice, ticket, approve=True))
    assert info.value.code == "same_reviewer"
    assert not call.done() and sent == []
    await take_decision(store, registry, sign_decision(bob, ticket, approve=True))
    await call
    assert sent == [100]


async def test_the_worker_records_the_policy_terms(
    policy: Policy, store: SqliteReviewStore, reviewers: Reviewers
) -> None:
    registry, _, _ = reviewers
    bus = await connect(f"memory://{new_id()}")
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    registry.register(agent)
    worker = Worker(
        bus,
        identity=kernel,
        registry=registry,
        policies=policy,
        review=ReviewQueue(store, registry=registry),
    )
    await worker.start()
    client = KernelClient(bus, agent, [kernel.public()], wait_review=False)
    try:
        verdict = await client.check("tool_call", {"amount": 5}, tool="send_money")
        assert verdict.decision.value == "review" and verdict.ticket is not None
        item = store.get(verdict.ticket)
        assert item is not None and item.approvals == 2
        assert verdict.deadline is not None and verdict.deadline - item.created_at == 3600
    finally:
        await worker.shutdown()
        await bus.close()


async def test_the_policy_terms_win_over_the_rules_file_with_a_warning(
    policy: Policy,
    store: SqliteReviewStore,
    reviewers: Reviewers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, _, _ = reviewers
    rules = ReviewRules.from_mapping(
        {"timeout": "2m", "rules": {"tool:*": {"approvals": 3, "timeout": "5m"}}}
    )
    queue = ReviewQueue(store, registry=registry, rules=rules)
    verdict = policy.evaluate({"action": "tool_call", "tool": "send_money", "args": {}})
    terms = policy.review_terms(verdict.rule)
    with caplog.at_level(logging.WARNING, logger="agent_os.review"):
        item = await queue.hold({"action": "tool_call", "request_id": "r1"}, verdict, terms)
        await queue.hold({"action": "tool_call", "request_id": "r2"}, verdict, terms)
    assert item.approvals == 2 and item.deadline - item.created_at == 3600
    warned = [r for r in caplog.records if "tool:send_money" in r.getMessage()]
    assert len(warned) == 1  # once per rule, not per held action
    # A rule the policy gives no terms keeps the file's; a term the policy leaves out too.
    only_approvals = load_policy(
        {
            "name": "p",
            "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP", "approvals": 2}],
        }
    )
    deploy = only_approvals.evaluate({"action": "deploy", "args": {}})
    partial = await queue.hold(
        {"action": "deploy", "request_id": "r3"},
        deploy,
        only_approvals.review_terms(deploy.rule),
    )
    assert partial.approvals == 2 and partial.deadline - partial.created_at == 120
    plain = await queue.hold({"action": "tool_call", "request_id": "r4"}, verdict, None)
    assert plain.approvals == 3 and plain.deadline - plain.created_at == 300
