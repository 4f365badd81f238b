"""Limits enforced by a running worker (memory bus): each is a deny with a stable code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, Envelope, connect, new_id
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    KERNEL_RECIPIENT,
    Decision,
    Limits,
    TokenBucket,
    Verdict,
    Worker,
    action_request,
    load_policy,
)
from agent_os.trust import AgentIdentity, SignedMessage, TrustRegistry

KERNEL = AgentIdentity.create("kernel-limits")
AGENT = AgentIdentity.create("agent-limits")
OTHER = AgentIdentity.create("agent-other")


@dataclass
class Setup:
    bus: Bus
    worker: Worker
    client: KernelClient


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    url = f"memory://{new_id()}"
    worker_bus, agent_bus = await connect(url), await connect(url)
    registry = TrustRegistry()
    registry.register(AGENT)
    registry.register(OTHER)
    worker = Worker(
        worker_bus,
        identity=KERNEL,
        registry=registry,
        policies=load_policy("strict"),
        limits=Limits(max_arg_depth=8, max_arg_values=100),
        rate_limiter=TokenBucket(rate=0.001, burst=3),
    )
    await worker.start()
    try:
        yield Setup(agent_bus, worker, KernelClient(agent_bus, AGENT, [KERNEL.public()]))
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


async def send_raw(bus: Bus, body: bytes) -> Verdict:
    return await ask(bus, Envelope(ACTION_SUBJECT, body, deadline=time.time() + 5))


async def ask(bus: Bus, request: Envelope) -> Verdict:
    reply = await bus.request(request, 5)
    return Verdict.from_dict(SignedMessage.from_bytes(reply.body).json())


def lists(count: int) -> Any:
    """``count`` nested lists."""
    value: Any = 1
    for _ in range(count):
        value = [value]
    return value


async def test_args_too_deep_is_denied(setup: Setup) -> None:
    # args is level 1, so 7 nested lists make 8 levels: at the limit.
    ok = await setup.client.check("file_read", {"path": "/a", "x": lists(7)})
    assert ok.decision is Decision.ALLOW
    verdict = await setup.client.check("file_read", {"path": "/a", "x": lists(8)})
    assert (verdict.decision, verdict.code) == (Decision.DENY, "args_too_deep")


async def test_nesting_past_the_json_parser_limit_is_args_too_deep(setup: Setup) -> None:
    # 5,000 levels: the client's own encoder would refuse, so the bytes are written by hand.
    content = '{"action":"file_read","args":{"x":' + "[" * 5000 + "]" * 5000 + "}}"
    body = SignedMessage.create(AGENT, KERNEL_RECIPIENT, content).to_bytes()
    verdict = await send_raw(setup.bus, body)
    assert (verdict.decision, verdict.code) == (Decision.DENY, "args_too_deep")


async def test_too_many_arg_values_is_denied(setup: Setup) -> None:
    verdict = await setup.client.check("file_read", {"path": "/a", "xs": list(range(200))})
    assert (verdict.decision, verdict.code) == (Decision.DENY, "too_many_args")


async def test_payload_too_large_is_denied(setup: Setup) -> None:
    verdict = await setup.client.check("file_read", {"path": "/a", "blob": "x" * 70_000})
    assert (verdict.decision, verdict.code) == (Decision.DENY, "payload_too_large")


async def test_rate_limit_is_per_agent(setup: Setup) -> None:
    codes = [(await setup.client.check("file_read", {"path": "/a"})).code for _ in range(4)]
    assert codes[:3] != ["rate_limited"] * 3 and "rate_limited" not in codes[:3]
    assert codes[3] == "rate_limited"
    other = KernelClient(setup.bus, OTHER, [KERNEL.public()])
    assert (await other.check("file_read", {"path": "/a"})).decision is Decision.ALLOW


async def test_forged_and_replayed_requests_do_not_spend_the_budget(setup: Setup) -> None:
    # An impostor signs as "agent-limits" with its own key: bad signature, no token taken.
    impostor = AgentIdentity.create("agent-limits")
    forged = KernelClient(setup.bus, impostor, [KERNEL.public()])
    for _ in range(10):
        assert (await forged.check("file_read", {"path": "/a"})).code == "bad_signature"
    # Replays of one captured request: one token, then "replay" without spending more.
    content = {"action": "file_read", "args": {"path": "/a"}}
    captured = await action_request(setup.bus, AGENT, content, timeout=5)
    codes = [(await ask(setup.bus, captured)).code for _ in range(5)]
    assert codes[0] != "replay" and set(codes[1:]) == {"replay"}
    allowed = [await setup.client.check("file_read", {"path": "/a"}) for _ in range(3)]
    assert [v.decision for v in allowed] == [Decision.ALLOW, Decision.ALLOW, Decision.DENY]
    assert allowed[2].code == "rate_limited"
