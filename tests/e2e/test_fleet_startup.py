"""``agent-os worker`` refuses, at start, a configuration that would serve nobody.

Each case the independent test found starting quietly — no ``--bus``, a
missing or corrupt registry, an agent's key as the kernel key, an unreachable
nonce store — now ends the command at once with what to set (exit 1, or 2 for
a usage error) before it takes a request. The startup log of a worker that
does start names the bus, the nonce store, the registry and the policy hash.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fleet_support import cli_worker, stop

from agent_os.adapters._cli import main
from agent_os.kernel_worker import Decision
from agent_os.policies import load_policy
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.servers import Servers, free_port, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, AgentIdentity]:
    kernel = AgentIdentity.create("kernel-start")
    agent = AgentIdentity.create("agent-start")
    kernel.save(tmp_path / "kernel.key")
    agent.save(tmp_path / "agent.key")
    registry = tmp_path / "registry.json"
    written = TrustRegistry(FileTrustStore(registry))
    written.register(kernel, TrustLevel.KERNEL)
    written.register(agent)
    return tmp_path / "kernel.key", registry, agent


def _run(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["worker", *args], env={"AGENT_OS_BUS_URL": None, **(env or {})}
    )
    return result.exit_code, result.output


def test_no_bus_is_refused(files: tuple[Path, Path, AgentIdentity]) -> None:
    key, registry, _ = files
    code, out = _run(["--key", str(key), "--registry", str(registry)])
    assert code == 2
    assert "needs --bus URL" in out


def test_an_in_process_bus_is_refused(files: tuple[Path, Path, AgentIdentity]) -> None:
    key, registry, _ = files
    code, out = _run(["--bus", "memory://", "--key", str(key), "--registry", str(registry)])
    assert code == 2
    assert "would reach" in out or "no agent could reach" in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_registry_is_refused(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity]
) -> None:
    key, registry, _ = files
    gone = registry.with_name("nowhere.json")
    code, out = _run(["--bus", servers.bus_url(backend), "--key", str(key),
                      "--registry", str(gone)])  # fmt: skip
    assert code == 1
    assert "(registry_missing)" in out and "nowhere.json does not exist" in out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("garbage", [b"{not json", b'{"agents": 3}', b"\xff\xfe", b""])
def test_a_corrupt_registry_is_refused(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity], garbage: bytes
) -> None:
    key, registry, _ = files
    registry.write_bytes(garbage)
    code, out = _run(["--bus", servers.bus_url(backend), "--key", str(key),
                      "--registry", str(registry)])  # fmt: skip
    assert code == 1
    assert "(registry_corrupt)" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_agents_key_as_the_kernel_key_is_refused(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity]
) -> None:
    _, registry, _ = files
    agent_key = registry.with_name("agent.key")
    code, out = _run(["--bus", servers.bus_url(backend), "--key", str(agent_key),
                      "--registry", str(registry)])  # fmt: skip
    assert code == 1
    assert "(kernel_key_is_agent_key)" in out and "'agent-start'" in out


def test_a_kernel_key_registered_as_a_kernel_is_accepted(
    files: tuple[Path, Path, AgentIdentity],
) -> None:
    from agent_os.kernel_worker._startup import check_kernel_key, open_registry

    key, registry, _ = files
    kernel = AgentIdentity.load(key)
    TrustRegistry(FileTrustStore(registry)).register(kernel, TrustLevel.KERNEL)
    check_kernel_key(open_registry(registry, recheck=0), kernel.public())  # does not raise


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unreachable_nonce_store_is_refused(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity]
) -> None:
    key, registry, _ = files
    dead = f"{backend}://127.0.0.1:{free_port()}"
    code, out = _run(
        ["--bus", servers.bus_url(backend), "--key", str(key), "--registry", str(registry)],
        env={"AGENT_OS_NONCE_URL": dead},
    )
    assert code == 1
    assert "(nonce_store_unavailable)" in out


@pytest.mark.parametrize(
    "bus", ["sqs://us-east-1/x?endpoint_url=http://127.0.0.1:9", "kafka://127.0.0.1:9"]
)
def test_kafka_or_sqs_without_a_shared_nonce_store_is_refused(
    bus: str, files: tuple[Path, Path, AgentIdentity]
) -> None:
    key, registry, _ = files
    code, out = _run(["--bus", bus, "--key", str(key), "--registry", str(registry)])
    assert code == 1
    assert "(no_shared_nonce_store)" in out
    assert "AGENT_OS_NONCE_URL" in out and "AGENT_OS_SINGLE_REPLICA" in out


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_startup_log_names_bus_nonce_store_registry_and_policy(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity]
) -> None:
    key, registry, _ = files
    url = servers.bus_url(backend)
    proc, lines = await cli_worker(url, key, registry, policy="strict")
    try:
        startup = next(line for line in lines if "nonce store" in line)
        store = "JetStream KV" if backend == "nats" else "Redis"
        assert f"bus {url}" in startup
        assert f"nonce store {store}" in startup and "(from the bus)" in startup
        assert f"registry {registry} (2 agents)" in startup
        assert load_policy("strict").content_hash in startup
        assert not any("covers this worker only" in line for line in lines)
    finally:
        await stop(proc)
    assert proc.returncode == 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_nonce_store_that_stops_answering_fails_readiness(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    """After a good start, a store that goes away shows in readiness, not only in denies."""
    from fleet_support import fleet

    from agent_os.kernel_worker._startup import plan_nonce_store

    dead = plan_nonce_store(f"{backend}://127.0.0.1:{free_port()}")
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        worker = await f.start_worker(nonces=dead.store)
        ready = await worker.health_checks()["nonce_store"]()  # type: ignore[misc]
        assert isinstance(ready, str) and "nonce store unavailable" in ready
        verdict = await (await f.client()).check("file_read", {"path": "/srv/a"})
        assert (verdict.decision, verdict.code) == (Decision.DENY, "nonce_store_unavailable")
    close = getattr(dead.store, "close", None)
    if close is not None:
        await close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_registry_signer_is_enforced_at_start_and_after(
    backend: str, servers: Servers, files: tuple[Path, Path, AgentIdentity]
) -> None:
    """With AGENT_OS_REGISTRY_SIGNERS an unsigned registry is refused; a signed one serves."""
    key, registry, _ = files
    admin = AgentIdentity.create("admin-reg")
    admin.save(registry.with_name("admin.key"))
    TrustRegistry(FileTrustStore(registry)).register(admin, TrustLevel.ADMIN)
    signer_file = registry.with_name("admin.pub.json")
    signer_file.write_text(json.dumps(admin.public().to_dict()))
    env = {"AGENT_OS_REGISTRY_SIGNERS": str(signer_file)}
    url = servers.bus_url(backend)

    code, out = _run(["--bus", url, "--key", str(key), "--registry", str(registry)], env=env)
    assert code == 1 and "(registry_corrupt)" in out and "not signed" in out

    admin_key = str(registry.with_name("admin.key"))
    signed = CliRunner().invoke(
        main, ["trust", "sign", "--registry", str(registry), "--key", admin_key]
    )
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.output)["signed_by"] == "admin-reg"
    proc, lines = await cli_worker(url, key, registry, env=env)
    try:
        assert any("nonce store" in line for line in lines)
    finally:
        await stop(proc)
    assert proc.returncode == 0
