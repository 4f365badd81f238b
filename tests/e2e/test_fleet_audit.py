"""Audit integrity on real brokers: forged events refused, stolen events reported.

The independent test published one unauthenticated "allow by kernel-1" on the
audit subject and it went into the sealed chain, which ``agent-os audit
verify`` still called intact; a rogue consumer took 54 of 300 events without
a trace. Now batches are signed by the deciding kernel and numbered per
worker: the sink dead-letters what is not signed by a kernel key of its
registry, and writes a gap record where numbers are missing, which
``audit verify`` reports.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from audit_support import FAST, audit_event
from fleet_support import Fleet, fleet

from agent_os.audit._heads import HeadLog, SignedHead
from agent_os.audit._signed import AuditStream
from agent_os.bus import ERROR_CODE_HEADER, Bus, Delivery, Envelope, connect, new_id
from agent_os.kernel_worker import (
    AuditEvent,
    AuditSinkWorker,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


async def _sink(f: Fleet, store: SqliteAuditStore, subject: str) -> tuple[Bus, AuditSinkWorker]:
    """A started sink on a bus of its own that trusts the fleet's kernel; both closed with ``f``."""
    kernels = TrustRegistry()
    kernels.pin(f.kernel.public())
    bus = await f.connect()
    sink = AuditSinkWorker(bus, store, subject=subject, options=FAST, kernels=kernels)
    await sink.start()
    f.stack.push_async_callback(sink.shutdown)
    return bus, sink


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_forged_audit_event_is_refused_and_real_ones_are_stored(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    store = SqliteAuditStore(tmp_path / "audit.db")
    async with fleet(url, tmp_path) as f:
        rogue = await f.connect()
        dead: list[Delivery] = []

        async def on_dead(d: Delivery) -> None:
            dead.append(d)

        await rogue.subscribe(f"{subject}.dlq", on_dead, group=f"dlq-{new_id()[:6]}")
        _, sink = await _sink(f, store, subject)

        # The forgeries: unsigned, signed by a rogue key claiming the kernel's id, and
        # signed by a registered agent's key.
        forged = json.dumps(audit_event(f.kernel.agent_id, "allow").to_dict()).encode()
        impostor = AgentIdentity.create(f.kernel.agent_id)
        await rogue.publish(Envelope(subject, forged))
        await rogue.publish(
            Envelope(subject, AuditStream(impostor).sign([audit_event(impostor.agent_id, "allow")]))
        )
        await rogue.publish(
            Envelope(subject, AuditStream(f.agent).sign([audit_event(f.agent.agent_id, "allow")]))
        )
        # The real thing: the kernel's own signed batch.
        real = AuditStream(f.kernel)
        await rogue.publish(Envelope(subject, real.sign([audit_event(f.kernel.agent_id, "allow")])))

        await eventually(
            lambda: sink.appended == 1 and sink.rejected == 3 and len(dead) == 3,
            20.0,
            "one stored, three refused and dead-lettered",
        )
        codes = sorted(d.envelope.headers[ERROR_CODE_HEADER] for d in dead)
        assert codes == ["bad_audit_signature", "bad_audit_signature", "unsigned_audit"]
        records = list(store.records())
        assert [r.event.kernel_id for r in records] == [f.kernel.agent_id]
        assert verify_chain(records).ok
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_stolen_audit_batch_shows_as_a_gap_in_verify(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    store = SqliteAuditStore(tmp_path / "audit.db")
    async with fleet(url, tmp_path) as f:
        bus, sink = await _sink(f, store, subject)
        stream = AuditStream(f.kernel)
        first = [audit_event(f.kernel.agent_id, "allow") for _ in range(3)]
        stolen = [audit_event(f.kernel.agent_id, "allow") for _ in range(2)]
        last = [audit_event(f.kernel.agent_id, "allow")]
        await bus.publish(Envelope(subject, stream.sign(first)))
        await eventually(lambda: sink.appended == 3, 20.0, "three events stored")
        stream.sign(stolen)  # numbered 4..5 and taken off the bus by someone else
        await bus.publish(Envelope(subject, stream.sign(last)))
        await eventually(lambda: sink.appended == 5, 20.0, "the event and a gap record")

        report = verify_chain(store.records())
        assert not report.ok
        assert [(p.code, p.seq) for p in report.problems] == [("gap", 4)]
        assert "audit events 4..5 of stream" in report.problems[0].detail
        assert sink.gaps == 1
    store.close()


AGENT_OS = str(Path(sys.executable).parent / "agent-os")


def _verify(db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENT_OS, "audit", "verify", "--sqlite", str(db), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("backend", BACKENDS)
async def test_signed_heads_catch_a_cut_and_a_resealed_chain(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    db, heads, registry_file = tmp_path / "audit.db", tmp_path / "heads.log", tmp_path / "reg.json"
    kernel, sink_key = AgentIdentity.create("kernel-h"), AgentIdentity.create("audit-sink-1")
    registry = TrustRegistry(FileTrustStore(registry_file))
    registry.register(kernel, TrustLevel.KERNEL)
    registry.register(sink_key, TrustLevel.ADMIN)
    store = SqliteAuditStore(db)
    bus = await connect(url)
    sink = AuditSinkWorker(
        bus, store, subject=subject, options=FAST, kernels=registry,
        head_signer=sink_key, head_log=HeadLog(heads), head_interval=0.05,
    )  # fmt: skip
    await sink.start()
    events = [audit_event(kernel.agent_id, "allow") for _ in range(5)]
    try:
        await bus.publish(Envelope(subject, AuditStream(kernel).sign(events)))
        await eventually(lambda: sink.appended == 5, 20.0, "five records stored")
    finally:
        await sink.shutdown()  # signs the last head
        await bus.close()
        store.close()
    assert HeadLog(heads).read()[-1].seq == 5

    checks = ["--heads", str(heads), "--registry", str(registry_file)]
    assert _verify(db, *checks).returncode == 0

    # A cut tail: the chain alone still verifies, the signed head does not.
    cut = tmp_path / "cut.db"
    shutil.copy(db, cut)
    with sqlite3.connect(cut) as conn:
        table = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchone()[0]
        conn.execute(f"DELETE FROM {table} WHERE seq >= 4")
    assert _verify(cut).returncode == 0
    done = _verify(cut, *checks)
    assert done.returncode == 1 and "is missing (cut)" in done.stdout

    # A resealed chain: record 2 rewritten and every hash recomputed.
    forged = [*events[:1], AuditEvent(**{**events[1].to_dict(), "decision": "deny"}), *events[2:]]
    resealed = tmp_path / "resealed.db"
    with SqliteAuditStore(resealed) as rewritten:
        rewritten.append_many(forged)
    assert _verify(resealed).returncode == 0
    done = _verify(resealed, *checks)
    assert done.returncode == 1 and "has another hash (resealed)" in done.stdout

    # A head signed by a key the registry does not know is reported, not trusted.
    with heads.open("a") as f:
        rogue = SignedHead.sign(AgentIdentity.create("audit-sink-1"), 5, "0" * 64)
        f.write(json.dumps(dataclasses.asdict(rogue)) + "\n")
    done = _verify(db, *checks)
    assert done.returncode == 1 and "not signed by a key of the registry" in done.stdout
