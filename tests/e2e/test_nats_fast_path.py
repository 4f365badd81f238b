"""The NATS fast path: kernel workers as a core queue group (no JetStream)."""

from __future__ import annotations

import pytest

from agent_os.adapters import KernelClient
from agent_os.adapters._demo import STEPS, run_demo
from agent_os.bus import Delivery, Envelope, connect
from agent_os.kernel_worker import ACTION_SUBJECT, Worker, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

pytestmark = pytest.mark.skipif(
    "nats" not in selected_backends(("nats",)), reason="nats is not among the selected backends"
)


@pytest.fixture
def fast_url(servers: Servers) -> str:
    return servers.bus_url("nats") + f"?core_prefixes={ACTION_SUBJECT}"


async def test_demo_against_two_workers_on_the_fast_path(fast_url: str) -> None:
    outcomes = await run_demo(fast_url, workers=2)
    assert [o.verdict.decision.value for o in outcomes] == [s.expect for s in STEPS]


async def test_fast_path_verdicts_and_dead_letters(fast_url: str) -> None:
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    registry = TrustRegistry()
    registry.register(agent)
    worker_bus, agent_bus = await connect(fast_url), await connect(fast_url)
    worker = Worker(worker_bus, identity=kernel, registry=registry, policies=load_policy("strict"))
    await worker.start()
    dead: list[Delivery] = []

    async def record(delivery: Delivery) -> None:
        dead.append(delivery)
        await delivery.ack()

    await agent_bus.subscribe(f"{ACTION_SUBJECT}.dlq", record, group="dlq")
    try:
        client = KernelClient(agent_bus, agent, [kernel.public()], timeout=3.0)
        assert (await client.check("file_read", {"path": "/srv/data/a.csv"})).allowed
        denied = await client.check("database_query", {"query": "DROP TABLE users"})
        assert not denied.allowed and denied.code == "policy_violation"
        garbage = await agent_bus.request(Envelope(ACTION_SUBJECT, b"not a request"), 3.0)
        assert b'"malformed"' in garbage.body  # a signed deny with the stable code
        await eventually(lambda: dead, 2.5, "the dead letter")
        assert [d.envelope.headers["x-agentos-error-code"] for d in dead] == ["malformed"]
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


async def test_a_request_taken_and_never_answered_is_a_timeout_deny(fast_url: str) -> None:
    # What a worker crash costs on the fast path: nothing is stored, so the
    # request is gone; the agent's deadline turns that into a deny.
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    taker_bus, agent_bus = await connect(fast_url), await connect(fast_url)
    taken: list[Delivery] = []

    async def take_and_die(delivery: Delivery) -> None:
        taken.append(delivery)  # never answers, never settles

    await taker_bus.subscribe(ACTION_SUBJECT, take_and_die, group="kernel-workers")
    ran: list[str] = []
    try:
        client = KernelClient(agent_bus, agent, [kernel.public()], timeout=0.5)
        verdict = await client.check("file_read", {"path": "/srv/data/a.csv"})
        if verdict.allowed:
            ran.append("file_read")
        assert taken and not ran
        assert verdict.code == "timeout"
    finally:
        await agent_bus.close()
        await taker_bus.close()
