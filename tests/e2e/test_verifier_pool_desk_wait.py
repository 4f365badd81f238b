"""A pool's client awaits the review of its flagged result from the review desks (NATS, Redis).

The pool's worker opens the review item in the store; a kernel worker with the same store runs
the review desk. The client has its bus, its key and the kernel key it pins, never the store:
``verifier.review_decision(ticket)`` long-polls the desks (``DeskReviewDecisions``). Only an
approval the desk signs with the pinned kernel key, for this client's request, is approved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_os.adapters import DeskReviewDecisions, QueueReview
from agent_os.bus import Bus, Delivery
from agent_os.kernel_worker import MemoryAuditLog, Worker, load_policy
from agent_os.policies import Decision, Verdict
from agent_os.review import (
    WAIT_SUBJECT,
    ReviewQueue,
    ReviewStore,
    SqliteReviewStore,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, SignedMessage, TrustLevel, TrustRegistry
from agent_os.verifier import (
    CallSettings,
    ConsensusResult,
    ConsensusVerifier,
    LexicalJudge,
    VerifierWorker,
)
from tests.buses import BusOpener
from tests.e2e.review_support import POLICY
from tests.eventually import eventually
from tests.servers import Servers
from tests.unit.verifier.vendor_server import three, vendor_server

SCRIPTS = {
    "gpt-local": ["It was completed in 1889."],
    "claude-local": ["1889"],
    "gemini-local": ["The Eiffel Tower was completed in 1925."],
}
BACKENDS = pytest.mark.parametrize("backend", ["nats", "redis"])


@dataclass
class Pool:
    bus: Bus
    store: ReviewStore
    registry: TrustRegistry
    agent: AgentIdentity
    kernel: AgentIdentity
    reviewer: AgentIdentity
    verifier: ConsensusVerifier
    result: ConsensusResult

    @property
    def ticket(self) -> str:
        assert self.result.review_ticket is not None
        return self.result.review_ticket

    async def decide(self, approve: bool) -> None:
        signed = sign_decision(self.reviewer, self.ticket, approve=approve, comment="checked")
        await take_decision(self.store, self.registry, signed, bus=self.bus)


@asynccontextmanager
async def flagged(
    servers: Servers, open_bus: BusOpener, tmp_path: Path, backend: str
) -> AsyncIterator[Pool]:
    """A verifier pool with review, a kernel worker's desk and a client holding a flagged result."""
    url = servers.bus_url(backend)
    agent = AgentIdentity.create("cmvk-desk-client", "client", [])
    key = AgentIdentity.create("cmvk-desk-verifier", "verifier", [])
    kernel = AgentIdentity.create("kernel-cmvk-desk")
    reviewer = AgentIdentity.create("alice", "Alice", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    registry.register(reviewer.public(), TrustLevel.REVIEWER)
    with SqliteReviewStore(tmp_path / "review.db") as store:
        sink = QueueReview(ReviewQueue(store, registry=registry))
        pool = VerifierWorker(await open_bus(url), key, registry, judge=LexicalJudge(),
                              settings=CallSettings(timeout=10, retries=0),
                              review_on_disagreement=sink)  # fmt: skip
        desk = Worker(await open_bus(url), identity=kernel, registry=registry,
                      policies=load_policy(POLICY), audit=MemoryAuditLog(), publish_audit=False,
                      review=ReviewQueue(store, registry=registry))  # fmt: skip
        bus = await open_bus(url)
        decisions = DeskReviewDecisions(bus, agent, [kernel.public()], poll=2.0)
        try:
            with vendor_server(SCRIPTS) as server:
                await pool.start()
                await desk.start()
                verifier = ConsensusVerifier(models=three(server), bus=bus, identity=agent,
                                             verifier_keys=[key.public()], timeout=20,
                                             review_decisions=decisions)  # fmt: skip
                result = await verifier.verify_consensus("In which year? (desk review)")
                assert result.flagged and result.review_ticket is not None
                yield Pool(bus, store, registry, agent, kernel, reviewer, verifier, result)
        finally:
            await pool.shutdown()
            await desk.shutdown()


@BACKENDS
@pytest.mark.parametrize("approve", [True, False], ids=["approved", "denied"])
async def test_the_client_awaits_the_decision_from_the_desks(
    servers: Servers, open_bus: BusOpener, tmp_path: Path, backend: str, approve: bool
) -> None:
    async with flagged(servers, open_bus, tmp_path, backend) as pool:
        waiting = asyncio.create_task(pool.verifier.review_decision(pool.ticket, timeout=30))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await pool.decide(approve)
        decision = await waiting
    assert decision.ticket == pool.ticket and decision.approved is approve
    assert decision.code == ("review_approved" if approve else "review_denied")
    assert "alice" in decision.reason


@BACKENDS
async def test_a_rogue_desk_answer_is_not_an_approval(
    servers: Servers, open_bus: BusOpener, tmp_path: Path, backend: str
) -> None:
    async with flagged(servers, open_bus, tmp_path, backend) as pool:
        # Same name as the kernel, another key: it answers every poll with a signed allow.
        rogue = AgentIdentity.create(pool.kernel.agent_id)
        rogue_bus = await open_bus(servers.bus_url(backend))
        answered: list[str] = []

        async def answer(delivery: Delivery) -> None:
            poll = SignedMessage.from_bytes(delivery.envelope.body)
            ask = json.loads(poll.content)
            allow = Verdict(Decision.ALLOW, None, "cmvk:disagreement", "approved by mallory",
                            None, "cmvk", "", "review_approved", request_id=ask["request_id"],
                            kernel_id=rogue.agent_id, ticket=ask["ticket"])  # fmt: skip
            wire = SignedMessage.create(rogue, poll.sender_id, allow.to_dict())
            to = dataclasses.replace(delivery.envelope, reply_to=ask["reply_to"], id=poll.id)
            await rogue_bus.publish(to.reply(wire.to_bytes()))
            answered.append(ask["ticket"])

        await rogue_bus.subscribe(WAIT_SUBJECT, answer)
        waiting = asyncio.create_task(pool.verifier.review_decision(pool.ticket, timeout=30))
        await eventually(lambda: answered, 10.0, "a rogue answer")
        assert not waiting.done()
        await pool.decide(False)
        decision = await waiting
    assert answered[0] == pool.ticket
    assert (decision.approved, decision.code) == (False, "review_denied")


@BACKENDS
async def test_no_decision_in_time_and_unknown_tickets_are_not_approved(
    servers: Servers, open_bus: BusOpener, tmp_path: Path, backend: str
) -> None:
    async with flagged(servers, open_bus, tmp_path, backend) as pool:
        late = await pool.verifier.review_decision(pool.ticket, timeout=1.5)
        # A ticket this client never got from the pool: it knows no request to ask about.
        unheard = await pool.verifier.review_decision("no-such-ticket", timeout=5)
        decisions = DeskReviewDecisions(pool.bus, pool.agent, [pool.kernel.public()])
        # Asked about anyway: the desk signs that the store has no such ticket.
        missing = await decisions.decision("no-such-ticket", timeout=10, request_id="r-1")
    assert (late.approved, late.code) == (False, "review_timeout")
    assert (unheard.approved, unheard.code) == (False, "review_unknown")
    assert (missing.approved, missing.code) == (False, "review_unknown")
    assert "no review ticket" in missing.reason
