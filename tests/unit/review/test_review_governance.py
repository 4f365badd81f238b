"""One governance flow: KernelSpace on the durable review store, and the Worker's approver path
behaving as KernelSpace's does (a raising approver is a deny, the outcome is audited)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import connect, new_id
from agent_os.kernel_worker import (
    KernelSpace,
    MemoryAuditLog,
    PolicyViolation,
    ReviewOutcome,
    ReviewRequest,
    Worker,
    load_policy,
)
from agent_os.review import (
    ReviewQueue,
    ReviewRules,
    SqliteReviewStore,
    Status,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from tests.unit.review.review_cases import pending_ticket

POLICY = load_policy(
    {
        "name": "ops",
        "blocked_actions": [
            {"action": "deploy", "signal": "SIGSTOP", "reason": "deploys need a human"}
        ],
    }
)


@pytest.fixture
def people() -> tuple[TrustRegistry, AgentIdentity]:
    registry = TrustRegistry()
    alice = AgentIdentity.create("alice")
    registry.register(alice, TrustLevel.REVIEWER)
    return registry, alice


@pytest.fixture
def store(tmp_path: Path) -> AsyncIterator[SqliteReviewStore]:
    s = SqliteReviewStore(tmp_path / "review.db")
    yield s  # type: ignore[misc]
    s.close()


async def test_kernel_space_waits_on_the_store_and_runs_when_approved(
    store: SqliteReviewStore, people: tuple[TrustRegistry, AgentIdentity]
) -> None:
    registry, alice = people
    audit = MemoryAuditLog()
    kernel = KernelSpace(
        POLICY, audit=audit, review=ReviewQueue(store, registry=registry, poll=0.02)
    )
    ran: list[str] = []

    @kernel.register(action="deploy")
    def deploy(target: str) -> None:
        ran.append(target)

    call = asyncio.create_task(deploy("prod"))
    ticket = await pending_ticket(store)
    assert not call.done()
    await take_decision(store, registry, sign_decision(alice, ticket, approve=True))
    await call
    assert ran == ["prod"]
    assert audit.events[-1].review == "approved"


async def test_kernel_space_expiry_is_a_deny(
    store: SqliteReviewStore, people: tuple[TrustRegistry, AgentIdentity]
) -> None:
    registry, _ = people
    queue = ReviewQueue(store, registry=registry, rules=ReviewRules(timeout=0.2), poll=0.02)
    kernel = KernelSpace(POLICY, review=queue)

    @kernel.register(action="deploy")
    def deploy(target: str) -> None:
        raise AssertionError("must not run")

    with pytest.raises(PolicyViolation) as info:
        await deploy("prod")
    assert info.value.code == "review_timeout"
    (item,) = store.expire() or store.history()
    assert item.status is Status.EXPIRED


async def test_kernel_space_refuses_an_approval_no_reviewer_signed(
    store: SqliteReviewStore, people: tuple[TrustRegistry, AgentIdentity]
) -> None:
    registry, _ = people
    kernel = KernelSpace(POLICY, review=ReviewQueue(store, registry=registry, poll=0.02))

    @kernel.register(action="deploy")
    def deploy(target: str) -> None:
        raise AssertionError("must not run")

    call = asyncio.create_task(deploy("prod"))
    ticket = await pending_ticket(store)
    # Someone with a key the registry does not know as a reviewer writes an approval.
    mallory = AgentIdentity.create("mallory")
    theirs = TrustRegistry()
    theirs.register(mallory, TrustLevel.REVIEWER)
    await take_decision(store, theirs, sign_decision(mallory, ticket, approve=True))
    with pytest.raises(PolicyViolation) as info:
        await call
    assert info.value.code == "review_denied"


async def test_worker_survives_a_raising_approver_and_audits_the_outcome() -> None:
    class Broken:
        async def review(self, request: ReviewRequest) -> ReviewOutcome:
            raise RuntimeError("approver down")

    url = f"memory://{new_id()}"
    bus = await connect(url)
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    registry = TrustRegistry()
    registry.register(agent)
    audit = MemoryAuditLog()
    worker = Worker(
        bus, identity=kernel, registry=registry, policies=POLICY, audit=audit, approver=Broken()
    )
    await worker.start()
    client = KernelClient(bus, agent, [kernel.public()])
    try:
        verdict = await client.check("deploy", {"target": "prod"})
        assert verdict.decision.value == "deny" and verdict.code == "review_denied"
        assert [e.review for e in audit.events if e.review] == ["denied"]
    finally:
        await worker.shutdown()
        await bus.close()


async def test_worker_desk_audits_and_counts_the_outcome_it_delivers(
    store: SqliteReviewStore, people: tuple[TrustRegistry, AgentIdentity]
) -> None:
    from agent_os.observability import Metrics

    registry, alice = people
    url = f"memory://{new_id()}"
    bus = await connect(url)
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    registry.register(agent)
    audit, metrics = MemoryAuditLog(), Metrics()
    before = metrics.registry.get_sample_value("agent_os_reviews_total", {"outcome": "approved"})
    worker = Worker(
        bus,
        identity=kernel,
        registry=registry,
        policies=POLICY,
        audit=audit,
        metrics=metrics,
        review=ReviewQueue(store, registry=registry),
    )
    await worker.start()
    client = KernelClient(bus, agent, [kernel.public()])
    try:
        waiting = asyncio.create_task(client.check("deploy", {"target": "prod"}))
        ticket = await pending_ticket(store)
        await take_decision(store, registry, sign_decision(alice, ticket, approve=True), bus=bus)
        verdict = await waiting
        assert verdict.allowed and verdict.code == "review_approved"
        outcome = [e for e in audit.events if e.event_id == f"review-{ticket}-final"]
        assert [e.review for e in outcome] == ["approved"]
        after = metrics.registry.get_sample_value("agent_os_reviews_total", {"outcome": "approved"})
        assert (after or 0) - (before or 0) == 1
    finally:
        await worker.shutdown()
        await bus.close()


async def test_kernel_space_denies_when_the_held_item_disappears(
    store: SqliteReviewStore, people: tuple[TrustRegistry, AgentIdentity], tmp_path: Path
) -> None:
    import sqlite3

    registry, _ = people
    kernel = KernelSpace(POLICY, review=ReviewQueue(store, registry=registry, poll=0.02))

    @kernel.register(action="deploy")
    def deploy(target: str) -> None:
        raise AssertionError("must not run")

    call = asyncio.create_task(deploy("prod"))
    await pending_ticket(store)
    with sqlite3.connect(tmp_path / "review.db") as db:  # someone empties the queue
        db.execute("DELETE FROM agentos_review_items")
    with pytest.raises(PolicyViolation) as info:
        await call
    assert info.value.code == "review_denied"
