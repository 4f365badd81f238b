"""SIGSTOP end to end on every bus (memory, NATS, Redis, Kafka, SQS): the agent waits, a
reviewer decides with ``agent-os review``, and the action runs only when approved.

On the brokers the reviewer's CLI publishes the decision on the bus and the
worker's review desk answers the waiting agent at once. ``memory://`` is one
process: the CLI writes the shared store with no bus and the desk finds the
decision on its next look at the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from review_support import ReviewSetup, held_item

from agent_os.adapters import KernelClient
from agent_os.audit import (
    AUDIT_SUBJECT,
    AuditError,
    AuditEvent,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.audit._signed import open_batch
from agent_os.bus import Delivery, connect
from agent_os.kernel_worker import Decision, PolicyViolation, Worker
from agent_os.review import ReviewRules, SqliteReviewStore, Status
from agent_os.trust import TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends


@pytest.fixture(params=selected_backends())
def url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


class Deployment:
    def __init__(self, setup: ReviewSetup, url: str, worker: Worker, client: KernelClient) -> None:
        self.setup = setup
        self.url = url
        self.worker = worker
        self.client = client
        self.ran: list[str] = []

    def cli_bus(self) -> str | None:
        return None if self.url.startswith("memory://") else self.url

    async def deploy(self, target: str) -> str:
        self.ran.append(target)
        return f"deployed {target}"

    def start(self, target: str) -> asyncio.Task[str]:
        return asyncio.create_task(self.client.execute(self.deploy, target, action="deploy"))


async def _deployment(tmp_path: Path, url: str, timeout: float) -> AsyncIterator[Deployment]:
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url, timeout=timeout)
    client, client_bus = await setup.client(url)
    try:
        yield Deployment(setup, url, worker, client)
    finally:
        await worker.shutdown()
        await client_bus.close()
        await worker_bus.close()


@pytest.fixture
async def deployment(tmp_path: Path, url: str) -> AsyncIterator[Deployment]:
    async for d in _deployment(tmp_path, url, 600.0):
        yield d


async def test_approved_action_runs(deployment: Deployment) -> None:
    task = deployment.start("prod")
    (item,) = await held_item(deployment.setup)
    assert item.action == "deploy" and item.agent_id == "agent-1" and item.rule == "action:deploy"
    assert not task.done() and deployment.ran == []
    out = await deployment.setup.cli(
        "approve", item.ticket, "--comment", "ship it", bus=deployment.cli_bus()
    )
    assert out["status"] == "approved"
    assert await task == "deployed prod"
    assert deployment.ran == ["prod"]


async def test_denied_action_does_not_run(deployment: Deployment) -> None:
    task = deployment.start("prod")
    (item,) = await held_item(deployment.setup)
    await deployment.setup.cli("deny", item.ticket, "--comment", "freeze", bus=deployment.cli_bus())
    with pytest.raises(PolicyViolation) as info:
        await task
    assert info.value.verdict.code == "review_denied"
    assert "denied by alice: freeze" in info.value.verdict.reason
    assert deployment.ran == []


@pytest.fixture
async def short_deployment(tmp_path: Path, url: str) -> AsyncIterator[Deployment]:
    async for d in _deployment(tmp_path, url, 1.5):
        yield d


async def test_expired_action_does_not_run(short_deployment: Deployment) -> None:
    task = short_deployment.start("prod")
    (item,) = await held_item(short_deployment.setup)
    with pytest.raises(PolicyViolation) as info:
        await task
    assert info.value.verdict.code == "review_timeout"
    assert short_deployment.ran == []
    # A decision now is refused: the deadline passed and the action was denied.
    with pytest.raises(AssertionError, match="expired"):
        await short_deployment.setup.cli("approve", item.ticket, bus=short_deployment.cli_bus())
    with SqliteReviewStore(short_deployment.setup.store_file) as store:
        assert store.get(item.ticket).status is Status.EXPIRED  # type: ignore[union-attr]


async def test_pending_verdict_then_wait(deployment: Deployment) -> None:
    verdict = await deployment.client.check("deploy", {"target": "eu"}, wait_review=False)
    assert verdict.decision is Decision.REVIEW and verdict.ticket and verdict.deadline
    await deployment.setup.cli("approve", verdict.ticket, bus=deployment.cli_bus())
    final = await deployment.client.wait(verdict)
    assert final.decision is Decision.ALLOW and final.code == "review_approved"
    assert final.request_id == verdict.request_id


async def test_two_approvals_needed(tmp_path: Path, url: str) -> None:
    setup = ReviewSetup(tmp_path)
    rules = ReviewRules.from_mapping({"rules": {"action:deploy": {"approvals": 2}}})
    worker, worker_bus = await setup.worker(url, rules=rules)
    client, client_bus = await setup.client(url)
    bus_url = None if url.startswith("memory://") else url
    try:
        pending = await client.check("deploy", {"target": "prod"}, wait_review=False)
        assert pending.ticket is not None
        first = await setup.cli("approve", pending.ticket, bus=bus_url)
        assert first["status"] == "pending" and first["approvals"] == "1/2"
        with pytest.raises(AssertionError, match="distinct reviewers"):
            await setup.cli("approve", pending.ticket, bus=bus_url)
        await setup.cli("approve", pending.ticket, bus=bus_url, key="bob")
        final = await client.wait(pending)
        assert final.decision is Decision.ALLOW and "alice, bob" in final.reason
    finally:
        await worker.shutdown()
        await client_bus.close()
        await worker_bus.close()


async def test_decision_and_outcome_land_in_the_audit_chain(
    tmp_path: Path, servers: Servers
) -> None:
    url = servers.bus_url("nats")
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url, publish_audit=True)
    client, client_bus = await setup.client(url)
    # What a verifying sink trusts: kernels sign their batches, reviewers their decisions.
    signers = TrustRegistry()
    signers.register(setup.kernel.public(), TrustLevel.KERNEL)
    signers.register(setup.alice.public(), TrustLevel.REVIEWER)
    # Watch the audit subject from now on (fan-out), so batches other tests left on the
    # shared broker's work queue cannot stand in the way; each batch is opened exactly as
    # the sink opens it, and ours are sealed onto a chain.
    watch_bus = await connect(url)
    events: dict[str, AuditEvent] = {}

    async def watch(delivery: Delivery) -> None:
        try:
            batch = open_batch(delivery.envelope.body, signers)
        except AuditError:
            return  # another test's kernel, or unsigned: a verifying sink refuses it too
        events.update((e.event_id, e) for e in batch.events)

    watching = await watch_bus.subscribe(AUDIT_SUBJECT, watch)
    chain = SqliteAuditStore(tmp_path / "audit.db")
    try:
        pending = await client.check("deploy", {"target": "prod"}, wait_review=False)
        assert pending.ticket is not None
        await setup.cli("deny", pending.ticket, "--comment", "freeze", bus=url)
        final = await client.wait(pending)
        assert final.code == "review_denied"
        ids = [f"review-{pending.ticket}-alice", f"review-{pending.ticket}-final"]
        await eventually(lambda: all(i in events for i in ids), 30.0, "review events on the bus")
        decision, outcome = (events[i] for i in ids)
        assert decision.review == "denied" and decision.kernel_id == "alice"
        assert "denied by alice (signed by alice): freeze" in decision.reason
        assert outcome.review == "denied" and outcome.kernel_id == "kernel-1"
        chain.append_many([decision, outcome])
        assert verify_chain(chain.records()).ok
    finally:
        await watching.unsubscribe()
        await worker.shutdown()
        chain.close()
        for bus in (watch_bus, client_bus, worker_bus):
            await bus.close()
