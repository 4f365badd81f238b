"""Gaps in a worker's audit numbering are judged from the store, not one sink's memory.

The sink used to remember each worker's next event number in memory: a sink
restarted (or a second sink on the same store) took the first batch it saw
from a worker as the start, so events taken off the bus across the restart
left no trace. Now the SQL stores keep each stream's next number in the same
transaction as its events, and ``agent-os audit verify`` reports the gap.
Real brokers, the real SQLite file and the embedded PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_support import FAST, audit_event

from agent_os.audit._signed import AuditStream
from agent_os.bus import Envelope, connect, new_id
from agent_os.kernel_worker import (
    AuditSinkWorker,
    PostgresAuditStore,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))
AGENT_OS = str(Path(sys.executable).parent / "agent-os")
Store = SqliteAuditStore | PostgresAuditStore


def _kernel(kernel_id: str) -> tuple[AgentIdentity, TrustRegistry, AuditStream]:
    """A kernel, a registry that pins it (the sink's), and the audit stream it signs."""
    kernel = AgentIdentity.create(kernel_id)
    kernels = TrustRegistry()
    kernels.pin(kernel.public())
    return kernel, kernels, AuditStream(kernel)


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(
    request: pytest.FixtureRequest, servers: Servers, tmp_path: Path
) -> Callable[[], Store]:
    """Opens the same store again each call, as a restarted sink process would."""
    if request.param == "sqlite":
        return lambda: SqliteAuditStore(tmp_path / "audit.db")
    dsn, table = servers.get("postgres").url, f"audit_{uuid.uuid4().hex[:12]}"
    return lambda: PostgresAuditStore(dsn, table=table)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_gap_across_a_sink_restart_is_reported(
    backend: str, servers: Servers, open_store: Callable[[], Store]
) -> None:
    url = servers.bus_url(backend)
    subject = f"agentos.v1.audit.t{new_id()[:8]}"
    kernel, kernels, stream = _kernel("kernel-gaps")
    bus = await connect(url)
    try:
        store = open_store()
        sink = AuditSinkWorker(bus, store, subject=subject, options=FAST, kernels=kernels)
        await sink.start()
        await bus.publish(Envelope(subject, stream.sign([audit_event(kernel.agent_id)])))
        await bus.publish(Envelope(subject, stream.sign([audit_event(kernel.agent_id)])))
        await eventually(lambda: sink.appended == 2, 20.0, "events 1..2 stored")
        await sink.shutdown()
        store.close()

        stream.sign([audit_event(kernel.agent_id) for _ in range(3)])  # 3..5, taken by someone else
        again = open_store()  # the sink restarted: a new process, the same store
        sink = AuditSinkWorker(bus, again, subject=subject, options=FAST, kernels=kernels)
        await sink.start()
        late = stream.sign([audit_event(kernel.agent_id)])  # 6
        await bus.publish(Envelope(subject, late))
        await eventually(lambda: sink.appended == 2, 20.0, "event 6 and a gap record")
        await bus.publish(Envelope(subject, late))  # redelivered: no second gap
        await eventually(lambda: sink.appended == 3, 20.0, "the redelivery seen")
        await sink.shutdown()
        assert sink.gaps == 1

        report = verify_chain(again.records())
        assert [(p.code, p.seq) for p in report.problems] == [("gap", 3)]
        assert f"audit events 3..5 of stream {stream.name}" in report.problems[0].detail
        assert again.streams() == {stream.name: 7}
        if isinstance(again, SqliteAuditStore):
            verify = await asyncio.create_subprocess_exec(
                AGENT_OS, "audit", "verify", "--sqlite", str(again.path),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out = (await asyncio.wait_for(verify.communicate(), 60))[0].decode()
            assert verify.returncode == 1, out
            assert "gap" in out and "audit events 3..5" in out
        again.close()
    finally:
        await bus.close()


def test_two_sinks_on_one_store_share_the_numbering(open_store: Callable[[], Store]) -> None:
    """Each store instance (a sink process) keeps the stream's numbers in the chain's
    transaction: one's batch continues the other's, a jump is a gap whichever sees it, and
    numbers that arrive late close that part of the gap, with a record saying so."""
    kernel = AgentIdentity.create("kernel-two")
    stream = f"{kernel.agent_id}/{uuid.uuid4().hex[:12]}"
    one, two = open_store(), open_store()
    try:
        events = [audit_event(kernel.agent_id) for _ in range(6)]
        assert one.append_batch(stream, 1, events[:2])[1] is None
        records, missing = two.append_batch(stream, 6, events[5:])
        assert missing == (3, 5) and [r.event.code for r in records] == ["audit_gap", "x"]
        assert one.open_gaps() == {stream: [(3, 5)]}

        records, missing = one.append_batch(stream, 3, events[2:4])  # 3..4 arrive late
        assert missing is None and records[0].event.code == "audit_gap_filled"
        assert "audit events 3..4 of stream" in records[0].event.reason
        assert two.open_gaps() == {stream: [(5, 5)]}
        (problem,) = verify_chain(two.records()).problems
        assert problem.code == "gap" and "2 arrived late, 1 never did" in problem.detail

        again, _ = two.append_batch(stream, 3, events[2:4])  # a redelivery: nothing new
        assert [r.event.event_id for r in again] == [e.event_id for e in events[2:4]]
        two.append_batch(stream, 5, events[4:5])  # the last one
        assert one.open_gaps() == {} and one.streams() == {stream: 7}
        report = verify_chain(one.records())
        assert report.ok, report.problems
        assert report.checked == 6 + 1 + 2  # the events, the gap and what closed it
    finally:
        one.close()
        two.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_two_sinks_sharing_a_group_report_no_gap_that_is_not_one(
    backend: str, servers: Servers, open_store: Callable[[], Store]
) -> None:
    """Sinks in one group commit a stream's batches in no fixed order: the late ones close
    the gaps the early ones opened, so every event is stored and the chain shows no gap."""
    url = servers.bus_url(backend)
    subject, group = f"agentos.v1.audit.t{new_id()[:8]}", f"sinks-{new_id()[:6]}"
    kernel, kernels, stream = _kernel("kernel-shared")
    stores = [open_store(), open_store()]
    buses = [await connect(url) for _ in stores]
    sinks = [
        AuditSinkWorker(b, s, subject=subject, group=group, options=FAST, kernels=kernels)
        for b, s in zip(buses, stores, strict=True)
    ]
    try:
        for sink in sinks:
            await sink.start()
        sent = [audit_event(kernel.agent_id) for _ in range(30)]
        for n in range(0, 30, 2):
            await buses[0].publish(Envelope(subject, stream.sign(sent[n : n + 2])))

        def stored() -> bool:
            ids = {r.event_id for r in stores[0].records()}
            return ids >= {e.event_id for e in sent}

        await eventually(stored, 30.0, "every event stored")
        report = verify_chain(stores[0].records())
        assert report.ok, report.problems
        assert stores[1].open_gaps() == {}
    finally:
        for sink in sinks:
            await sink.shutdown()
        for bus in buses:
            await bus.close()
        for store in stores:
            store.close()
