"""Registry integrity with workers on real brokers.

The independent test copied an older registry file back and a revoked agent
was allowed again at once; a corrupt file made every request an
``internal_error`` with a traceback; a deleted file made every agent unknown.
Now the workers keep the last good copy, refuse an older serial, keep a seen
revocation, and say so in their readiness.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet_support import cli_worker, fleet, refused_worker, stop

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.kernel_worker import Decision, Worker
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


async def _registry_readiness(worker: Worker) -> bool | str | None:
    result = worker.health_checks()["registry"]()
    return result  # type: ignore[return-value]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_older_registry_file_does_not_undo_a_revocation(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        worker = await f.start_worker()
        client = await f.client()
        assert (await client.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        old = f.registry_file.read_bytes()
        TrustRegistry(FileTrustStore(f.registry_file)).revoke(f.agent.agent_id, "key leaked")
        assert (await client.check("file_read", {"path": "/srv/a"})).code == "revoked"

        f.registry_file.write_bytes(old)  # the older file comes back
        for _ in range(5):
            assert (await client.check("file_read", {"path": "/srv/a"})).code == "revoked"
        ready = await _registry_readiness(worker)
        assert isinstance(ready, str) and "went back from serial 2 to 1" in ready


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("damage", ["corrupt", "deleted"])
async def test_a_corrupt_or_deleted_registry_keeps_the_last_good_copy(
    backend: str, servers: Servers, tmp_path: Path, damage: str
) -> None:
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        worker = await f.start_worker()
        client = await f.client()
        assert (await client.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        assert await _registry_readiness(worker) is True
        good = f.registry_file.read_bytes()
        if damage == "corrupt":
            f.registry_file.write_bytes(good[: len(good) // 2])
        else:
            f.registry_file.unlink()

        verdicts = [await client.check("file_read", {"path": f"/srv/{i}"}) for i in range(5)]
        assert [v.decision for v in verdicts] == [Decision.ALLOW] * 5  # no internal_error
        ready = await _registry_readiness(worker)
        assert isinstance(ready, str) and "last good registry" in ready

        f.registry_file.write_bytes(good)
        assert (await client.check("file_read", {"path": "/srv/b"})).decision is Decision.ALLOW
        assert await _registry_readiness(worker) is True


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_restarted_worker_still_refuses_the_older_registry(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    """Revoke, stop the worker, copy the old file back: the restarted worker refuses it."""
    url = servers.bus_url(backend)
    agent, kernel = AgentIdentity.create("agent-restart"), AgentIdentity.create("kernel-restart")
    key, registry = tmp_path / "kernel.key", tmp_path / "registry.json"
    kernel.save(key)
    writer = TrustRegistry(FileTrustStore(registry))
    writer.register(kernel, TrustLevel.KERNEL)  # agent-os worker starts only with it
    writer.register(agent)
    old = registry.read_bytes()
    proc, _ = await cli_worker(url, key, registry)
    bus = await connect(url)
    try:
        client = KernelClient(bus, agent, [kernel.public()], timeout=10)
        assert (await client.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        TrustRegistry(FileTrustStore(registry)).revoke(agent.agent_id, "key leaked")
        codes = []
        while "revoked" not in codes:  # the worker looks at its file every 0.25 s
            codes.append((await client.check("file_read", {"path": "/srv/a"})).code)
            assert len(codes) < 200, codes
    finally:
        await bus.close()
        await stop(proc)
    assert proc.returncode == 0

    registry.write_bytes(old)  # the older file comes back while no worker runs
    out = await refused_worker(url, key, registry)
    serial = json.loads(old)["serial"]  # the revocation wrote the next one
    assert "(registry_rolled_back)" in out
    assert f"went back from serial {serial + 1} to {serial}" in out
