"""``DeskReviewDecisions``: the pool client's reader of review decisions from the desks.

The flow over real brokers is in ``tests/e2e/test_verifier_pool_desk_wait.py``; here, what
needs no desk: the names the package exports, the verifier's protocol, and failing closed.
"""

from __future__ import annotations

import pytest

import agent_os.adapters
from agent_os.adapters import DeskReviewDecisions
from agent_os.bus import connect
from agent_os.trust import AgentIdentity
from agent_os.verifier import ConfigurationError, ConsensusVerifier, ReviewDecisions

AGENT = AgentIdentity.create("cmvk-client")
KERNEL = AgentIdentity.create("kernel-1")
MODELS = ["gpt-4o", "claude-3-5-sonnet"]


def test_exported_names() -> None:
    assert sorted(agent_os.adapters.__all__) == [
        "DeskReviewDecisions",
        "KernelClient",
        "QueueReview",
        "call_args",
        "governed",
    ]


async def test_it_is_the_verifiers_review_decisions() -> None:
    bus = await connect("memory://desk-wait-protocol")
    try:
        assert isinstance(DeskReviewDecisions(bus, AGENT, [KERNEL.public()]), ReviewDecisions)
        with pytest.raises(ValueError, match="pinned kernel key"):
            DeskReviewDecisions(bus, AGENT, [])
        with pytest.raises(ValueError, match="poll"):
            DeskReviewDecisions(bus, AGENT, [KERNEL.public()], poll=0)
    finally:
        await bus.close()


async def test_a_ticket_with_no_request_of_this_client_is_unknown() -> None:
    bus = await connect("memory://desk-wait-unknown")
    try:
        decisions = DeskReviewDecisions(bus, AGENT, [KERNEL.public()])
        decision = await decisions.decision("t-1", timeout=5)
        assert (decision.approved, decision.code) == (False, "review_unknown")
        keys = [KERNEL.public()]
        verifier = ConsensusVerifier(
            MODELS, bus=bus, identity=AGENT, verifier_keys=keys, review_decisions=decisions
        )
        # A ticket no result of this verifier carried: no request to ask the desks about.
        decision = await verifier.review_decision("t-1", timeout=5)
        assert (decision.approved, decision.code) == (False, "review_unknown")
        plain = ConsensusVerifier(MODELS, bus=bus, identity=AGENT, verifier_keys=keys)
        decision = await plain.review_decision("t-1", timeout=5)
        assert (decision.approved, decision.code) == (False, "review_unavailable")
    finally:
        await bus.close()


async def test_the_waits_are_signed_by_the_verifiers_own_identity() -> None:
    bus = await connect("memory://desk-wait-identity")
    try:
        other = DeskReviewDecisions(bus, AgentIdentity.create("someone-else"), [KERNEL.public()])
        with pytest.raises(ConfigurationError, match="waits as someone-else"):
            ConsensusVerifier(MODELS, bus=bus, identity=AGENT, verifier_keys=[KERNEL.public()],
                              review_decisions=other)  # fmt: skip
    finally:
        await bus.close()
