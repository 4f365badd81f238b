"""Random and mutated requests: each gets a deny or a dead letter; the worker keeps serving."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent_os.adapters import KernelClient
from agent_os.bus import ERROR_CODE_HEADER, Delivery, Envelope, connect, new_id
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    Decision,
    Verdict,
    Worker,
    action_content,
    load_policy,
)
from agent_os.trust import AgentIdentity, SignedMessage, TrustLevel, TrustRegistry
from tests.eventually import eventually

KERNEL = AgentIdentity.from_seed("kernel-f", b"k" * 32)
AGENT = AgentIdentity.from_seed("agent-f", b"a" * 32)
POLICY = load_policy("strict")


def _valid_request() -> bytes:
    # Shaped as a client sends it, reply subject included (no mutation keeps the signature).
    content = action_content("file_read", {"path": "/srv/data.txt"}, reply_to="_inbox.fuzz")
    return SignedMessage.create(AGENT, "agentos.kernel", content).to_bytes()


ORIGINAL = _valid_request()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(ORIGINAL)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "replace"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[i : i + 8] = draw(st.binary(min_size=0, max_size=8))
        if not data:
            data = bytearray(b"\x00")
    assume(bytes(data) != ORIGINAL)  # two flips can cancel out
    return bytes(data)


async def _judge_all(bodies: list[bytes]) -> None:
    url = f"memory://{new_id()}"
    wbus, abus = await connect(url), await connect(url)
    registry = TrustRegistry()
    registry.register(AGENT.public())
    kernels = TrustRegistry()
    kernels.register(KERNEL.public(), TrustLevel.KERNEL)
    letters: dict[str, str] = {}

    async def on_dlq(d: Delivery) -> None:
        letters[d.envelope.id] = d.envelope.headers[ERROR_CODE_HEADER]
        await d.ack()

    await abus.subscribe(f"{ACTION_SUBJECT}.dlq", on_dlq, group="dlq")
    async with Worker(wbus, identity=KERNEL, registry=registry, policies=POLICY):
        for body in bodies:
            request = Envelope(ACTION_SUBJECT, body)
            reply = await abus.request(request, timeout=2.0)
            assert kernels.verify(reply.body).valid
            verdict = Verdict.from_dict(SignedMessage.from_bytes(reply.body).json())
            assert verdict.decision is Decision.DENY, (body, verdict)
            if verdict.code == "malformed":
                # Unparseable input is kept, with its code, for inspection.
                await eventually(lambda rid=request.id: rid in letters, 1.0, "its dead letter")
                assert letters[request.id] == "malformed"
        # Still serving: a genuine request after all that is judged normally.
        client = KernelClient(abus, AGENT, [KERNEL.public()], timeout=2.0)
        assert (await client.check("file_read", {"path": "/srv/ok"})).decision is Decision.ALLOW
    await abus.close()
    await wbus.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=5))
def test_random_bytes_are_denied(bodies: list[bytes]) -> None:
    asyncio.run(_judge_all(bodies))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=5))
def test_mutated_requests_are_denied(bodies: list[bytes]) -> None:
    asyncio.run(_judge_all(bodies))
