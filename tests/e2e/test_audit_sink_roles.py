"""The audit sink's key signs chain heads, never records; a stale registry is named.

The independent test stored a decision record signed by the sink's own key
(a KERNEL key, in its own name) and ``audit verify`` called the chain intact;
and a sink whose registry was stuck on an old copy dead-lettered a console's
review decision as a bad signature, with no trace anywhere an operator looks.
Now a batch signed by the sink's key is dead-lettered ``audit_signer_is_sink``
whatever that key's level, an ``AUDITOR`` key signs heads and nothing else,
and a batch refused while the registry serves its last good copy is
dead-lettered ``audit_registry_stale`` and fails the sink's readiness.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_support import FAST, audit_event

from agent_os.audit._heads import HeadLog, trusted_heads
from agent_os.audit._signed import AuditStream
from agent_os.bus import (
    ERROR_CODE_HEADER,
    Bus,
    Delivery,
    Envelope,
    connect,
    new_id,
)
from agent_os.kernel_worker import (
    AuditEvent,
    AuditSinkWorker,
    ControlEvent,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.kernel_worker._control import ControlListener
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


def _event(kernel_id: str, review: str | None = None) -> AuditEvent:
    return audit_event(kernel_id, "allow", agent_id="billing-agent", review=review)


async def _dead_letters(bus: Bus, subject: str) -> list[Delivery]:
    dead: list[Delivery] = []

    async def on_dead(d: Delivery) -> None:
        dead.append(d)

    await bus.subscribe(f"{subject}.dlq", on_dead, group=f"dlq-{new_id()[:6]}")
    return dead


@pytest.mark.parametrize("level", [TrustLevel.KERNEL, TrustLevel.AUDITOR])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_sink_key_cannot_write_records_and_its_heads_verify(
    backend: str, level: TrustLevel, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    kernel, sink_key = AgentIdentity.create("kernel-1"), AgentIdentity.create("sink-1")
    registry = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    registry.register(kernel, TrustLevel.KERNEL)
    registry.register(sink_key, level)  # KERNEL: what deploy.md said before AUDITOR
    store, heads = SqliteAuditStore(tmp_path / "audit.db"), HeadLog(tmp_path / "heads.log")
    bus = await connect(url)
    dead = await _dead_letters(bus, subject)
    sink = AuditSinkWorker(
        bus, store, subject=subject, options=FAST, kernels=registry,
        head_signer=sink_key, head_log=heads, head_interval=60.0,
    )  # fmt: skip
    await sink.start()
    try:
        # "billing-agent was allowed sql", signed by the sink's key in its own name.
        await bus.publish(Envelope(subject, AuditStream(sink_key).sign([_event("sink-1")])))
        await bus.publish(Envelope(subject, AuditStream(kernel).sign([_event("kernel-1")])))
        await eventually(
            lambda: sink.appended == 1 and len(dead) == 1, 20.0, "one stored, one refused"
        )
    finally:
        await sink.shutdown()  # signs the last head
        await bus.close()
    want = "audit_signer_is_sink" if level is TrustLevel.KERNEL else "bad_audit_signature"
    assert dead[0].envelope.headers[ERROR_CODE_HEADER] == want
    records = list(store.records())
    store.close()
    assert [r.event.kernel_id for r in records] == ["kernel-1"]
    good, bad = trusted_heads(heads.read(), registry)
    assert good == [(records[-1].seq, records[-1].hash)] and bad == []
    assert verify_chain(records, expect_heads=good).ok


async def test_a_batch_refused_by_a_stale_registry_is_named_and_fails_readiness(
    servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url("nats")
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    kernel, console = AgentIdentity.create("kernel-1"), AgentIdentity.create("console-1")
    path = tmp_path / "registry.json"
    TrustRegistry(FileTrustStore(path)).register(kernel, TrustLevel.KERNEL)
    registry = TrustRegistry(FileTrustStore(path))
    registry.store.all()
    store = SqliteAuditStore(tmp_path / "audit.db")
    bus = await connect(url)
    dead = await _dead_letters(bus, subject)
    sink = AuditSinkWorker(bus, store, subject=subject, options=FAST, kernels=registry)
    await sink.start()
    ready = sink.health_checks()["registry"]
    try:
        assert await ready() is True
        # A forged serial jump: the sink keeps its last good copy, without console-1.
        forged = json.loads(path.read_text())
        forged["serial"] = 999
        forged["agents"].append({**console.public().to_dict(), "level": "REVIEWER"})
        path.write_text(json.dumps(forged))
        review = AuditStream(console).sign([_event("console-1", "approved")])
        await bus.publish(Envelope(subject, review))
        await eventually(lambda: len(dead) == 1, 20.0, "the review record dead-lettered")
        assert dead[0].envelope.headers[ERROR_CODE_HEADER] == "audit_registry_stale"
        status = await ready()
        assert isinstance(status, str) and "jumped from serial 1 to 999" in status

        # The operator writes the genuine next registry; the dead letter is published again.
        genuine = TrustRegistry(FileTrustStore(path))
        path.write_text(json.dumps({**forged, "serial": 1, "agents": forged["agents"][:1]}))
        genuine.register(console.public(), TrustLevel.REVIEWER)
        assert await ready() is True
        await bus.publish(Envelope(subject, dead[0].envelope.body))
        await eventually(lambda: sink.appended == 1, 20.0, "the review record stored")
    finally:
        await sink.shutdown()
        await bus.close()
    assert [r.event.kernel_id for r in store.records()] == ["console-1"]
    store.close()


def test_a_sink_or_kernel_key_cannot_sign_control_events(tmp_path: Path) -> None:
    registry = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    agent = AgentIdentity.create("billing-agent")
    registry.register(agent)
    signers = {level: AgentIdentity.create(f"k-{level.name}") for level in TrustLevel}
    for level, key in signers.items():
        if level is not TrustLevel.NONE:
            registry.register(key, level)
    listener = ControlListener(registry)
    event = ControlEvent.revoke("billing-agent", "by a sink key")
    for level in (TrustLevel.AUDITOR, TrustLevel.KERNEL, TrustLevel.REVIEWER):
        assert not listener.handle(event.sign(signers[level]))
    assert registry.level("billing-agent") is TrustLevel.STANDARD
    assert listener.handle(event.sign(signers[TrustLevel.ADMIN]))  # only an admin's
    assert registry.level("billing-agent") is TrustLevel.NONE
