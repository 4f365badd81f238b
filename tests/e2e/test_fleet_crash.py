"""kill -9 of one of two workers, with default settings: exactly one verdict per request.

The independent test killed one of two NATS workers with 200 requests in
flight: with the old defaults (ack_wait 30 s, client timeout 5 s) every
request the dead worker held became a ``timeout`` deny, and their redelivery
produced ``expired`` verdicts 30 s later. Now the default redelivery timeout
(2 s) is well under the client's (5 s), so the survivor answers them in time.
The doomed worker holds its requests for human review with an approver that
never decides, renewing their leases until it dies: nothing moves before
the kill, everything it held moves after.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import read_lines

from agent_os.adapters import KernelClient
from agent_os.adapters._client import DEFAULT_TIMEOUT
from agent_os.bus import Bus, SubscribeOptions, connect
from agent_os.kernel_worker import AutoApprove, Decision, MemoryAuditLog, Worker, load_policy
from agent_os.kernel_worker._startup import plan_nonce_store
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry
from tests.servers import Servers, selected_backends

HERE = Path(__file__).parent
BACKENDS = selected_backends(("nats", "redis"))
HOLD_POLICY = {"name": "hold", "blocked_actions": [{"action": "file_read", "signal": "SIGSTOP"}]}
N = 200


@pytest.mark.parametrize("backend", BACKENDS)
async def test_kill_9_with_defaults_gives_exactly_one_verdict_per_request(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    assert SubscribeOptions().ack_wait * 2 <= DEFAULT_TIMEOUT  # the defaults under test
    url = servers.bus_url(backend)
    agent = AgentIdentity.create("agent-crash")
    doomed, survivor = AgentIdentity.create("kernel-doomed"), AgentIdentity.create("kernel-alive")
    doomed.save(tmp_path / "doomed.key")
    registry = tmp_path / "registry.json"
    TrustRegistry(FileTrustStore(registry)).register(agent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "hold_worker.py"), url, str(tmp_path / "doomed.key"),
        str(registry), "default", "shared", stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    buses: list[Bus] = []
    shared = plan_nonce_store(url)
    try:
        await asyncio.wait_for(read_lines(proc, "ready", 1), 60)
        buses = [await connect(url), await connect(url)]
        audit = MemoryAuditLog()
        worker = Worker(
            buses[0],
            identity=survivor,
            registry=TrustRegistry(FileTrustStore(registry)),
            policies=load_policy(HOLD_POLICY),
            approver=AutoApprove(),
            # The fleet's shared nonce store, which the doomed worker recorded the held
            # requests' nonces in: their redeliveries must pass it (same broker copy).
            nonces=shared.store,
            audit=audit,
            publish_audit=False,
        )
        await worker.start()
        client = KernelClient(buses[1], agent, [doomed.public(), survivor.public()])
        pending = [
            asyncio.ensure_future(client.check("file_read", {"path": f"/data/{i}"}))
            for i in range(N)
        ]
        held = await asyncio.wait_for(read_lines(proc, "held", 1), 60)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        verdicts = await asyncio.gather(*pending)
        await worker.shutdown()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for bus in buses:
            await bus.close()
        await shared.store.close()  # type: ignore[union-attr]

    assert held  # the doomed worker held requests when it died
    assert Counter(v.code for v in verdicts) == {"review_approved": N}  # no timeout, no expired
    assert {v.kernel_id for v in verdicts} == {"kernel-alive"}
    assert len({v.request_id for v in verdicts}) == N
    # Each request decided once by the survivor (a held action is audited when held and when
    # approved: one allow per request).
    allowed = Counter(e.request_id for e in audit.events if e.decision == "allow")
    assert set(allowed) == {v.request_id for v in verdicts}
    assert max(allowed.values()) == 1
    assert worker.expired_redeliveries == 0
    assert {v.decision for v in verdicts} == {Decision.ALLOW}
