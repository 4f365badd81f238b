"""Connection handling shared by the durable stores (audit chain, review queue).

:class:`SqliteDatabase` is one SQLite file in WAL mode with ``synchronous=FULL``;
a write runs under SQLite's write lock from its first statement
(``BEGIN IMMEDIATE``), so read-then-write steps are atomic even with several
processes on one file. :class:`PostgresDatabase` is one psycopg 3 connection,
reopened after a loss, whose writes may take a transaction-level advisory
lock (released by commit or rollback, never left behind by a crash).

Both serialise calls on one connection (thread-safe) and translate driver
errors into the caller's own exception through a :data:`Fail` factory, so no
``sqlite3`` or ``psycopg`` exception reaches a store's caller.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import psycopg

__all__ = ["Fail", "PostgresDatabase", "SqliteDatabase", "psycopg_module"]


class Fail(Protocol):
    """Builds the store's own exception: ``fail(message, code=..., retryable=...)``."""

    def __call__(
        self, message: str, *, code: str | None = None, retryable: bool = True
    ) -> Exception: ...


#: First half of every advisory lock key ("agOS"); the second is hashtext(name).
_LOCK_CLASS = 0x61674F53
_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"


class SqliteDatabase:
    """One SQLite file, its tables created by ``schema`` unless ``create`` is false.

    ``create=False`` refuses a file that does not exist or lacks ``table``
    (code ``missing_code``, not retryable): readers must not create stores.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        schema: Sequence[str],
        table: str,
        fail: Fail,
        create: bool = True,
        timeout: float = 30.0,
        missing_code: str,
        what: str,
    ) -> None:
        self.path = Path(path)
        self._fail = fail
        self._lock = threading.Lock()
        if not create and not self.path.is_file():
            raise fail(f"no {what} database at {self.path}", code=missing_code, retryable=False)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise fail(f"cannot open {self.path}: {exc}", retryable=False) from exc
        try:
            self._setup(schema if create else (), table, missing_code, what)
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, schema: Sequence[str], table: str, missing_code: str, what: str) -> None:
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            for statement in schema:
                self._conn.execute(statement)
            found = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._fail(
                f"{self.path} is not a usable {what} database: {exc}", retryable=False
            ) from exc
        if found is None:
            raise self._fail(
                f"{self.path} holds no {what} (table {table})", code=missing_code, retryable=False
            )

    @contextlib.contextmanager
    def write(self, failure: str, *, lock: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction under SQLite's write lock; rolled back if the body raises.

        ``lock`` is accepted for symmetry with PostgreSQL: the file's write lock
        already serialises every writer.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail(f"{failure} ({self.path}): {exc}") from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """All rows of one read."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._fail(f"cannot read {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._conn.close()


def psycopg_module(fail: Fail, who: str) -> ModuleType:
    """``psycopg``, or the store's ``missing_dependency`` error naming the extra."""
    try:
        import psycopg
    except ImportError as exc:
        raise fail(
            f"{who} needs psycopg 3: pip install 'agent-os[postgres]'",
            code="missing_dependency",
            retryable=False,
        ) from exc
    return psycopg


class PostgresDatabase:
    """One PostgreSQL connection at ``dsn``; a lost one is reopened on the next call.

    The call that meets the loss raises the store's retryable error.
    ``schema`` runs once at start (under an advisory lock named ``table``:
    concurrent ``CREATE TABLE IF NOT EXISTS`` can still collide); without
    ``create`` a database lacking ``table`` is refused with ``missing_code``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: Sequence[str],
        table: str,
        fail: Fail,
        who: str,
        create: bool = True,
        connect_timeout: float = 10.0,
        missing_code: str,
        what: str,
    ) -> None:
        self._pg = psycopg_module(fail, who)
        self._fail = fail
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        try:
            with self.write(f"cannot set up the {what} table", lock=table) as conn:
                if create:
                    for statement in schema:
                        conn.execute(statement)
                row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        except BaseException:
            self.close()
            raise
        if row is None or row[0] is None:
            self.close()
            raise fail(
                f"the database holds no {what} (table {table})", code=missing_code, retryable=False
            )

    @property
    def errors(self) -> type[Exception]:
        """psycopg's base error, for stores that must tell a constraint violation apart."""
        error: type[Exception] = self._pg.Error
        return error

    def _connection(self) -> psycopg.Connection[Any]:
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            self._drop()
            try:
                conn = self._pg.connect(
                    self._dsn, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
                )
            except self._pg.Error as exc:
                raise self._fail(f"cannot connect to PostgreSQL: {exc}") from exc
            self._conn = conn
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextlib.contextmanager
    def write(self, failure: str, *, lock: str | None = None) -> Iterator[psycopg.Connection[Any]]:
        """One transaction; with ``lock``, first the advisory lock of that name."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    if lock is not None:
                        conn.execute(_LOCK, (_LOCK_CLASS, lock))
                    yield conn
            except self._pg.Error as exc:
                raise self._fail(f"{failure}: {exc}") from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """All rows of one read."""
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except self._pg.Error as exc:
                raise self._fail(f"cannot read PostgreSQL: {exc}") from exc

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._drop()
