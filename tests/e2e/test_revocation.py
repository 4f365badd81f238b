"""Revocation and key rotation as signed control events, on real NATS and Redis.

Each worker keeps a private in-memory registry, so the only way it can learn
of a change is the control event: ``agent-os trust revoke`` writes the shared
registry file and publishes the event; every worker must deny the agent
within one second. Forged events are ignored.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_os.adapters import KernelClient
from agent_os.adapters._cli import main
from agent_os.bus import Bus, Envelope, connect
from agent_os.kernel_worker import (
    CONTROL_SUBJECT,
    ControlEvent,
    Decision,
    Worker,
    load_policy,
    publish_control,
)
from agent_os.trust import (
    AgentIdentity,
    FileTrustStore,
    TrustLevel,
    TrustRegistry,
)
from tests.eventually import eventually
from tests.servers import Servers

WORKERS = 2
DEADLINE = 1.0


@dataclass
class Fleet:
    url: str
    agent: AgentIdentity
    admin: AgentIdentity
    admin_key: Path
    registry_file: Path
    workers: list[Worker]
    registries: list[TrustRegistry]
    subjects: list[str]
    bus: Bus

    def client(self, identity: AgentIdentity, n: int) -> KernelClient:
        kernel = self.workers[n]._identity.public()
        return KernelClient(self.bus, identity, [kernel], subject=self.subjects[n], timeout=10)

    async def verdicts(self, identity: AgentIdentity) -> list[tuple[Decision, str]]:
        out = []
        for n in range(len(self.workers)):
            v = await self.client(identity, n).check("file_read", {"path": "/srv/report"})
            out.append((v.decision, v.code))
        return out


@pytest.fixture(params=["nats", "redis"])
async def fleet(
    request: pytest.FixtureRequest, servers: Servers, tmp_path: Path
) -> AsyncIterator[Fleet]:
    url = servers.bus_url(request.param)
    tag = uuid.uuid4().hex[:8]
    agent = AgentIdentity.create(f"agent-{tag}")
    admin = AgentIdentity.create(f"admin-{tag}")
    admin_key = tmp_path / "admin.key"
    admin.save(admin_key)
    registry_file = tmp_path / "registry.json"
    shared = TrustRegistry(FileTrustStore(registry_file))
    shared.register(agent)
    shared.register(admin, TrustLevel.ADMIN)
    policy = load_policy("strict")
    workers, registries, subjects, buses = [], [], [], []
    for n in range(WORKERS):
        registry = TrustRegistry()  # private: only the event can change it
        registry.register(agent)
        registry.register(admin, TrustLevel.ADMIN)
        bus = await connect(url)
        subject = f"agentos.v1.action.rev-{tag}-{n}"
        worker = Worker(
            bus,
            identity=AgentIdentity.create(f"kernel-{tag}-{n}"),
            registry=registry,
            policies=policy,
            subject=subject,
            publish_audit=False,
        )
        await worker.start()
        workers.append(worker)
        registries.append(registry)
        subjects.append(subject)
        buses.append(bus)
    agent_bus = await connect(url)
    try:
        yield Fleet(
            url, agent, admin, admin_key, registry_file, workers, registries, subjects, agent_bus
        )
    finally:
        for worker in workers:
            await worker.shutdown()
        for bus in [*buses, agent_bus]:
            await bus.close()


async def run_cli(*args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


async def test_revoke_reaches_every_worker_within_a_second(fleet: Fleet) -> None:
    assert await fleet.verdicts(fleet.agent) == [(Decision.ALLOW, "ok")] * WORKERS
    started = time.monotonic()
    cli = asyncio.ensure_future(
        run_cli(
            "trust", "revoke", fleet.agent.agent_id, "--reason", "key leaked",
            "--registry", str(fleet.registry_file),
            "--bus", fleet.url, "--key", str(fleet.admin_key),
        )
    )  # fmt: skip
    await eventually(
        lambda: all(r.level(fleet.agent.agent_id) is TrustLevel.NONE for r in fleet.registries),
        DEADLINE,
        "revocation on every worker",
    )
    latency = time.monotonic() - started
    output = await cli
    print(f"\nrevoked on {WORKERS} workers {latency * 1000:.0f} ms after the CLI started")
    assert '"published": true' in output
    assert latency <= DEADLINE
    assert await fleet.verdicts(fleet.agent) == [(Decision.DENY, "revoked")] * WORKERS
    entry = TrustRegistry(FileTrustStore(fleet.registry_file)).get(fleet.agent.agent_id)
    assert entry is not None and entry.revoked and entry.revoked_reason == "key leaked"


async def test_forged_revocations_are_ignored_and_logged(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_os.kernel.control")
    # A registered agent, a kernel key and an unregistered key all try to revoke.
    mallory = AgentIdentity.create("mallory")
    kernel_key = AgentIdentity.create("kernel-impostor")
    for registry in fleet.registries:
        registry.register(mallory)
        registry.register(kernel_key, TrustLevel.KERNEL)
    stranger = AgentIdentity.create(fleet.admin.agent_id)  # the admin's id, another key
    event = ControlEvent.revoke(fleet.agent.agent_id, "forged")
    for signer in (mallory, kernel_key, stranger):
        await publish_control(fleet.bus, signer, event)
    await fleet.bus.publish(Envelope(CONTROL_SUBJECT, b"not a signed message"))
    await eventually(
        lambda: all(w.control.ignored >= 4 for w in fleet.workers), 5, "forged events seen"
    )
    assert all(w.control.applied == 0 for w in fleet.workers)
    assert await fleet.verdicts(fleet.agent) == [(Decision.ALLOW, "ok")] * WORKERS
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "signer level STANDARD" in logged and "signer level KERNEL" in logged
    assert "bad_signature" in logged and "unreadable" in logged


async def test_rotation_retires_the_old_key_on_every_worker(fleet: Fleet) -> None:
    new = AgentIdentity.create(fleet.agent.agent_id)
    new_key = base64.b64encode(new.public_key).decode()
    started = time.monotonic()
    await run_cli(
        "trust", "rotate", fleet.agent.agent_id, "--public-key", new_key,
        "--registry", str(fleet.registry_file),
        "--bus", fleet.url, "--key", str(fleet.admin_key),
    )  # fmt: skip
    await eventually(
        lambda: all(
            (e := r.get(new.agent_id)) is not None and e.identity.public_key == new.public_key
            for r in fleet.registries
        ),
        DEADLINE,
        "rotation on every worker",
    )
    assert time.monotonic() - started <= DEADLINE + 1.0  # CLI start-up included
    assert await fleet.verdicts(fleet.agent) == [(Decision.DENY, "bad_signature")] * WORKERS
    assert await fleet.verdicts(new) == [(Decision.ALLOW, "ok")] * WORKERS
