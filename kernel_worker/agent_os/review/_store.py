"""The review store: held actions and their decisions, in SQLite or PostgreSQL.

Two tables. ``agentos_review_items`` holds one row per held request (the
request id is unique, so a request redelivered to another worker finds the
item the first one recorded). ``agentos_review_decisions`` holds one row per
reviewer per item (its primary key makes two approvals by one reviewer
impossible) with the signed message that carried the decision.

Deciding is one transaction: read the item, refuse if it is settled or past
its deadline or if this reviewer already decided, record the decision, and
settle the item when it was a deny or the last approval needed. SQLite runs
it under the file's write lock, PostgreSQL under an advisory lock named after
the ticket, and the status update is conditional on ``status = 'pending'``:
the first decision wins, a later one is refused with who decided and when.

Stores are synchronous (sqlite3, psycopg); async callers run them in a thread.
Connection handling is the audit stores' (:mod:`agent_os.audit._db`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from agent_os.audit._db import PostgresDatabase, SqliteDatabase

from ._errors import DecisionRefused, ReviewQueueFull, ReviewStoreError
from ._item import DecisionRecord, ReviewItem, Status
from ._limits import ReviewLimits
from ._store_rows import (
    DECISION_COLUMNS,
    DECISIONS,
    ITEM_COLUMNS,
    ITEMS,
    b64,
    decision_from_row,
    item_from_row,
    item_row,
    schema,
)

__all__ = ["PostgresReviewStore", "ReviewStore", "SqliteReviewStore", "open_review_store"]


class ReviewStore:
    """Held actions and decisions in one database; see the module docstring.

    Use :class:`SqliteReviewStore` (embedded default) or
    :class:`PostgresReviewStore` (fleets), or :func:`open_review_store`.
    """

    def __init__(self, db: SqliteDatabase | PostgresDatabase, placeholder: str) -> None:
        self._db = db
        p = placeholder
        self._p = p
        self._select = f"SELECT {', '.join(ITEM_COLUMNS)} FROM {ITEMS}"
        self._insert = (
            f"INSERT INTO {ITEMS} ({', '.join(ITEM_COLUMNS)}) "
            f"VALUES ({', '.join([p] * len(ITEM_COLUMNS))}) ON CONFLICT (request_id) DO NOTHING"
        )
        self._select_decisions = (
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM {DECISIONS} WHERE ticket = {p} ORDER BY at"
        )

    # -- reading ------------------------------------------------------------------

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._p)

    def _decisions(self, tickets: Sequence[str]) -> dict[str, list[DecisionRecord]]:
        out: dict[str, list[DecisionRecord]] = {t: [] for t in tickets}
        if not tickets:
            return out
        marks = ", ".join([self._p] * len(tickets))
        rows = self._db.query(
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM {DECISIONS} "
            f"WHERE ticket IN ({marks}) ORDER BY at",
            list(tickets),
        )
        for row in rows:
            out[row[0]].append(decision_from_row(row))
        return out

    def _items(self, where: str, params: Sequence[object]) -> list[ReviewItem]:
        rows = self._db.query(f"{self._select} {self._q(where)}", params)
        decisions = self._decisions([r[0] for r in rows])
        return [item_from_row(r, decisions[r[0]]) for r in rows]

    def get(self, ticket: str) -> ReviewItem | None:
        """The item with this ticket, with its decisions, or ``None``."""
        items = self._items("WHERE ticket = ?", (ticket,))
        return items[0] if items else None

    def find(self, prefix: str) -> ReviewItem | None:
        """The item whose ticket is ``prefix`` or the only one starting with it."""
        item = self.get(prefix)
        # Tickets are hex: anything else (a LIKE wildcard, say) is no prefix of one.
        if item is not None or len(prefix) < 4 or prefix.strip("0123456789abcdef"):
            return item
        found = self._items("WHERE ticket LIKE ? ORDER BY created_at LIMIT 2", (prefix + "%",))
        return found[0] if len(found) == 1 else None

    def by_request(self, request_id: str) -> ReviewItem | None:
        items = self._items("WHERE request_id = ?", (request_id,))
        return items[0] if items else None

    def pending(self, now: float | None = None) -> list[ReviewItem]:
        """Items still waiting for a decision at ``now``, oldest first."""
        at = time.time() if now is None else now
        return self._items("WHERE status = 'pending' AND deadline > ? ORDER BY created_at", (at,))

    def history(self, limit: int = 100) -> list[ReviewItem]:
        """Settled items (approved, denied, expired), newest first."""
        return self._items(
            "WHERE status <> 'pending' ORDER BY COALESCE(decided_at, deadline) DESC LIMIT ?",
            (limit,),
        )

    def many(self, tickets: Sequence[str]) -> list[ReviewItem]:
        if not tickets:
            return []
        marks = ", ".join("?" * len(tickets))
        return self._items(f"WHERE ticket IN ({marks})", list(tickets))

    # -- writing ------------------------------------------------------------------

    def add(self, item: ReviewItem, limits: ReviewLimits | None = None) -> tuple[ReviewItem, bool]:
        """Record ``item``; ``(stored item, True)`` or, when its request is already held, the
        item recorded first and ``False``. Raises :class:`ReviewQueueFull` when a new item
        would pass ``limits`` (counted in the same transaction; on PostgreSQL one agent's
        items are serialised, so its cap is exact and the total may pass by a few)."""
        lock = item.request_id if limits is None else f"agent:{item.agent_id}"
        with self._db.write("cannot record a review item", lock=lock) as conn:
            if limits is not None:
                refusal = self._full(conn, item, limits)
                if refusal is not None:
                    raise refusal
            cur = conn.execute(self._insert, item_row(item))
            created = cur.rowcount == 1
        stored = self.by_request(item.request_id)
        if stored is None:  # pragma: no cover - the insert or the earlier row must exist
            raise ReviewStoreError(f"review item for {item.request_id} vanished")
        return stored, created

    def _full(self, conn: Any, item: ReviewItem, limits: ReviewLimits) -> ReviewQueueFull | None:
        q = self._q
        if conn.execute(
            q(f"SELECT 1 FROM {ITEMS} WHERE request_id = ?"), (item.request_id,)
        ).fetchone():
            return None  # a redelivery finds the item recorded first
        pending = f"SELECT COUNT(*) FROM {ITEMS} WHERE status = 'pending' AND deadline > ?"
        at = item.created_at
        (of_agent,) = conn.execute(q(pending + " AND agent_id = ?"), (at, item.agent_id)).fetchone()
        (total,) = conn.execute(q(pending), (at,)).fetchone() if limits.total else (0,)
        return limits.refusal(item.agent_id, int(of_agent), int(total))

    def decide(self, record: DecisionRecord, now: float | None = None) -> ReviewItem:
        """Apply a verified decision; raises :class:`DecisionRefused` saying why not."""
        at = time.time() if now is None else now
        refusal: DecisionRefused | None = None
        with self._db.write("cannot record a decision", lock=record.ticket) as conn:
            row = conn.execute(
                self._q(f"{self._select} WHERE ticket = ?"), (record.ticket,)
            ).fetchone()
            if row is None:
                raise DecisionRefused(f"no review item {record.ticket}", code="not_found")
            decisions = [
                decision_from_row(r) for r in conn.execute(self._select_decisions, (row[0],))
            ]
            item = item_from_row(row, decisions)
            refusal = _refusal(item, record, at)
            if refusal is not None and refusal.code == "expired":
                conn.execute(
                    self._q(f"UPDATE {ITEMS} SET status = 'expired' WHERE ticket = ?"),
                    (item.ticket,),
                )
            elif refusal is None:
                self._apply(conn, item, record, at)
        if refusal is not None:
            raise refusal
        settled = self.get(record.ticket)
        assert settled is not None
        return settled

    def _apply(self, conn: Any, item: ReviewItem, record: DecisionRecord, at: float) -> None:
        conn.execute(
            self._q(f"INSERT INTO {DECISIONS} ({', '.join(DECISION_COLUMNS)}) VALUES ")
            + f"({', '.join([self._p] * len(DECISION_COLUMNS))})",
            (
                record.ticket,
                record.reviewer,
                record.signer,
                1 if record.approve else 0,
                record.comment,
                record.at,
                b64(record.signed),
            ),
        )
        approvers = len(item.approvers()) + (1 if record.approve else 0)
        if record.approve and approvers < item.approvals:
            return  # one approval of several: still pending
        status = Status.APPROVED if record.approve else Status.DENIED
        by = ", ".join([*item.approvers(), record.reviewer]) if record.approve else record.reviewer
        cur = conn.execute(
            self._q(
                f"UPDATE {ITEMS} SET status = ?, decided_at = ?, decided_by = ?, comment = ?, "
                "signature = ? WHERE ticket = ? AND status = 'pending'"
            ),
            (status.value, at, by, record.comment, b64(record.signed), item.ticket),
        )
        if cur.rowcount != 1:  # pragma: no cover - the lock makes this unreachable
            raise DecisionRefused(f"ticket {item.ticket} was settled meanwhile", code="decided")

    def expire(self, now: float | None = None) -> list[ReviewItem]:
        """Mark pending items past their deadline as expired; returns them."""
        at = time.time() if now is None else now
        due = self._items("WHERE status = 'pending' AND deadline <= ?", (at,))
        if not due:
            return []
        with self._db.write("cannot expire review items") as conn:
            for item in due:
                conn.execute(
                    self._q(
                        f"UPDATE {ITEMS} SET status = 'expired' WHERE ticket = ? "
                        "AND status = 'pending'"
                    ),
                    (item.ticket,),
                )
        return self.many([i.ticket for i in due])

    def close(self) -> None:
        """Close the connection. Idempotent."""
        self._db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refusal(item: ReviewItem, record: DecisionRecord, now: float) -> DecisionRefused | None:
    status = item.status_at(now)
    if status is Status.EXPIRED:
        return DecisionRefused(
            f"ticket {item.ticket} expired at {_when(item.deadline)}: no decision was taken in "
            "time, so the action was denied",
            code="expired",
        )
    if status.final:
        return DecisionRefused(
            f"ticket {item.ticket} was already {status.value} by {item.decided_by} at "
            f"{_when(item.decided_at)}; the first decision stands",
            code="already_decided",
        )
    if any(d.reviewer == record.reviewer for d in item.decisions):
        return DecisionRefused(
            f"{record.reviewer} already approved ticket {item.ticket}; it needs "
            f"{item.approvals} distinct reviewers",
            code="same_reviewer",
        )
    return None


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


class SqliteReviewStore(ReviewStore):
    """The embedded review store: one SQLite file several processes may share."""

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 30.0
    ) -> None:
        super().__init__(
            SqliteDatabase(
                path,
                schema=schema("REAL"),
                table=ITEMS,
                fail=ReviewStoreError,
                create=create,
                timeout=timeout,
                missing_code="review_store_missing",
                what="review queue",
            ),
            "?",
        )


class PostgresReviewStore(ReviewStore):
    """The review store of a fleet: PostgreSQL at ``dsn`` (the ``postgres`` extra)."""

    def __init__(self, dsn: str, *, create: bool = True, connect_timeout: float = 10.0) -> None:
        super().__init__(
            PostgresDatabase(
                dsn,
                schema=schema("DOUBLE PRECISION"),
                table=ITEMS,
                fail=ReviewStoreError,
                who="PostgresReviewStore",
                create=create,
                connect_timeout=connect_timeout,
                missing_code="review_store_missing",
                what="review queue",
            ),
            "%s",
        )


def open_review_store(location: str | os.PathLike[str], *, create: bool = True) -> ReviewStore:
    """A store from a location: ``postgresql://...`` (or ``postgres://``), else a SQLite path
    (``sqlite:///path`` or a plain path)."""
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresReviewStore(text, create=create)
    if text.startswith("sqlite://"):
        text = text.removeprefix("sqlite://")
    return SqliteReviewStore(text, create=create)
