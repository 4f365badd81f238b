"""The pool's wire: request shapes, replays and worker-side errors (memory bus)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_os.bus import ERROR_CODE_HEADER, Bus, Delivery, Envelope, connect
from agent_os.trust import AgentIdentity, SignedMessage, TrustLevel, TrustRegistry
from agent_os.verifier import (
    CMVK_SUBJECT,
    VERIFIER_RECIPIENT,
    ConsensusVerifier,
    LexicalJudge,
    RemoteError,
    VerifierError,
    VerifierWorker,
)
from agent_os.verifier._wire import parse_request, request_content, verify_request
from tests.eventually import eventually
from tests.unit.verifier.vendor_server import Instant

AGENT = AgentIdentity.create("wire-client", "client", [])
KEY = AgentIdentity.create("wire-verifier", "verifier", [])


@pytest.mark.parametrize(
    "content",
    [
        {"prompt": "", "models": ["a"], "threshold": 0.8, "quorum": 1},
        {"prompt": "q", "models": [], "threshold": 0.8, "quorum": 1},
        {"prompt": "q", "models": [1], "threshold": 0.8, "quorum": 1},
        {"prompt": "q", "models": ["a"], "threshold": 1.5, "quorum": 1},
        {"prompt": "q", "models": ["a"], "threshold": True, "quorum": 1},
        {"prompt": "q", "models": ["a"], "threshold": 0.8, "quorum": 2},
        {"prompt": "q", "models": ["a"], "threshold": 0.8, "quorum": 1, "keys": "x"},
        {"prompt": "q", "models": ["a"], "threshold": 0.8, "quorum": 1, "reply_to": 7},
        {"prompt": "q", "models": ["a"], "threshold": 0.8, "quorum": 1, "reply_to": ""},
        '["not", "an", "object"]',
    ],
)
def test_malformed_requests_are_refused(content: Any) -> None:
    message = SignedMessage.create(AGENT, VERIFIER_RECIPIENT, content)
    with pytest.raises(VerifierError) as info:
        parse_request(message)
    assert info.value.code == "malformed_request"


def test_request_round_trip() -> None:
    content = request_content("q", ("a", "b"), 0.8, 2)
    parsed = parse_request(SignedMessage.create(AGENT, VERIFIER_RECIPIENT, content))
    assert (parsed.prompt, parsed.models, parsed.threshold, parsed.quorum) == (
        "q",
        ("a", "b"),
        0.8,
        2,
    )
    assert parsed.sender_id == AGENT.agent_id


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    registry = TrustRegistry()
    registry.register(AGENT.public(), TrustLevel.STANDARD)
    b = await connect("memory://cmvk-wire")
    named = {"fixed:a": Instant("fixed:a", "1889"), "fixed:b": Instant("fixed:b", "1889.")}
    async with VerifierWorker(b, KEY, registry, judge=LexicalJudge(), providers=named):
        yield b
    await b.close()


async def test_replayed_request_bytes_are_refused(bus: Bus) -> None:
    content = request_content("q", ("fixed:a", "fixed:b"), 0.8, 2)
    envelope = await verify_request(bus, AGENT, content, timeout=5)
    assert parse_request(SignedMessage.from_bytes(envelope.body)).reply_to == envelope.reply_to
    replies = []
    for _ in range(2):
        reply = await bus.request(envelope, 5)
        replies.append(SignedMessage.from_bytes(reply.body).json())
    assert replies[0]["result"]["outcome"] == "agreed"
    assert replies[1]["error"]["code"] == "replay"


def _unbound() -> Envelope:
    """A request as a client older than the binding sends it: no signed reply subject."""
    content = request_content("q", ("fixed:a", "fixed:b"), 0.8, 2)
    message = SignedMessage.create(AGENT, VERIFIER_RECIPIENT, content)
    return Envelope(CMVK_SUBJECT, message.to_bytes(), id=message.id, deadline=time.time() + 5)


async def test_a_request_signing_no_reply_subject_is_refused(bus: Bus) -> None:
    reply = await bus.request(_unbound(), 5)
    assert SignedMessage.from_bytes(reply.body).json()["error"]["code"] == "reply_unbound"


async def test_the_opt_out_serves_a_request_signing_no_reply_subject(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = TrustRegistry()
    registry.register(AGENT.public(), TrustLevel.STANDARD)
    b = await connect("memory://cmvk-unbound")
    named = {"fixed:a": Instant("fixed:a", "1889"), "fixed:b": Instant("fixed:b", "1889.")}
    worker = VerifierWorker(b, KEY, registry, judge=LexicalJudge(), providers=named,
                            allow_unbound_replies=True)  # fmt: skip
    try:
        with caplog.at_level(logging.WARNING, logger="agent_os.verifier.worker"):
            await worker.start()
        assert any("allow_unbound_replies" in r.getMessage() for r in caplog.records)
        reply = await b.request(_unbound(), 5)
        assert SignedMessage.from_bytes(reply.body).json()["result"]["outcome"] == "agreed"
        assert worker.unbound_requests == 1
    finally:
        await worker.shutdown()
        await b.close()


async def test_worker_side_configuration_error_reaches_the_client(bus: Bus) -> None:
    verifier = ConsensusVerifier(
        models=["fixed:a", "mystery-model"], bus=bus, identity=AGENT,
        verifier_keys=[KEY.public()], timeout=5,
    )  # fmt: skip
    with pytest.raises(RemoteError) as info:
        await verifier.verify_consensus("q")
    assert info.value.code == "configuration"


async def test_named_providers_answer_remotely(bus: Bus) -> None:
    verifier = ConsensusVerifier(
        models=["fixed:a", "fixed:b"], bus=bus, identity=AGENT,
        verifier_keys=[KEY.public()], timeout=5,
    )  # fmt: skip
    result = await verifier.verify_consensus("q")
    assert result.outcome == "agreed" and result.majority_models == ("fixed:a", "fixed:b")


def test_bus_mode_needs_identity_and_model_strings() -> None:
    from agent_os.verifier import ConfigurationError

    class NoBus:
        pass

    with pytest.raises(ConfigurationError, match="identity"):
        ConsensusVerifier(models=["a"], bus=NoBus())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="pinned"):
        ConsensusVerifier(models=["a"], bus=NoBus(), identity=AGENT)  # type: ignore[arg-type]


class BrokenJudge:
    def score(self, prompt: str, a: str, b: str) -> float:
        raise RuntimeError("judge bug")


async def test_a_fault_of_the_worker_is_a_signed_internal_error() -> None:
    registry = TrustRegistry()
    registry.register(AGENT.public(), TrustLevel.STANDARD)
    b = await connect("memory://cmvk-wire-fault")
    named = {"fixed:a": Instant("fixed:a", "1889"), "fixed:b": Instant("fixed:b", "1925")}
    async with VerifierWorker(b, KEY, registry, judge=BrokenJudge(), providers=named):
        verifier = ConsensusVerifier(
            models=["fixed:a", "fixed:b"], bus=b, identity=AGENT,
            verifier_keys=[KEY.public()], timeout=5,
        )  # fmt: skip
        with pytest.raises(RemoteError) as info:
            await verifier.verify_consensus("q")
    await b.close()
    assert info.value.code == "internal_error"


async def test_a_reply_address_outside_the_reply_namespace_is_dead_lettered(bus: Bus) -> None:
    heard: list[Envelope] = []
    dead: list[Envelope] = []

    def into(found: list[Envelope]) -> Any:
        async def handler(delivery: Delivery) -> None:
            found.append(delivery.envelope)
            await delivery.ack()

        return handler

    target = "agentos.v1.audit.cmvk-wire"
    await bus.subscribe(target, into(heard))
    await bus.subscribe(f"{CMVK_SUBJECT}.dlq", into(dead), group="dlq-reader")
    message = SignedMessage.create(
        AGENT, VERIFIER_RECIPIENT, request_content("q", ("fixed:a", "fixed:b"), 0.8, 2)
    )
    envelope = Envelope(CMVK_SUBJECT, message.to_bytes(), reply_to=target,
                        deadline=time.time() + 5)  # fmt: skip
    await bus.publish(envelope)
    letters = await eventually(
        lambda: [d for d in dead if d.id == envelope.id], 5.0, "the dead letter"
    )
    assert letters[0].headers[ERROR_CODE_HEADER] == "bad_reply_to"
    assert heard == []
