"""A forged registry serial cannot lock `agent-os worker` out of later registries.

The independent test wrote an unsigned copy of the registry with
``"serial": 999``: running workers made it their mark and refused every later
genuine file (a newly added agent denied ``unknown_agent``), and every
restarted worker refused to start (``registry_rolled_back``) until someone
deleted its state file. Now the jump is refused (the worker serves its last
good copy and says why), the genuine next file is taken, restarts work, and
a mark left by an older release is lowered with ``agent-os trust
reset-state``; a revocation stays revoked through all of it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fleet_support import BIN, cli_worker, refused_worker, stop

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


def _fleet_registry(
    tmp_path: Path,
) -> tuple[AgentIdentity, AgentIdentity, AgentIdentity, Path, Path]:
    """A kernel (key saved), ``billing-agent`` and ``agent-2`` revoked, in a new registry file.

    ``(kernel, agent, leaked, kernel key file, registry file)``.
    """
    agent, leaked = AgentIdentity.create("billing-agent"), AgentIdentity.create("agent-2")
    kernel = AgentIdentity.create("kernel-1")
    key, registry = tmp_path / "kernel.key", tmp_path / "registry.json"
    kernel.save(key)
    writer = TrustRegistry(FileTrustStore(registry))
    writer.register(kernel, TrustLevel.KERNEL)
    writer.register(agent)
    writer.register(leaked)
    writer.revoke("agent-2", "key leaked")
    return kernel, agent, leaked, key, registry


async def _codes(url: str, kernel: AgentIdentity, *agents: AgentIdentity) -> list[str]:
    bus = await connect(url)
    try:
        codes = []
        for agent in agents:
            client = KernelClient(bus, agent, [kernel.public()], timeout=10)
            codes.append((await client.check("file_read", {"path": "/srv/a"})).code)
        return codes
    finally:
        await bus.close()


async def _until(url: str, kernel: AgentIdentity, agent: AgentIdentity, code: str) -> None:
    """Ask until ``agent`` gets ``code``: the worker looks at its file every 0.25 s."""
    seen: list[str] = []
    while code not in seen:
        seen += await _codes(url, kernel, agent)
        assert len(seen) < 100, seen


async def _cli(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "agent-os"), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    return out.decode() + err.decode()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_forged_serial_neither_locks_out_the_next_registry_nor_restarts(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    kernel, agent, leaked, key, registry = _fleet_registry(tmp_path)
    later = AgentIdentity.create("agent-4")
    genuine = registry.read_bytes()
    serial = json.loads(genuine)["serial"]

    proc, log = await cli_worker(url, key, registry)
    try:
        assert await _codes(url, kernel, agent, leaked) == ["ok", "revoked"]
        forged = json.loads(genuine)
        forged["serial"] = 999
        forged["agents"] = [{**a, "revoked": False} for a in forged["agents"]]
        forged["agents"].append({**later.public().to_dict(), "level": "STANDARD"})
        registry.write_text(json.dumps(forged))

        async def refused() -> bool:  # each request makes the worker look at its file
            codes = await _codes(url, kernel, agent, leaked, later)
            assert codes == ["ok", "revoked", "unknown_agent"], codes
            return any(f"jumped from serial {serial} to 999" in line for line in log)

        await eventually(refused, 30, "the forged jump refused and logged")

        registry.write_bytes(genuine)  # the operator restores the file and adds agent-4
        await _cli(
            "trust", "add", "agent-4", "--public-key", _b64(later), "--registry", str(registry)
        )
        await _until(url, kernel, later, "ok")
    finally:
        await stop(proc)
    assert json.loads((tmp_path / "registry.json.state").read_text())["serial"] == serial + 1

    proc, _ = await cli_worker(url, key, registry)  # a restart starts
    try:
        assert await _codes(url, kernel, agent, leaked, later) == ["ok", "revoked", "ok"]
    finally:
        await stop(proc)


@pytest.mark.parametrize("backend", BACKENDS[:1])
async def test_reset_state_lets_a_locked_worker_start_and_keeps_the_revocation(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    """A state file holding serial 999 (taken by an older release): refused, reset, served."""
    url = servers.bus_url(backend)
    kernel, agent, leaked, key, registry = _fleet_registry(tmp_path)
    FileTrustStore(registry, state=tmp_path / "registry.json.state", max_step=10_000).all()
    state = tmp_path / "registry.json.state"
    locked = json.loads(state.read_text())
    state.write_text(json.dumps({**locked, "serial": 999}))
    # The file un-revokes agent-2 too: the state file's revocation must win after the reset.
    data = json.loads(registry.read_text())
    data["agents"] = [{**a, "revoked": False} for a in data["agents"]]
    registry.write_text(json.dumps({**data, "serial": data["serial"] + 1}))

    out = await refused_worker(url, key, registry)
    assert "(registry_rolled_back)" in out and "agent-os trust reset-state" in out
    said = await _cli("trust", "reset-state", "--registry", str(registry))
    assert f"reset from serial 999 to {data['serial'] + 1}" in said and "revocations kept" in said

    proc, _ = await cli_worker(url, key, registry)
    try:
        assert await _codes(url, kernel, agent, leaked) == ["ok", "revoked"]
    finally:
        await stop(proc)


def _b64(identity: AgentIdentity) -> str:
    return str(identity.public().to_dict()["public_key"])
