"""Shared replay protection: workers on different buses, one nonce store in real Redis.

The same signed request bytes go to a worker on NATS and to a worker on the
Redis bus; whichever sees them second denies them as a replay. With
process-local nonce stores both would allow them, which the last test shows.
The bytes sign no reply subject (one bus's would be refused by the other's
worker as ``bad_reply_to`` before its nonce is looked at), so these workers
take the opt-out that serves such requests: what is shared is the nonce store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from agent_os.bus import Bus, Envelope, connect
from agent_os.kernel_worker import KERNEL_RECIPIENT, Decision, Verdict, Worker, load_policy
from agent_os.trust import (
    AgentIdentity,
    AsyncNonceStore,
    AsyncRedisNonceStore,
    MemoryNonceStore,
    NonceStore,
    SignedMessage,
    TrustRegistry,
)
from tests.servers import Servers, free_port

AGENT = AgentIdentity.create("agent-replay")
KERNEL = AgentIdentity.create("kernel-replay")
BACKENDS = ("nats", "redis")


async def _workers(
    stack: AsyncExitStack, servers: Servers, stores: dict[str, NonceStore | AsyncNonceStore]
) -> tuple[dict[str, Bus], str]:
    """One worker per backend (own subject, so a request reaches only it); agent-side buses."""
    registry = TrustRegistry()
    registry.register(AGENT)
    policy = load_policy("strict")
    agent_buses: dict[str, Bus] = {}
    subject = f"agentos.v1.action.replay-{uuid.uuid4().hex[:8]}"
    for backend in BACKENDS:
        url = servers.bus_url(backend)
        worker_bus = await connect(url)
        stack.push_async_callback(worker_bus.close)
        worker = Worker(
            worker_bus,
            identity=KERNEL,
            registry=registry,
            policies=policy,
            subject=subject,
            nonces=stores[backend],
            publish_audit=False,
            control_subject=None,
            allow_unbound_replies=True,
        )
        await worker.start()
        stack.push_async_callback(worker.shutdown)
        agent_buses[backend] = await connect(url)
        stack.push_async_callback(agent_buses[backend].close)
    return agent_buses, subject


async def _send(bus: Bus, subject: str, body: bytes) -> Verdict:
    reply = await bus.request(Envelope(subject, body, deadline=time.time() + 10), 10)
    message = SignedMessage.from_bytes(reply.body)
    kernels = TrustRegistry()
    kernels.pin(KERNEL.public())
    assert kernels.verify(message, expected_recipient=AGENT.agent_id).valid
    return Verdict.from_dict(message.json())


@pytest.fixture
async def shared_store(servers: Servers) -> AsyncIterator[AsyncRedisNonceStore]:
    store = AsyncRedisNonceStore(servers.get("redis").url, prefix=f"test:nonce:{uuid.uuid4().hex}:")
    yield store
    await store.close()


@pytest.mark.parametrize("first", BACKENDS)
async def test_second_worker_denies_the_same_bytes_as_replay(
    servers: Servers, shared_store: AsyncRedisNonceStore, first: str
) -> None:
    second = next(b for b in BACKENDS if b != first)
    async with AsyncExitStack() as stack:
        buses, subject = await _workers(stack, servers, {b: shared_store for b in BACKENDS})
        body = SignedMessage.create(
            AGENT, KERNEL_RECIPIENT, {"action": "file_read", "args": {"path": "/srv/x"}}
        ).to_bytes()
        one = await _send(buses[first], subject, body)
        two = await _send(buses[second], subject, body)
        assert one.decision is Decision.ALLOW
        assert (two.decision, two.code) == (Decision.DENY, "replay")
        # And a third try on the first worker is a replay too.
        three = await _send(buses[first], subject, body)
        assert three.code == "replay"


async def test_without_a_shared_store_both_workers_allow_the_same_bytes(servers: Servers) -> None:
    async with AsyncExitStack() as stack:
        stores: dict[str, NonceStore | AsyncNonceStore] = {b: MemoryNonceStore() for b in BACKENDS}
        buses, subject = await _workers(stack, servers, stores)
        body = SignedMessage.create(
            AGENT, KERNEL_RECIPIENT, {"action": "file_read", "args": {"path": "/srv/x"}}
        ).to_bytes()
        verdicts = [await _send(buses[b], subject, body) for b in BACKENDS]
        assert {v.decision for v in verdicts} == {Decision.ALLOW}


async def test_redis_down_means_deny_not_skip(servers: Servers) -> None:
    dead = AsyncRedisNonceStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)
    try:
        async with AsyncExitStack() as stack:
            buses, subject = await _workers(stack, servers, {b: dead for b in BACKENDS})
            body = SignedMessage.create(
                AGENT, KERNEL_RECIPIENT, {"action": "file_read", "args": {"path": "/x"}}
            ).to_bytes()
            verdict = await _send(buses["nats"], subject, body)
            assert (verdict.decision, verdict.code) == (Decision.DENY, "nonce_store_unavailable")
    finally:
        await dead.close()
