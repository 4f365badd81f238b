"""Cross-worker replay is denied with the README's commands and no extra settings.

Two ``agent-os worker`` processes on one broker, started as the README says
(no ``AGENT_OS_NONCE_URL``). Each signed request is sent twice, the second
time as a replay of the same bytes; the group hands the copies to either
worker. Before, a replay that reached the other worker was allowed (12 of 40
on NATS, 40 of 40 on Redis); now the workers share the broker's own store
(JetStream KV, Redis) and every replay is denied.

The requests sign no reply subject, so that a replay's deny comes back to
whoever sent it (a bound request's deny goes to its agent, which
``test_fleet_rogue_replay`` covers), and the workers are started with the
opt-out that serves them, ``AGENT_OS_ALLOW_UNBOUND_REPLIES=true``: logged.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fleet_support import cli_worker, stop

from agent_os.bus import Envelope, connect
from agent_os.kernel_worker import ACTION_SUBJECT, KERNEL_RECIPIENT, Decision, Verdict
from agent_os.trust import AgentIdentity, FileTrustStore, SignedMessage, TrustLevel, TrustRegistry
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))
N = 40


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_replay_to_another_worker_is_denied_by_default(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    agent = AgentIdentity.create("agent-replayed")
    kernels = [AgentIdentity.create(f"kernel-r{i}") for i in range(2)]
    registry = tmp_path / "registry.json"
    written = TrustRegistry(FileTrustStore(registry))
    written.register(agent)
    pinned = TrustRegistry()
    for i, kernel in enumerate(kernels):
        kernel.save(tmp_path / f"k{i}.key")
        written.register(kernel, TrustLevel.KERNEL)
        pinned.pin(kernel.public())
    allow = {"AGENT_OS_ALLOW_UNBOUND_REPLIES": "true"}
    started = [await cli_worker(url, tmp_path / f"k{i}.key", registry, env=allow) for i in range(2)]
    procs = [proc for proc, _ in started]
    for _, lines in started:
        assert any("unbound replies ALLOWED" in line for line in lines), lines
    bus = await connect(url)

    async def send(body: bytes) -> Verdict:
        envelope = Envelope(ACTION_SUBJECT, body, deadline=time.time() + 20)
        reply = await bus.request(envelope, 20)
        message = SignedMessage.from_bytes(reply.body)
        assert pinned.verify(message, expected_recipient=agent.agent_id).valid
        return Verdict.from_dict(message.json())

    try:
        firsts, replays = [], []
        for i in range(N):
            body = SignedMessage.create(
                agent, KERNEL_RECIPIENT, {"action": "file_read", "args": {"path": f"/srv/{i}"}}
            ).to_bytes()
            firsts.append(await send(body))
            replays.append(await send(body))
    finally:
        await bus.close()
        for proc in procs:
            await stop(proc)

    assert [v.decision for v in firsts] == [Decision.ALLOW] * N
    assert [(v.decision, v.code) for v in replays] == [(Decision.DENY, "replay")] * N
    # Both workers served, and replays crossed from one worker to the other.
    assert {v.kernel_id for v in firsts + replays} == {"kernel-r0", "kernel-r1"}
    crossed = sum(a.kernel_id != b.kernel_id for a, b in zip(firsts, replays, strict=True))
    assert crossed > 0


async def test_one_nonce_store_on_registry_and_worker_records_each_nonce_once(
    tmp_path: Path,
) -> None:
    """The same store given to TrustRegistry(nonces=) and Worker(nonces=) used to deny all."""
    from agent_os.adapters import KernelClient
    from agent_os.bus import new_id
    from agent_os.kernel_worker import Worker, load_policy
    from agent_os.trust import MemoryNonceStore

    url = f"memory://{new_id()}"
    store = MemoryNonceStore()
    agent, kernel = AgentIdentity.create("agent-n"), AgentIdentity.create("kernel-n")
    registry = TrustRegistry(nonces=store)
    registry.register(agent)
    bus = await connect(url)
    worker = Worker(bus, identity=kernel, registry=registry, policies=load_policy("strict"),
                    nonces=store)  # fmt: skip
    await worker.start()
    try:
        client = KernelClient(bus, agent, [kernel.public()], timeout=5)
        verdicts = [await client.check("file_read", {"path": f"/srv/{i}"}) for i in range(3)]
        assert [v.decision for v in verdicts] == [Decision.ALLOW] * 3
        assert len(store) == 3  # one record per request, not two
        with pytest.raises(ValueError, match="two nonce stores"):
            Worker(bus, identity=kernel, registry=registry, policies=load_policy("strict"),
                   nonces=MemoryNonceStore())  # fmt: skip
    finally:
        await worker.shutdown()
        await bus.close()
