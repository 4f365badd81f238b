"""``agent-os worker`` refuses a kernel key its registry does not hold at level KERNEL.

Agents pin kernel keys from the registry: a worker whose key is not there (a
key made without ``--kernel``, a new key rolled out before it was registered
and pinned, a revoked one) would have every verdict it signs dropped, and
its share of the traffic would turn into timeouts. It now refuses at start
with ``kernel_key_unregistered``; ``AGENT_OS_ALLOW_UNREGISTERED_KERNEL_KEY``
starts it anyway, with a warning in its log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_support import cli_worker, refused_worker, stop

from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


def _files(tmp_path: Path) -> tuple[AgentIdentity, Path, TrustRegistry, Path]:
    kernel = AgentIdentity.create("kernel-new")
    key, registry = tmp_path / "kernel.key", tmp_path / "registry.json"
    kernel.save(key)
    written = TrustRegistry(FileTrustStore(registry))
    written.register(AgentIdentity.create("agent-1"))
    return kernel, key, written, registry


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_key_the_registry_does_not_hold_is_refused(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    kernel, key, _, registry = _files(tmp_path)
    out = await refused_worker(servers.bus_url(backend), key, registry)
    assert "(kernel_key_unregistered)" in out
    assert "'kernel-new'" in out and kernel.fingerprint in out and "Traceback" not in out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_kernel_id_registered_with_another_key_or_revoked_is_refused(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    _, key, written, registry = _files(tmp_path)
    # The registry holds kernel-new, but with the key before a rotation.
    written.register(AgentIdentity.create("kernel-new").public(), TrustLevel.KERNEL)
    assert "(kernel_key_unregistered)" in await refused_worker(url, key, registry)
    revoked = tmp_path / "revoked"
    revoked.mkdir()
    _, key, written, registry = _files(revoked)
    written.register(AgentIdentity.load(key), TrustLevel.KERNEL)
    written.revoke("kernel-new", "key leaked")
    assert "(kernel_key_unregistered)" in await refused_worker(url, key, registry)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_opt_out_starts_with_a_warning(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    kernel, key, _, registry = _files(tmp_path)
    env = {"AGENT_OS_ALLOW_UNREGISTERED_KERNEL_KEY": "true"}
    proc, lines = await cli_worker(servers.bus_url(backend), key, registry, env=env)
    try:
        warning = next(line for line in lines if "not registered at level KERNEL" in line)
        assert "'kernel-new'" in warning and kernel.fingerprint in warning
    finally:
        await stop(proc)
