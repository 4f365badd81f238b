"""Benchmark: what keeping a worker's numbering in the audit store costs per batch.

Usage::

    python benchmarks/audit_append.py [--postgres DSN] [--rounds 5] [--batches 300]

Appends signed-batch-sized groups of events (10 each) to a fresh chain in
pairs: one with ``append_many`` (the events only), one with ``append_batch``
(the events plus the stream's next number, read and written in the same
transaction), in alternating order, so a noisy machine hurts both alike.
Prints, over rounds, the range of each one's median time per batch and of
the median ratio within pairs.
SQLite by default (a temporary file, ``synchronous=FULL``); with
``--postgres`` also that server, in tables of its own.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_os.audit._signed import AuditStream
from agent_os.bus import new_id
from agent_os.kernel_worker import AuditEvent, PostgresAuditStore, SqliteAuditStore, Verdict
from agent_os.trust import AgentIdentity

Store = SqliteAuditStore | PostgresAuditStore
PER_BATCH = 10


def _events(n: int) -> list[AuditEvent]:
    verdict = Verdict.deny("x", "y").bound(new_id(), "kernel-bench", 1.0)
    event = AuditEvent.from_verdict({"agent_id": "agent-1", "action": "sql"}, verdict)
    return [AuditEvent(**{**event.to_dict(), "event_id": secrets.token_hex(16)}) for _ in range(n)]


def _pairs(store: Store, batches: int) -> list[tuple[float, float]]:
    """``batches`` pairs of (append_many, append_batch) seconds, one right after the other."""
    stream = AuditStream(AgentIdentity.create("kernel-bench")).name
    out = []
    for n in range(batches):
        plain, numbered = _events(PER_BATCH), _events(PER_BATCH)
        times = {}
        # Alternate which goes first, so a slow moment costs both alike.
        for flag in (False, True) if n % 2 else (True, False):
            started = time.perf_counter()
            if flag:
                store.append_batch(stream, 1 + n * PER_BATCH, numbered)
            else:
                store.append_many(plain)
            times[flag] = time.perf_counter() - started
        out.append((times[False], times[True]))
    return out


def _compare(name: str, opener: Callable[[], Store], rounds: int, batches: int) -> None:
    plain, numbered, ratios = [], [], []
    for _ in range(rounds):
        store = opener()
        try:
            pairs = _pairs(store, batches)
        finally:
            store.close()
        plain.append(statistics.median(a for a, _ in pairs))
        numbered.append(statistics.median(b for _, b in pairs))
        ratios.append(statistics.median(b / a for a, b in pairs))
    print(
        f"{name}: median per batch of {PER_BATCH} events, over {rounds} rounds of {batches}: "
        f"append_many {min(plain) * 1e3:.3f}-{max(plain) * 1e3:.3f} ms, "
        f"append_batch {min(numbered) * 1e3:.3f}-{max(numbered) * 1e3:.3f} ms, "
        f"median pair ratio {min(ratios):.2f}-{max(ratios):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL DSN to measure as well")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=300)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} on {sys.platform}")
    with tempfile.TemporaryDirectory() as tmp:
        files = iter(range(10**6))
        _compare(
            "sqlite",
            lambda: SqliteAuditStore(Path(tmp) / f"audit-{next(files)}.db"),
            args.rounds,
            args.batches,
        )
    if args.postgres:
        dsn = args.postgres
        _compare(
            "postgres",
            lambda: PostgresAuditStore(dsn, table=f"bench_{uuid.uuid4().hex[:12]}"),
            args.rounds,
            args.batches,
        )


if __name__ == "__main__":
    main()
