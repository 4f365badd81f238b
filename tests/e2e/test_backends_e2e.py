"""The governed path on every backend: the demo, the CLI worker, and a crash.

Each test runs once per backend against a real server started by the
session's ``servers`` fixture.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import read_lines

from agent_os.adapters import KernelClient
from agent_os.adapters._demo import STEPS, run_demo
from agent_os.bus import Bus, SubscribeOptions, connect
from agent_os.kernel_worker import AutoApprove, Decision, Verdict, Worker, load_policy
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.buses import BusOpener
from tests.eventually import eventually
from tests.servers import DURABLE_BACKENDS, Servers, selected_backends

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
#: Seconds a held request stays invisible before redelivery to a survivor.
ACK_WAIT = {"nats": 2.0, "redis": 2.0, "kafka": 2.0, "sqs": 2.0}


@pytest.fixture(params=selected_backends(DURABLE_BACKENDS))
def durable_url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


@pytest.fixture
async def bus(durable_url: str, open_bus: BusOpener) -> Bus:
    return await open_bus(durable_url)


async def test_demo_against_two_workers(durable_url: str) -> None:
    outcomes = await run_demo(durable_url, workers=2)
    assert [o.verdict.decision.value for o in outcomes] == [s.expect for s in STEPS]
    assert all(o.verdict.request_id for o in outcomes)


def test_demo_command_runs_on_the_backend(durable_url: str) -> None:
    done = subprocess.run(
        [str(BIN / "agent-os"), "demo", "--bus", durable_url, "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "actions blocked before they ran" in done.stdout


def _identities(tmp_path: Path) -> tuple[AgentIdentity, AgentIdentity, Path, Path]:
    kernel = AgentIdentity.create("kernel-cli", "kernel")
    agent = AgentIdentity.create("agent-cli", "agent")
    key = tmp_path / "kernel.key"
    kernel.save(key)
    registry = tmp_path / "registry.json"
    written = TrustRegistry(FileTrustStore(registry))
    written.register(kernel, TrustLevel.KERNEL)
    written.register(agent)
    return kernel, agent, key, registry


async def test_worker_command_serves_and_drains_on_sigterm(
    durable_url: str, bus: Bus, tmp_path: Path
) -> None:
    kernel, agent, key, registry = _identities(tmp_path)
    # Kafka and SQS have no store their workers share: one worker declares itself alone.
    env = {**os.environ, "AGENT_OS_SINGLE_REPLICA": "true"}
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "agent-os"), "worker", "--bus", durable_url, "--policy", "strict",
        "--key", str(key), "--registry", str(registry),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        client = KernelClient(bus, agent, [kernel.public()], timeout=30.0)

        async def served() -> Verdict | None:
            verdict = await client.check("file_read", {"path": "/srv/a"})
            return None if verdict.code == "no_responders" else verdict

        allowed = await eventually(served, 10.0, "the worker process subscribed", interval=0.1)
        denied = await client.check("sql", {"query": "TRUNCATE payments"})
        assert allowed.decision is Decision.ALLOW
        assert allowed.kernel_id == "kernel-cli"
        assert denied.decision is Decision.DENY and denied.rule is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()


async def test_killed_worker_requests_go_to_the_survivor(
    durable_url: str, bus: Bus, tmp_path: Path
) -> None:
    """kill -9 a worker holding unacked requests: each still gets one verdict."""
    backend = durable_url.split(":", 1)[0]
    _, agent, _, registry = _identities(tmp_path)
    doomed = AgentIdentity.create("kernel-doomed")
    doomed.save(tmp_path / "doomed.key")
    survivor = AgentIdentity.create("kernel-survivor")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "hold_worker.py"), durable_url,
        str(tmp_path / "doomed.key"), str(registry), str(ACK_WAIT[backend]),
        stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    survivor_bus: Bus | None = None
    try:
        await asyncio.wait_for(read_lines(proc, "ready", 1), 60)
        client = KernelClient(bus, agent, [doomed.public(), survivor.public()], timeout=60.0)
        n = 6
        pending = [
            asyncio.ensure_future(client.check("file_read", {"path": f"/data/{i}"}))
            for i in range(n)
        ]
        # Every request is taken by the only worker, which holds it unacked.
        held = await asyncio.wait_for(read_lines(proc, "held", n), 60)
        assert len(held) == n
        assert not any(p.done() for p in pending)

        survivor_bus = await connect(durable_url)
        worker = Worker(
            survivor_bus,
            identity=survivor,
            registry=TrustRegistry(FileTrustStore(registry)),
            policies=load_policy({"name": "hold", "blocked_actions": [
                {"action": "file_read", "signal": "SIGSTOP"}]}),
            options=SubscribeOptions(ack_wait=ACK_WAIT[backend], max_deliver=5),
            approver=AutoApprove(),
        )  # fmt: skip
        await worker.start()
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        verdicts = await asyncio.wait_for(asyncio.gather(*pending), 60)
        assert {v.decision for v in verdicts} == {Decision.ALLOW}
        assert {v.kernel_id for v in verdicts} == {"kernel-survivor"}
        assert {v.code for v in verdicts} == {"review_approved"}
        assert len({v.request_id for v in verdicts}) == n
        await worker.shutdown()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if survivor_bus is not None:
            await survivor_bus.close()
