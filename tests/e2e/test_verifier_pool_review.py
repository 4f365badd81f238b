"""A pool's client waits for the human decision on its flagged result (real NATS and Redis).

The worker opens the review item in the store; the client reads the same store through
``QueueReview.decision`` while a reviewer approves or denies with a signed decision.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_os.adapters import QueueReview
from agent_os.bus import connect
from agent_os.review import ReviewQueue, SqliteReviewStore, sign_decision, take_decision
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from agent_os.verifier import CallSettings, ConsensusVerifier, LexicalJudge, VerifierWorker
from tests.servers import Servers
from tests.unit.verifier.vendor_server import three, vendor_server

SCRIPTS = {
    "gpt-local": ["It was completed in 1889."],
    "claude-local": ["1889"],
    "gemini-local": ["The Eiffel Tower was completed in 1925."],
}


@pytest.mark.parametrize("backend", ["nats", "redis"])
@pytest.mark.parametrize("approve", [True, False], ids=["approved", "denied"])
async def test_the_client_awaits_the_reviewers_decision(
    servers: Servers, tmp_path: Path, backend: str, approve: bool
) -> None:
    url = servers.get(backend).url
    agent = AgentIdentity.create("cmvk-review-client", "client", [])
    key = AgentIdentity.create("cmvk-review-verifier", "verifier", [])
    reviewer = AgentIdentity.create("alice", "Alice", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    registry.register(reviewer.public(), TrustLevel.REVIEWER)
    with SqliteReviewStore(tmp_path / "review.db") as store:
        queue = ReviewQueue(store, registry=registry, poll=0.05)
        buses = [await connect(url), await connect(url)]
        worker = VerifierWorker(buses[1], key, registry, judge=LexicalJudge(),
                                settings=CallSettings(timeout=10, retries=0),
                                review_on_disagreement=QueueReview(queue))  # fmt: skip
        try:
            with vendor_server(SCRIPTS) as server:
                await worker.start()
                verifier = ConsensusVerifier(models=three(server), bus=buses[0], identity=agent,
                                             verifier_keys=[key.public()], timeout=20)  # fmt: skip
                result = await verifier.verify_consensus("In which year? (review)")
        finally:
            await worker.shutdown()
            for bus in buses:
                await bus.close()
        assert result.flagged and result.review_ticket is not None
        ticket = result.review_ticket
        # The client's own view of the store the pool writes to.
        client_side = QueueReview(ReviewQueue(store, registry=registry, poll=0.05))
        waiting = asyncio.create_task(client_side.decision(ticket, timeout=30))
        await asyncio.sleep(0)
        assert not waiting.done()
        await take_decision(
            store, registry, sign_decision(reviewer, ticket, approve=approve, comment="checked")
        )
        decision = await waiting
    assert decision.ticket == ticket and decision.approved is approve
    assert decision.code == ("review_approved" if approve else "review_denied")
