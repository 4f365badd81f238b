"""Kernel worker → bus → audit sink → hash-chained store, and ``agent-os audit``.

Every decision a worker takes must land in the chain exactly once, even when
the bus delivers its audit message twice; a tampered store must be named by
``agent-os audit verify``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from e2e_support import Governed

from agent_os.audit._signed import AuditStream
from agent_os.bus import ERROR_CODE_HEADER, Bus, Delivery, Envelope, SubscribeOptions, connect
from agent_os.kernel_worker import (
    AUDIT_SUBJECT,
    AuditEvent,
    AuditRecord,
    AuditSinkWorker,
    AuditStoreError,
    ChainedAuditStore,
    PostgresAuditStore,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers

AGENT_OS = str(Path(sys.executable).parent / "agent-os")
FAST_RETRY = SubscribeOptions(ack_wait=5.0, max_deliver=5, concurrency=4)

ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("sql", {"query": "SELECT 1"}),
    ("sql", {"query": "DROP TABLE users"}),
    ("shell_exec", {"command": "rm -rf /"}),
    ("file_read", {"path": "/tmp/x"}),
    ("http_request", {"url": "https://example.com/"}),
    ("http_request", {"url": "https://evil.example.net/"}),
]


class LosesFirstAck:
    """A store whose first append commits and then fails, as if the ack were lost."""

    def __init__(self, inner: ChainedAuditStore) -> None:
        self.inner = inner
        self.failures = 0

    def append(self, event: AuditEvent) -> AuditRecord:
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        records = self.inner.append_many(events)
        if self.failures == 0:
            self.failures += 1
            raise AuditStoreError("connection lost after commit")
        return records

    def records(self) -> Iterator[AuditRecord]:
        return self.inner.records()

    def last(self) -> AuditRecord | None:
        return self.inner.last()

    def record(self, event: AuditEvent) -> None:
        self.append(event)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
async def sink_bus(governed: Governed) -> AsyncIterator[Bus]:
    bus = await connect(governed.url)
    try:
        yield bus
    finally:
        await bus.close()


async def _decide_all(g: Governed) -> None:
    for action, args in ACTIONS:
        await g.client.check(action, args)


def _chain_ids(store: ChainedAuditStore) -> list[str]:
    return [r.event_id for r in store.records()]


def _kernels(g: Governed) -> TrustRegistry:
    """The sink's view of who may sign audit batches: the governed worker's kernel."""
    kernels = TrustRegistry()
    kernels.pin(g.kernel.public())
    return kernels


async def test_every_decision_lands_once_even_when_redelivered(
    governed: Governed, sink_bus: Bus, tmp_path: Path
) -> None:
    store = LosesFirstAck(SqliteAuditStore(tmp_path / "audit.db"))
    try:
        async with AuditSinkWorker(
            sink_bus, store, options=FAST_RETRY, retry_delay=0.0, kernels=_kernels(governed)
        ) as sink:
            await _decide_all(governed)
            expected = [e.event_id for e in governed.audit.events]
            assert len(expected) == len(ACTIONS)
            await eventually(
                lambda: sorted(_chain_ids(store)) == sorted(expected), 5.0, "every event chained"
            )
            # The worker's audit events, once more, as a broker would redeliver them.
            body = AuditStream(governed.kernel).sign(list(governed.audit.events))
            await governed.bus.publish(Envelope(AUDIT_SUBJECT, body))
            await eventually(
                lambda: sink.appended >= 2 * len(ACTIONS), 5.0, "the redelivered batch appended"
            )
            assert store.failures == 1 and sink.failed == 1
        ids = _chain_ids(store)
        assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
        report = verify_chain(store.records())
        assert report.ok and report.checked == len(ACTIONS)
        stored = {r.event_id: r.event for r in store.records()}
        assert all(stored[e.event_id] == e for e in governed.audit.events)
    finally:
        store.close()


async def test_malformed_audit_message_is_dead_lettered(
    governed: Governed, sink_bus: Bus, tmp_path: Path
) -> None:
    letters: list[Envelope] = []

    async def on_dead(d: Delivery) -> None:
        letters.append(d.envelope)
        await d.ack()

    await governed.bus.subscribe(f"{AUDIT_SUBJECT}.dlq", on_dead, group="dlq-reader")
    with SqliteAuditStore(tmp_path / "audit.db") as store:
        async with AuditSinkWorker(
            sink_bus, store, options=FAST_RETRY, kernels=_kernels(governed)
        ) as sink:
            await governed.client.check("sql", {"query": "SELECT 1"})
            good = governed.audit.events[0].to_json()
            await governed.bus.publish(Envelope(AUDIT_SUBJECT, b"{not json"))
            await governed.bus.publish(Envelope(AUDIT_SUBJECT, good + b'\n{"event_id": "x"}'))
            await eventually(lambda: len(letters) == 2, 5.0, "two dead letters")
            assert sink.rejected == 2
            # The worker's own signed batch is kept, once.
            await eventually(
                lambda: _chain_ids(store) == [governed.audit.events[0].event_id],
                5.0,
                "only the good event chained",
            )
        # Unsigned bodies, even one holding a genuine event line, are not audit batches.
        assert [e.headers[ERROR_CODE_HEADER] for e in letters] == ["unsigned_audit"] * 2


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_dsn(servers: Servers) -> str:
    return servers.get("postgres").url


async def test_postgres_chain_with_two_sinks(governed: Governed, pg_dsn: str) -> None:
    table = f"audit_{uuid.uuid4().hex[:12]}"
    stores = [PostgresAuditStore(pg_dsn, table=table) for _ in range(2)]
    buses = [await connect(governed.url) for _ in stores]
    sinks = [
        # Two sinks split every worker's stream between them: neither can judge gaps.
        AuditSinkWorker(b, s, options=FAST_RETRY, kernels=_kernels(governed), track_gaps=False)
        for b, s in zip(buses, stores, strict=True)
    ]
    try:
        for s in sinks:
            await s.start()
        for _ in range(3):
            await _decide_all(governed)
        expected = sorted(e.event_id for e in governed.audit.events)
        await eventually(
            lambda: sorted(_chain_ids(stores[0])) == expected, 5.0, "one chain of every event"
        )
        # Replay everything straight into both stores at once: dedupe, no fork.
        events = governed.audit.events
        await asyncio.gather(*(asyncio.to_thread(s.append_many, events) for s in stores))
        report = verify_chain(stores[1].records())
        assert report.ok, report.problems
        assert report.checked == len(expected) == 3 * len(ACTIONS)
    finally:
        for s in sinks:
            await s.shutdown()
        for b in buses:
            await b.close()
        for st in stores:
            st.close()


def test_postgres_tampering_is_named(pg_dsn: str) -> None:
    import psycopg

    table = f"audit_{uuid.uuid4().hex[:12]}"
    with PostgresAuditStore(pg_dsn, table=table) as store:
        for i in range(5):
            store.append(_event(i))
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"UPDATE {table} SET decision = 'allow' WHERE seq = 2")
            conn.execute(f"DELETE FROM {table} WHERE seq = 4")
        report = verify_chain(store.records())
    assert [(p.seq, p.code) for p in report.problems] == [(2, "modified"), (4, "deleted")]


def test_postgres_verify_cli(pg_dsn: str) -> None:
    table_store = PostgresAuditStore(pg_dsn)  # the default table, as the CLI reads it
    try:
        table_store.append(_event(uuid.uuid4().int % 10_000))
    finally:
        table_store.close()
    done = run("audit", "verify", "--postgres", pg_dsn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: ")


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        event_id=uuid.uuid4().hex,
        ts=1_700_000_000.5 + n,
        agent_id="agent-1",
        action="sql",
        tool=None,
        request_id=None,
        decision="deny",
        signal="SIGKILL",
        rule="sql-drop",
        reason="destructive SQL",
        code="policy_violation",
        policy="strict",
        policy_hash="ab" * 32,
        kernel_id="kernel-1",
        elapsed_us=3.25,
        args_digest="cd" * 32,
    )


# -- the command line ------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT_OS, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def audit_db(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with SqliteAuditStore(path) as store:
        store.append_many([_event(i) for i in range(6)])
    return path


def test_cli_verify_ok(audit_db: Path) -> None:
    done = run("audit", "verify", "--sqlite", str(audit_db))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: 6 records")


def test_cli_verify_names_the_tampered_record(audit_db: Path) -> None:
    conn = sqlite3.connect(audit_db)
    with conn:
        conn.execute("UPDATE agentos_audit_chain SET decision = 'allow' WHERE seq = 3")
    conn.close()
    done = run("audit", "verify", "--sqlite", str(audit_db))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "seq 3: modified" in done.stdout
    assert "seq 2" not in done.stdout and "seq 4" not in done.stdout


def test_cli_verify_json_and_kept_head(audit_db: Path) -> None:
    import json

    first = json.loads(run("audit", "verify", "--sqlite", str(audit_db), "--json").stdout)
    assert first["ok"] and first["checked"] == 6
    conn = sqlite3.connect(audit_db)
    with conn:
        conn.execute("DELETE FROM agentos_audit_chain WHERE seq = 6")
    conn.close()
    head = f"{first['last_seq']}:{first['last_hash']}"
    done = run("audit", "verify", "--sqlite", str(audit_db), "--expect-head", head)
    assert done.returncode == 1
    assert "seq 6: head" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--sqlite", "/nonexistent/audit.db"],
        [],
        ["--sqlite", "a.db", "--postgres", "postgresql://x"],
        ["--sqlite", "a.db", "--expect-head", "nope"],
    ],
)
def test_cli_verify_bad_input_exits_2(args: list[str], tmp_path: Path) -> None:
    done = subprocess.run(
        [AGENT_OS, "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: ")
    assert not (tmp_path / "a.db").exists()


def test_cli_verify_refuses_a_foreign_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    done = run("audit", "verify", "--sqlite", str(path))
    assert done.returncode == 2
    assert "no audit chain" in done.stderr


def test_cli_sink_runs_until_sigterm(servers: Servers, tmp_path: Path) -> None:
    url = servers.bus_url("nats")
    db = tmp_path / "sink.db"
    kernel = AgentIdentity.create("kernel-1")
    registry = tmp_path / "registry.json"
    TrustRegistry(FileTrustStore(registry)).register(kernel, TrustLevel.KERNEL)
    env = {**os.environ, "AGENT_OS_BUS_URL": url}
    proc = subprocess.Popen(
        [AGENT_OS, "audit", "sink", "--sqlite", str(db), "--registry", str(registry)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        events = [_event(i) for i in range(3)]

        async def publish() -> None:
            bus = await connect(url)
            try:
                await bus.publish(Envelope(AUDIT_SUBJECT, AuditStream(kernel).sign(events)))
            finally:
                await bus.close()

        asyncio.run(publish())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if db.exists():
                with SqliteAuditStore(db) as store:
                    if len(store) == 3:
                        break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    with SqliteAuditStore(db) as store:
        assert [r.event for r in store.records()] == events
    assert run("audit", "verify", "--sqlite", str(db)).returncode == 0


def test_postgres_dedupes_within_and_across_batches(pg_dsn: str) -> None:
    table = f"audit_{uuid.uuid4().hex[:12]}"
    one, two = _event(1), _event(2)
    with PostgresAuditStore(pg_dsn, table=table) as store:
        first = store.append_many([one, one, two])
        again = store.append_many([two, one])
        assert [r.seq for r in first] == [1, 1, 2]
        assert again == [first[2], first[0]]
        assert len(store) == 2
        last = store.last()
        assert last is not None and last.event == two


async def test_sink_run_returns_after_shutdown(governed: Governed, tmp_path: Path) -> None:
    with SqliteAuditStore(tmp_path / "audit.db") as store:
        sink = AuditSinkWorker(governed.bus, store)
        await sink.start()
        task = asyncio.create_task(sink.run())
        await asyncio.sleep(0)  # let run() reach its wait
        assert not task.done()
        await sink.shutdown()
        await asyncio.wait_for(task, 2)
        await sink.shutdown()  # idempotent
        with pytest.raises(RuntimeError):
            await sink.start()
