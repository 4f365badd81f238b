"""A second replica beside a worker declared the only one is detected, on SQS and Redis.

Where the bus has no store its workers share (SQS), a worker may keep nonces
in its own memory only if it is the only replica (``AGENT_OS_SINGLE_REPLICA``).
Before, two workers that both declared it each kept their own replay memory
and nothing said so. Now each worker announces itself on the presence subject
(fan-out, carried by every backend) and hears the others: a single-replica
worker refuses to start beside a live peer and fails readiness when one
appears later; a lone worker starts and is ready.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fleet_support import BIN, cli_worker, fleet, stop

from agent_os.kernel_worker import Decision, PresenceOptions, Worker
from agent_os.kernel_worker._startup import StartupRefused
from agent_os.trust import (
    AgentIdentity,
    FileTrustStore,
    MemoryNonceStore,
    TrustLevel,
    TrustRegistry,
)
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("sqs", "redis"))
#: Fast announcements for tests; a single replica listens for peers this long before serving.
FAST = PresenceOptions(single_replica=True, interval=0.5, wait=1.0)


async def _ready(worker: Worker) -> bool | str:
    return worker.health_checks()["replicas"]()  # type: ignore[return-value]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_lone_single_replica_worker_starts_and_is_ready(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        worker = await f.start_worker(presence=FAST, nonces=MemoryNonceStore())
        assert await _ready(worker) is True
        verdict = await (await f.client()).check("file_read", {"path": "/srv/a"})
        assert verdict.decision is Decision.ALLOW
        assert worker.presence is not None and worker.presence.peers() == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_second_single_replica_worker_refuses_to_start(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        first = await f.start_worker(presence=FAST, nonces=MemoryNonceStore())
        patient = PresenceOptions(single_replica=True, interval=0.5, wait=30.0)
        with pytest.raises(StartupRefused) as refused:
            await f.start_worker(presence=patient, nonces=MemoryNonceStore())
        assert refused.value.code == "second_replica"
        assert "kernel-fleet/" in str(refused.value) and "also declares itself" in str(
            refused.value
        )
        assert len(f.workers) == 1  # the second never consumed
        # The refused worker said it was leaving: the first serves alone again.
        await eventually(lambda: _ready(first), 30, "the first worker ready again")
        verdict = await (await f.client()).check("file_read", {"path": "/srv/a"})
        assert verdict.decision is Decision.ALLOW


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_replica_that_appears_later_fails_the_single_ones_readiness(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        single = await f.start_worker(presence=FAST, nonces=MemoryNonceStore())
        assert await _ready(single) is True
        # A replica that does not declare a single replica starts (nothing stops it) ...
        other = await f.start_worker(presence=PresenceOptions(interval=0.5))
        assert await _ready(other) is True

        async def not_ready() -> str | None:
            ready = await _ready(single)
            return ready if isinstance(ready, str) else None

        # ... and the single-replica worker stops being ready, saying why.
        why = await eventually(not_ready, 30, "the single replica not ready")
        assert "AGENT_OS_SINGLE_REPLICA is declared" in why and f.subject in why
        assert "AGENT_OS_NONCE_URL" in why

        await other.shutdown()  # it leaves: the single replica is ready again
        await eventually(lambda: _ready(single), 30, "the single replica ready again")


async def test_announcements_count_only_from_kernel_keys(tmp_path: Path) -> None:
    """A key that is not this worker's, nor a KERNEL key of the registry, is ignored."""
    from agent_os.bus import connect
    from agent_os.kernel_worker._presence import PRESENCE_RECIPIENT, Presence
    from agent_os.trust import SignedMessage, TrustLevel

    kernel, other, agent = (AgentIdentity.create(n) for n in ("k-1", "k-2", "agent-p"))
    registry = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    registry.register(agent)
    bus = await connect("memory://presence")
    try:
        presence = Presence(bus, kernel, registry, subject="s", group="g", options=FAST)

        def announce(signer: AgentIdentity, instance: str) -> bool:
            content = {"instance": instance, "subject": "s", "group": "g",
                       "single_replica": False, "started": 1.0, "interval": 0.5}  # fmt: skip
            body = SignedMessage.create(signer, PRESENCE_RECIPIENT, content).to_bytes()
            presence.handle(body)
            return bool(presence.peers())

        assert not announce(agent, "a1")  # an agent's key
        assert not announce(other, "a2")  # a kernel key nobody registered
        assert presence.ready() is True
        registry.register(other, TrustLevel.KERNEL)
        assert announce(other, "a3")
        assert isinstance(presence.ready(), str)
        assert presence.ignored == 2
    finally:
        await bus.close()


@pytest.mark.parametrize("backend", selected_backends(("sqs",)))
async def test_two_agent_os_workers_declaring_a_single_replica(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    """The README's commands twice with AGENT_OS_SINGLE_REPLICA=true: the second exits."""
    url = servers.bus_url(backend)
    kernel = AgentIdentity.create("kernel-single")
    key, registry = tmp_path / "kernel.key", tmp_path / "registry.json"
    kernel.save(key)
    written = TrustRegistry(FileTrustStore(registry))
    written.register(kernel, TrustLevel.KERNEL)
    written.register(AgentIdentity.create("agent-single"))
    env = {"AGENT_OS_SINGLE_REPLICA": "true"}
    first, lines = await cli_worker(url, key, registry, env=env)
    try:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_OS_")}
        args = ["worker", "--bus", url, "--key", str(key), "--registry", str(registry)]
        second = await asyncio.create_subprocess_exec(
            str(BIN / "agent-os"), *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env={**clean, **env},
        )  # fmt: skip
        out, _ = await asyncio.wait_for(second.communicate(), 120)
        assert second.returncode == 1, out.decode()
        assert b"refusing to start (second_replica)" in out
        assert b"consuming agentos.v1.action" not in out
        await eventually(
            lambda: any("not ready: AGENT_OS_SINGLE_REPLICA" in line for line in lines),
            30,
            "the first worker logging the second",
        )
    finally:
        await stop(first)
    assert first.returncode == 0
