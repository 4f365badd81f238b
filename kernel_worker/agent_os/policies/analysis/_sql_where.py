"""Whether a ``WHERE`` condition narrows the rows at all: the judge's row checks.

An ``UPDATE`` (or a ``REPLACE ... SELECT``, an ``INSERT ... SELECT`` that updates on
conflict) rewrites every row when its own
``WHERE`` (not one inside a subquery: see :meth:`._sql_reading.Reading.first_beside`)
is missing or always true. Always true here means what can be seen from the
tokens alone:

* the condition names no column (``WHERE 1 = 1``, ``WHERE 'a' = 'a'``);
* one of its ``OR`` branches is always true (``WHERE 1 = 1 OR id = 5``), a branch
  being always true when each of its ``AND`` parts is: a part naming neither a column
  nor a parameter, a column compared to itself (``id = id``, ``a.b >= a.b``, ``x <=> x``:
  true on every row where the column is not NULL, which for a key is every row), or a
  bracketed group that is itself always true.

``WHERE balance >= 0`` is not provably always true (a balance can be negative or
NULL) and passes: only what the text itself shows counts. Each condition is scanned
once at its own depth (bracketed groups are stepped over, or scanned once when they
are a whole part), so the check stays linear in the tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._sql_judge import Judge

__all__ = ["UPDATE_END", "always_true", "every_row", "replace", "upsert"]

#: Words that end an UPDATE (or REPLACE) statement and its condition.
UPDATE_END = frozenset(
    {"update", "delete", "insert", "drop", "truncate", "merge", "alter", "create", "grant",
     "revoke", "exec", "execute", "with", "copy"}
)  # fmt: skip

_SELF_OPS = frozenset({"=", "==", ">=", "<=", "<=>", "is"})
_OP_MARKS = "=<>!"
_MAX_NESTING = 32  # deeper groups: judged by whether they name a column at all


class _Judge(Protocol):
    kinds: str
    values: list[str]

    def closing(self) -> dict[int, int]: ...

    def names_column(self, start: int, end: int) -> bool: ...


def every_row(judge: Judge, i: int, start: int, end: int) -> bool:
    """Whether the statement at ``i`` lacks a ``WHERE`` of its own (after ``start``, at
    its depth: not one inside a subquery) that narrows the rows.
    """
    where = judge.first_beside("where", start, end, i)
    if where < 0:
        return True
    known = judge.wheres.get(where)
    if known is None:
        known = judge.wheres[where] = always_true(judge, where + 1, UPDATE_END)
    return known


def replace(judge: Judge, i: int, prev: str, at_start: bool) -> None:
    """``REPLACE INTO t ... SELECT ... FROM`` (also ``INSERT OR REPLACE``) rewrites every
    row its SELECT yields: without a narrowing WHERE, the whole table (a mass UPDATE).
    """
    if not (at_start or (prev == "or" and judge.word(i - 2) == "insert")):
        return  # CREATE OR REPLACE, replace(...)
    if judge.punct(i + 1, "("):
        return
    end = judge.end_of_statement(i, UPDATE_END)
    if _selects_every_row(judge, i, end):
        judge.flag("sql:update-all-rows", i)


def upsert(judge: Judge, i: int) -> None:
    """``INSERT ... SELECT ... FROM ... ON DUPLICATE KEY UPDATE`` / ``ON CONFLICT ... DO
    UPDATE``: every row the SELECT yields updates its match, as REPLACE does (unless the
    DO UPDATE has a narrowing WHERE of its own).
    """
    end = judge.end_of_statement(i, UPDATE_END)
    if judge.word(end) != "update" or judge.word(end - 1) not in ("key", "do"):
        return
    if not _selects_every_row(judge, i, end):
        return
    if every_row(judge, end, end + 1, judge.end_of_statement(end, UPDATE_END)):
        judge.flag("sql:update-all-rows", i)


def _selects_every_row(judge: Judge, i: int, end: int) -> bool:
    """Whether a SELECT ... FROM of the statement at ``i`` (the first, or one joined to it by
    UNION at its depth) lacks a narrowing WHERE; False without one (``... VALUES``).
    """
    select = judge.has_word(i + 1, end, "select")
    while select >= 0:
        after = judge.first_beside("select", select + 1, end, select)
        stop = end if after < 0 else after
        if judge.first_beside("from", select + 1, stop, select) >= 0 and every_row(
            judge, select, select + 1, stop
        ):
            return True
        select = after
    return False


def always_true(judge: _Judge, start: int, stop_words: frozenset[str]) -> bool:
    """Whether the condition starting at token ``start`` (just past ``WHERE``) holds for
    every row; it ends at ``;``, a ``)`` closing its group, or a word of ``stop_words``.
    """
    end, result = _condition(judge, start, stop_words, 0)
    return result or not judge.names_column(start, end)


def _condition(judge: _Judge, start: int, stops: frozenset[str], nesting: int) -> tuple[int, bool]:
    """(end of the condition at ``start``, whether one of its OR branches is always true)."""
    kinds, values = judge.kinds, judge.values
    close = judge.closing()
    n = len(kinds)
    branch = True  # every AND part of the current OR branch so far is always true
    between = False  # an AND that closes BETWEEN x AND y splits nothing
    part = j = start
    while j < n:
        kind = kinds[j]
        if kind == "p":
            value = values[j]
            if value == ";" or value == ")":
                break
            if value == "(":
                j = close.get(j, n) + 1
                continue
        elif kind == "w":
            value = values[j]
            if value in stops:
                break
            if value == "between":
                between = True
            elif value == "and" and between:
                between = False
            elif value == "and" or value == "or":
                branch = branch and _part(judge, part, j, stops, nesting)
                if value == "or":
                    if branch:
                        return j, True  # the rest is not judged
                    branch = True
                part = j + 1
        j += 1
    return j, branch and _part(judge, part, j, stops, nesting)


def _part(judge: _Judge, start: int, end: int, stops: frozenset[str], nesting: int) -> bool:
    """Whether the AND part ``[start, end)`` holds for every row (see the module docstring)."""
    if start >= end:
        return False
    kinds, values = judge.kinds, judge.values
    if kinds[start] == "p" and values[start] == "(" and judge.closing().get(start) == end - 1:
        if nesting >= _MAX_NESTING:
            return not judge.names_column(start, end)
        inner_end, inner = _condition(judge, start + 1, stops, nesting + 1)
        return inner or not judge.names_column(start + 1, inner_end)
    if not judge.names_column(start, end):
        return kinds.find("v", start, end) < 0  # a parameter's value is not known here
    # A side compared with itself: the operator is the first run of = < > ! at this depth.
    close = judge.closing()
    j = start
    while j < end:
        if kinds[j] == "p":
            if values[j] == "(":
                j = close.get(j, end) + 1
                continue
            if values[j] in _OP_MARKS:
                break
        elif kinds[j] == "w" and values[j] == "is":
            break
        j += 1
    if j >= end or j == start:
        return False
    op_end = j + 1
    if kinds[j] == "p":
        while op_end < end and kinds[op_end] == "p" and values[op_end] in _OP_MARKS:
            op_end += 1
    if "".join(values[j:op_end]) not in _SELF_OPS:
        return False
    return kinds[start:j] == kinds[op_end:end] and values[start:j] == values[op_end:end]
