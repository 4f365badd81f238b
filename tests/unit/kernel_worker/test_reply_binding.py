"""The reply subject an agent signs: read by the worker, honoured by the client.

The race itself (a rogue's copy judged first, on two workers and three
backends) is ``tests/e2e/test_fleet_rogue_replay.py``; these are the pieces.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, BusError, Delivery, Envelope, connect, new_id
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    KERNEL_RECIPIENT,
    Decision,
    Verdict,
    Worker,
    action_content,
    action_request,
    load_policy,
)
from agent_os.kernel_worker._wire import RequestError, parse_action, sign_verdict
from agent_os.trust import AgentIdentity, SignedMessage, TrustRegistry
from tests.eventually import eventually

AGENT = AgentIdentity.create("agent-bound")
#: What a kernel answers a request it allows.
ALLOW = dataclasses.replace(Verdict.deny("ok", "allowed"), decision=Decision.ALLOW, signal=None)
KERNEL = AgentIdentity.create("kernel-bound")


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    bus = await connect(f"memory://{new_id()}")
    yield bus
    await bus.close()


async def _worker(bus: Bus, **options: bool) -> Worker:
    registry = TrustRegistry()
    registry.register(AGENT)
    worker = Worker(bus, identity=KERNEL, registry=registry, policies=load_policy("strict"),
                    publish_audit=False, **options)  # fmt: skip
    await worker.start()
    return worker


def _unbound(path: str) -> bytes:
    """A request as a client older than the binding signs it: no reply subject."""
    content = action_content("file_read", {"path": path})
    return SignedMessage.create(AGENT, KERNEL_RECIPIENT, content).to_bytes()


async def _ask(bus: Bus, body: bytes) -> Verdict:
    return await _ask_envelope(bus, Envelope(ACTION_SUBJECT, body, deadline=time.time() + 5))


async def _ask_envelope(bus: Bus, request: Envelope) -> Verdict:
    reply = await bus.request(request, 5)
    return Verdict.from_dict(SignedMessage.from_bytes(reply.body).json())


def test_the_signed_reply_subject_is_read_and_must_be_a_string() -> None:
    content = action_content("file_read", {"path": "/a"}, reply_to="_inbox.abc")
    request = parse_action(SignedMessage.create(AGENT, KERNEL_RECIPIENT, content))
    assert request.reply_to == "_inbox.abc"
    assert "reply_to" not in request.action  # not a field the policy judges
    assert (
        parse_action(SignedMessage.create(AGENT, KERNEL_RECIPIENT, {"action": "x"})).reply_to
        is None
    )
    for bad in (7, "", ["_inbox.a"]):
        forged = {"action": "file_read", "reply_to": bad}
        with pytest.raises(RequestError) as caught:
            parse_action(SignedMessage.create(AGENT, KERNEL_RECIPIENT, forged))
        assert caught.value.code == "malformed_action"


async def test_an_unbound_request_is_denied_by_default_and_a_bound_one_served(bus: Bus) -> None:
    worker = await _worker(bus)
    try:
        assert not worker.allows_unbound_replies
        verdict = await _ask(bus, _unbound("/srv/a"))
        assert (verdict.decision, verdict.code) == (Decision.DENY, "reply_unbound")
        assert worker.unbound_requests == 1
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        allowed = await client.check("file_read", {"path": "/srv/a"})
        assert (allowed.decision, worker.redirected_replies) == (Decision.ALLOW, 0)
        bound = await action_request(bus, AGENT, action_content("file_read", {"path": "/b"}),
                                     timeout=5)  # fmt: skip
        assert (await _ask_envelope(bus, bound)).decision is Decision.ALLOW
        assert worker.unbound_requests == 1
    finally:
        await worker.shutdown()


async def test_the_opt_out_serves_unbound_requests_logged_at_start_and_once_per_agent(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_os.kernel"):
        worker = await _worker(bus, allow_unbound_replies=True)
        try:
            assert worker.allows_unbound_replies
            started = [r for r in caplog.records if "allow_unbound_replies" in r.getMessage()]
            assert len(started) == 1
            verdicts = [await _ask(bus, _unbound(f"/srv/{i}")) for i in range(3)]
            assert [v.decision for v in verdicts] == [Decision.ALLOW] * 3
            assert worker.unbound_requests == 3
            warned = [r for r in caplog.records if "signs no reply subject" in r.getMessage()]
            assert len(warned) == 1
        finally:
            await worker.shutdown()


Answer = Callable[[SignedMessage, Envelope], list[Verdict]]


async def _kernel_answering(bus: Bus, answers: Answer) -> Callable[[], Awaitable[None]]:
    """A responder with the pinned kernel key that sends ``answers(request)``, in order."""

    async def handle(delivery: Delivery) -> None:
        message = SignedMessage.from_bytes(delivery.envelope.body)
        for verdict in answers(message, delivery.envelope):
            wire = sign_verdict(KERNEL, AGENT.agent_id, verdict.bound(message.id, "k", 1.0))
            await bus.publish(delivery.envelope.reply(wire))
        await delivery.ack()

    subscription = await bus.subscribe(ACTION_SUBJECT, handle, group="kernel")
    return subscription.unsubscribe


async def test_a_replay_deny_is_not_final_the_other_copys_verdict_is(bus: Bus) -> None:
    """Another copy of the agent's bytes was judged first: its verdict follows the replay deny."""
    replay = Verdict.deny("replay", "nonce already used")
    stop = await _kernel_answering(bus, lambda m, e: [replay, ALLOW])
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.ALLOW, "ok")
        assert client.dropped["replay"] == 1
    finally:
        await stop()


async def test_a_replay_deny_and_nothing_else_is_a_timeout_deny(bus: Bus) -> None:
    stop = await _kernel_answering(bus, lambda m, e: [Verdict.deny("replay", "nonce already used")])
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=0.5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.DENY, "timeout")
        assert "1 invalid repl" in verdict.reason
        assert client.dropped["replay"] == 1
    finally:
        await stop()


#: Denies a kernel gives an altered copy of a request (an unsigned deadline moved, one byte
#: flipped) before it can tell the copy from the agent's own bytes.
ABOUT_A_COPY = ("expired", "bad_signature", "malformed", "payload_too_large")


@pytest.mark.parametrize("code", ABOUT_A_COPY)
async def test_a_deny_about_an_altered_copy_is_held_the_verified_verdict_is_taken(
    bus: Bus, code: str
) -> None:
    """A rogue's altered copy, judged first, cannot turn the agent's allow into a deny."""
    stop = await _kernel_answering(bus, lambda m, e: [Verdict.deny(code, "copy"), ALLOW])
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.ALLOW, "ok")
        assert client.dropped[code] == 1
    finally:
        await stop()


@pytest.mark.parametrize("code", ABOUT_A_COPY)
async def test_a_held_deny_with_nothing_after_it_is_the_answer_at_the_deadline(
    bus: Bus, code: str
) -> None:
    """The agent's own bytes refused (a key the registry does not hold): that deny, at the
    deadline, not a timeout."""
    stop = await _kernel_answering(bus, lambda m, e: [Verdict.deny(code, "refused")])
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=0.5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.DENY, code)
        assert "no other verdict by the deadline" in verdict.reason
    finally:
        await stop()


async def test_a_policy_deny_is_final_at_once(bus: Bus) -> None:
    """Only denies about the bytes are held: a verified verdict ends the wait."""
    denied = Verdict.deny("policy", "blocked")
    stop = await _kernel_answering(bus, lambda m, e: [denied, ALLOW])
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.DENY, "policy")
    finally:
        await stop()


class CopyFirst(Worker):
    """A real worker that judges a rogue's copy of each request before the agent's own."""

    copy_answered: asyncio.Event

    async def _handle(self, delivery: Delivery) -> None:
        own = "x-copy" not in delivery.envelope.headers
        if own:
            await asyncio.wait_for(self.copy_answered.wait(), 5)
        await super()._handle(delivery)
        if not own:
            self.copy_answered.set()


@pytest.mark.parametrize("alter", ["flipped_byte", "deadline_past"])
async def test_an_altered_copy_judged_first_costs_the_agent_nothing(bus: Bus, alter: str) -> None:
    """The rogue keeps the agent's signed reply subject and alters its copy: the worker's
    deny on the copy (bad_signature, expired) reaches the agent first, and is held."""
    registry = TrustRegistry()
    registry.register(AGENT)
    worker = CopyFirst(bus, identity=KERNEL, registry=registry, policies=load_policy("strict"),
                       publish_audit=False)  # fmt: skip
    worker.copy_answered = asyncio.Event()
    await worker.start()

    async def rogue(delivery: Delivery) -> None:
        envelope = delivery.envelope
        if "x-copy" in envelope.headers:
            return  # its own copy, read back
        body, deadline = envelope.body, envelope.deadline
        if alter == "flipped_byte":
            flipped = bytearray(body)
            flipped[-3] ^= 0x01  # one byte of the signed content
            body = bytes(flipped)
        else:
            deadline = time.time() - 1
        headers = {**envelope.headers, "x-copy": "1"}
        copy = dataclasses.replace(envelope, body=body, deadline=deadline, headers=headers)
        await bus.publish(copy)

    subscription = await bus.subscribe(ACTION_SUBJECT, rogue)  # fan-out, beside the workers
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.ALLOW, "ok"), verdict
        code = "bad_signature" if alter == "flipped_byte" else "expired"
        assert client.dropped[code] == 1
    finally:
        await subscription.unsubscribe()
        await worker.shutdown()


async def test_the_client_signs_the_reply_subject_its_request_carries(bus: Bus) -> None:
    seen: list[tuple[str | None, str | None, str]] = []

    def answers(message: SignedMessage, envelope: Envelope) -> list[Verdict]:
        seen.append((parse_action(message).reply_to, envelope.reply_to, envelope.id))
        return [ALLOW]

    stop = await _kernel_answering(bus, answers)
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert verdict.decision is Decision.ALLOW
        [(signed, carried, envelope_id)] = seen
        assert signed == carried == await bus.reply_address(Envelope(ACTION_SUBJECT, b""))
        assert envelope_id == verdict.request_id  # sent under the signed message's id
    finally:
        await stop()


class FirstReplyFails(Worker):
    """A worker whose first answer to each copy a rogue published cannot be sent."""

    failed: set[str]

    async def _reply(self, envelope: Envelope, wire: bytes) -> None:
        copy = envelope.headers.get("x-copy")
        if copy is not None and copy not in self.failed:
            self.failed.add(copy)
            raise BusError("the broker went away mid-answer")
        await super()._reply(envelope, wire)


async def test_a_redelivered_copy_is_answered_from_memory_to_the_signed_subject(bus: Bus) -> None:
    """The kept answer to a rogue's copy goes where the agent signed, not to the rogue."""
    registry = TrustRegistry()
    registry.register(AGENT)
    worker = FirstReplyFails(bus, identity=KERNEL, registry=registry,
                             policies=load_policy("strict"), publish_audit=False)  # fmt: skip
    worker.failed = set()
    await worker.start()
    tapped, stolen = f"tap.{new_id()}", list[Envelope]()

    def keep(reply: Envelope) -> bool:
        stolen.append(reply)
        return False

    async def rogue(delivery: Delivery) -> None:
        genuine = delivery.envelope
        copy = Envelope(ACTION_SUBJECT, genuine.body, {"x-copy": "1"}, deadline=genuine.deadline)
        asked = asyncio.ensure_future(rogue_bus.request(copy, 5, accept=keep))
        # Judged, answer lost, redelivered, answered from memory: then the agent's own copy.
        await eventually(lambda: worker.verdicts >= 1, 5, "the copy answered")
        await rogue_bus.publish(genuine)
        await delivery.ack()
        asked.cancel()

    rogue_bus = await connect(bus.url)
    await rogue_bus.subscribe(tapped, rogue, group="rogue")
    try:
        client = KernelClient(bus, AGENT, [KERNEL.public()], subject=tapped, timeout=5)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.ALLOW, "ok")
        assert worker.failed == {"1"} and client.dropped["replay"] <= 1
        # The copy's first answer was lost, so this allow is the kept one, resent on redelivery.
        assert worker.redirected_replies == 1
        assert stolen == []
    finally:
        await worker.shutdown()
        await rogue_bus.close()
