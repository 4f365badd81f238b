"""The agent waits for the holding rule's review term, bounded by its own ``review_max``.

A SIGSTOP rule grants reviewers an hour (``review_timeout: 1h``) while the
review queue's default is 15 minutes. The worker's signed ``review`` verdict
carries the deadline the rule's term gives; the agent waits for it (not for
a default of its own), and gives up earlier only at the ``review_max`` it was
built with, which is a deny. Run on the memory bus and on NATS.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, Delivery, connect
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    Decision,
    MemoryAuditLog,
    Signal,
    Verdict,
    Worker,
    load_policy,
)
from agent_os.review import (
    DEFAULT_REVIEW_TIMEOUT,
    ReviewQueue,
    SqliteReviewStore,
    Status,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, SignedMessage, TrustLevel, TrustRegistry
from tests.servers import Servers, selected_backends

HOUR = 3600.0
POLICY = {
    "name": "long-review",
    "blocked_actions": [
        {"action": "deploy", "signal": "SIGSTOP", "reason": "deploys need a human",
         "review_timeout": "1h"},
    ],
}  # fmt: skip


@pytest.fixture(params=selected_backends(("memory", "nats")))
def url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


@dataclass
class Held:
    worker: Worker
    worker_bus: Bus
    agent_bus: Bus
    agent: AgentIdentity
    kernel: AgentIdentity
    reviewer: AgentIdentity
    registry: TrustRegistry
    store: SqliteReviewStore

    def client(self, **kw: float) -> KernelClient:
        return KernelClient(self.agent_bus, self.agent, [self.kernel.public()], timeout=10.0, **kw)


@pytest.fixture
async def held(tmp_path: Path, url: str) -> AsyncIterator[Held]:
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    reviewer = AgentIdentity.create("alice")
    registry = TrustRegistry()
    registry.register(agent)
    registry.register(reviewer, TrustLevel.REVIEWER)
    store = SqliteReviewStore(tmp_path / "review.db")
    worker_bus, agent_bus = await connect(url), await connect(url)
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy(POLICY),
        audit=MemoryAuditLog(),
        publish_audit=False,
        # The queue's own default term (15 minutes) is what the rule overrides.
        review=ReviewQueue(store, registry=registry, poll=0.05),
    )
    await worker.start()
    try:
        yield Held(worker, worker_bus, agent_bus, agent, kernel, reviewer, registry, store)
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
        store.close()


async def test_the_agent_waits_for_the_rules_longer_term(held: Held) -> None:
    client = held.client()  # no review setting of its own
    before = time.time()
    ticket = await client.check("deploy", {"target": "prod"}, wait_review=False)
    assert ticket.decision is Decision.REVIEW and ticket.ticket and ticket.deadline
    # The signed verdict carries the rule's hour, not the queue's 15 minutes...
    assert before + HOUR <= ticket.deadline <= time.time() + HOUR
    # ...and the agent means to wait that long, well past its old 15-minute default.
    assert client.review_wait(ticket, now=before) > DEFAULT_REVIEW_TIMEOUT
    assert client.review_wait(ticket, now=before) == pytest.approx(ticket.deadline - before)

    signed = sign_decision(held.reviewer, ticket.ticket, approve=True, comment="window open")
    await take_decision(held.store, held.registry, signed, bus=held.worker_bus)
    final = await client.wait(ticket)
    assert final.decision is Decision.ALLOW and final.code == "review_approved"


async def test_the_agents_maximum_bounds_the_wait_and_denies(held: Held) -> None:
    client = held.client(review_max=0.5)
    ticket = await client.check("deploy", {"target": "prod"}, wait_review=False)
    assert client.review_wait(ticket) <= 0.5
    final = await client.wait(ticket, poll=0.2)
    assert final.decision is Decision.DENY and final.code == "review_timeout"
    assert "longest review wait of 0.5s" in final.reason
    # The agent gave up; the item stays pending for the rule's full term.
    item = held.store.get(ticket.ticket)
    assert item is not None and item.status_at(time.time()) is Status.PENDING


async def test_a_rogue_reply_cannot_stretch_the_term(held: Held) -> None:
    # Someone who can answer on the agent's reply path offers a review verdict with a
    # week's deadline, signed by a key the agent does not pin: it is dropped, and the
    # kernel's signed hour is what the agent waits for.
    rogue = AgentIdentity.create("kernel-rogue")
    week = time.time() + 7 * 24 * HOUR

    async def answer_first(delivery: Delivery) -> None:
        request = SignedMessage.from_bytes(delivery.envelope.body)
        forged = Verdict(
            Decision.REVIEW, Signal.SIGSTOP, "action:deploy", "forged", None, "long-review",
            "0" * 16, "policy_violation", request.id, rogue.agent_id, 0.0, "t-forged", week,
        )  # fmt: skip
        body = SignedMessage.create(rogue, held.agent.agent_id, forged.to_dict()).to_bytes()
        await held.agent_bus.publish(delivery.envelope.reply(body))

    await held.agent_bus.subscribe(ACTION_SUBJECT, answer_first)
    client = held.client()
    ticket = await client.check("deploy", {"target": "prod"}, wait_review=False)
    assert ticket.ticket != "t-forged" and ticket.deadline is not None
    assert ticket.deadline <= time.time() + HOUR
    assert sum(client.dropped.values()) >= 1


def test_review_max_must_be_a_positive_number() -> None:
    agent, kernel = AgentIdentity.create("a"), AgentIdentity.create("k")
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="review_max"):
            KernelClient(object(), agent, [kernel.public()], review_max=bad)  # type: ignore[arg-type]
