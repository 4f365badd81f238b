"""Hash-chained audit records and the check that finds tampering.

A stored record is an :class:`AuditEvent` plus ``seq`` (1, 2, 3, ...),
``prev_hash`` (the previous record's ``hash``; 64 zeros for seq 1) and
``hash`` = SHA-256 over the canonical JSON of ``[seq, prev_hash, event]``.
Changing, removing, moving or slipping in a record breaks the chain at that
point, and :func:`verify_chain` names the first record of each break.

What a bare hash chain cannot show: someone with write access who rewrites a
record *and every record after it* (or only drops the newest records) leaves
a valid chain. Keep the head (``ChainReport.last_seq`` / ``last_hash``)
somewhere else and pass it back as ``expect_head`` to catch that.

Pure and synchronous: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import AuditError
from ._events import _FIELD_NAMES, AuditEvent

__all__ = [
    "GENESIS_HASH",
    "AuditRecord",
    "ChainProblem",
    "ChainReport",
    "chain_hash",
    "next_record",
    "verify_chain",
]

GENESIS_HASH = "0" * 64

ProblemCode = Literal["modified", "deleted", "reordered", "inserted", "bad_genesis", "head", "gap"]

#: How far from its stored seq a record's sealing seq is searched for (moved records).
_SHIFT_WINDOW = 16
_FLOAT_FIELDS = ("ts", "elapsed_us")


def _canonical_event(event: AuditEvent) -> dict[str, Any]:
    data = event.to_dict()
    # Databases hand numbers back as floats: hash what will be read back.
    for name in _FLOAT_FIELDS:
        value = data[name]
        if value is not None:
            value = float(value)
            if not math.isfinite(value):
                raise AuditError(f"audit event {name} is not finite", code="malformed_audit")
            data[name] = value
    return data


def chain_hash(seq: int, prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 (hex) sealing ``event`` at ``seq`` after ``prev_hash``."""
    canonical = json.dumps(
        [seq, prev_hash, _canonical_event(event)],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored link of the chain: an event sealed at ``seq``."""

    seq: int
    prev_hash: str
    hash: str
    event: AuditEvent

    @property
    def event_id(self) -> str:
        return self.event.event_id

    def to_dict(self) -> dict[str, Any]:
        """The event's fields, then ``seq``, ``prev_hash`` and ``hash`` (one flat row)."""
        row = self.event.to_dict()
        row.update(seq=self.seq, prev_hash=self.prev_hash, hash=self.hash)
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditRecord:
        """Rebuild a record from a flat row (as :meth:`to_dict` or a store gives it)."""
        try:
            event = AuditEvent(**{name: row[name] for name in _FIELD_NAMES})
            return cls(int(row["seq"]), str(row["prev_hash"]), str(row["hash"]), event)
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditError(f"not an audit record row: {exc}", code="malformed_audit") from exc


def next_record(last: AuditRecord | None, event: AuditEvent) -> AuditRecord:
    """The record that appends ``event`` after ``last`` (``None``: the genesis record)."""
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.hash
    return AuditRecord(seq, prev, chain_hash(seq, prev, event), event)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """Where the chain breaks: the record at ``seq`` and what happened to it."""

    seq: int
    code: ProblemCode
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "code": self.code, "detail": self.detail}

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of :func:`verify_chain`. ``ok`` when ``problems`` is empty."""

    checked: int
    problems: list[ChainProblem] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "truncated": self.truncated,
            "problems": [p.to_dict() for p in self.problems],
        }


def _sealed_seq(record: AuditRecord, hint: int | None) -> int | None:
    """The seq ``record``'s hash was made with, if it is near its stored one."""
    tries: list[int] = [] if hint is None else [record.seq + hint]
    for d in range(1, _SHIFT_WINDOW + 1):
        tries += [record.seq + d, record.seq - d]
    for seq in tries:
        if (
            seq >= 1
            and seq != record.seq
            and chain_hash(seq, record.prev_hash, record.event) == (record.hash)
        ):
            return seq
    return None


_Outcome = tuple[bool, int | None]
_SOUND: _Outcome = (False, None)
_BAD: _Outcome = (True, None)


class _Gaps:
    """The sink's gap records, less the numbers its later records say arrived late.

    A gap record names its stream in ``tool`` and its numbers in
    ``request_id`` (``"first..last"``); one without them (an older sink's)
    is reported whole.
    """

    def __init__(self) -> None:
        # seq, detail, stream (None: cannot be closed), how many were missing, still missing
        self._open: list[tuple[int, str, str | None, int, set[int]]] = []

    def see(self, r: AuditRecord) -> None:
        if r.event.code not in ("audit_gap", "audit_gap_filled"):
            return
        numbers = _numbers(r.event.request_id)
        if r.event.code == "audit_gap":  # the sink saw numbered events go missing
            stream = r.event.tool if numbers else None
            self._open.append((r.seq, r.event.reason, stream, len(numbers), numbers))
            return
        for _, _, stream, _, missing in self._open:
            if stream is not None and stream == r.event.tool:
                missing -= numbers

    def still_open(self) -> list[tuple[int, str]]:
        """``(seq, detail)`` of each gap record some of whose numbers never arrived."""
        out = []
        for seq, detail, stream, total, missing in self._open:
            if stream is not None and not missing:
                continue  # all of them arrived late
            if stream is not None and len(missing) < total:
                detail += f"; {total - len(missing)} arrived late, {len(missing)} never did"
            out.append((seq, detail))
        return out


def _numbers(span: str | None) -> set[int]:
    """The numbers ``"first..last"`` names (empty if it names none, or implausibly many)."""
    low, sep, high = (span or "").partition("..")
    if not (sep and low.isdigit() and high.isdigit()) or not 0 <= int(high) - int(low) < 10**6:
        return set()
    return set(range(int(low), int(high) + 1))


class _Verifier:
    def __init__(self, records: list[AuditRecord], max_problems: int) -> None:
        self.records = records
        self.by_hash = {r.hash: r for r in records}
        self.seqs = sorted({r.seq for r in records})
        self.max_problems = max_problems
        self.problems: list[ChainProblem] = []
        self.checked = 0
        self.gaps = _Gaps()

    def _has_seq_between(self, low: int, high: int) -> bool:
        """Is some record's seq strictly between ``low`` and ``high``?"""
        i = bisect.bisect_right(self.seqs, low)
        return i < len(self.seqs) and self.seqs[i] < high

    def add(self, seq: int, code: ProblemCode, detail: str) -> None:
        self.problems.append(ChainProblem(seq, code, detail))

    def run(self) -> bool:
        """Walk the records in the order given; ``False`` if stopped at ``max_problems``."""
        prev: AuditRecord | None = None
        before_prev: AuditRecord | None = None
        prev_bad = False
        shift: int | None = None  # seq shift of a renumbered run already reported
        for r in self.records:
            if len(self.problems) >= self.max_problems:
                return False
            self.checked += 1
            if prev is not None and r.seq <= prev.seq:
                code: ProblemCode = "inserted" if r.seq == prev.seq else "reordered"
                self.add(r.seq, code, f"seq {r.seq} comes after seq {prev.seq}")
                continue  # judge the next record against the last one in order
            prev_bad, shift = self._check(r, prev, before_prev, prev_bad, shift)
            self.gaps.see(r)
            before_prev, prev = prev, r
        for seq, detail in self.gaps.still_open():
            self.add(seq, "gap", detail)
        return True

    def _check(
        self,
        r: AuditRecord,
        prev: AuditRecord | None,
        before_prev: AuditRecord | None,
        prev_bad: bool,
        shift: int | None,
    ) -> _Outcome:
        """Report what is wrong at ``r``: (is it bad, the seq shift of its renumbered run)."""
        expected_prev = GENESIS_HASH if prev is None else prev.hash
        linked = r.prev_hash == expected_prev
        if chain_hash(r.seq, r.prev_hash, r.event) != r.hash:
            return self._unsealed(r, prev, linked, shift)
        if linked:
            if prev is None and r.seq != 1:
                self.add(r.seq, "bad_genesis", f"the chain starts at seq {r.seq}, not 1")
                return _BAD
            if prev is not None and r.seq != prev.seq + 1:
                self.add(prev.seq + 1, "deleted", f"seq {prev.seq + 1}..{r.seq - 1} missing")
                return _BAD
            return _SOUND
        if prev is None:
            if r.seq == 1:
                self.add(1, "bad_genesis", "seq 1 does not start from the genesis hash")
            else:
                self.add(1, "deleted", f"seq 1..{r.seq - 1} missing before seq {r.seq}")
            return _BAD
        if prev_bad and r.prev_hash in self.by_hash:
            return _SOUND  # the break was already reported at the record before
        if r.seq > prev.seq + 1 and self._has_seq_between(prev.seq, r.seq):
            self.add(r.seq, "reordered", f"seq {r.seq} comes before seq {prev.seq + 1}")
        elif r.seq > prev.seq + 1:
            self.add(
                prev.seq + 1,
                "deleted",
                f"seq {prev.seq + 1}..{r.seq - 1} missing: seq {r.seq} does not follow "
                f"seq {prev.seq}",
            )
        elif before_prev is not None and r.prev_hash == before_prev.hash:
            self.add(prev.seq, "inserted", f"seq {r.seq} links to seq {before_prev.seq}, not here")
        else:
            self.add(
                prev.seq,
                "modified",
                f"rewritten and resealed: seq {r.seq} no longer links to its hash",
            )
        return _BAD

    def _unsealed(
        self, r: AuditRecord, prev: AuditRecord | None, linked: bool, shift: int | None
    ) -> _Outcome:
        sealed = _sealed_seq(r, shift)
        if sealed is None:
            self.add(r.seq, "modified", "hash does not match the record's content")
            return _BAD
        delta = sealed - r.seq
        if delta == shift and linked:
            return True, delta  # the rest of a renumbered run: reported at its start
        predecessor_known = r.prev_hash == GENESIS_HASH or r.prev_hash in self.by_hash
        if not predecessor_known:
            self.add(
                sealed - 1,
                "deleted",
                f"the record sealed as seq {sealed - 1} is missing; later records renumbered",
            )
        elif prev is not None and prev.prev_hash == r.prev_hash and delta < 0:
            self.add(
                prev.seq,
                "inserted",
                f"not part of the chain: seq {r.seq} (sealed as {sealed}) links past it",
            )
        else:
            self.add(r.seq, "reordered", f"the record here was sealed as seq {sealed}")
        return True, delta


def verify_chain(
    records: Iterable[AuditRecord],
    *,
    expect_head: tuple[int, str] | None = None,
    expect_heads: Sequence[tuple[int, str]] = (),
    max_problems: int = 100,
) -> ChainReport:
    """Check a chain given in stored order and name the first record of every break.

    Problem codes: ``modified`` (content does not match its hash, or a record
    was resealed so the next one no longer links to it), ``deleted`` (a seq
    gap / missing predecessor; ``seq`` is the missing one), ``reordered``
    (seq out of order, or a record sealed at another seq), ``inserted`` (a
    record that is not part of the chain), ``bad_genesis`` (seq 1 does not
    start from :data:`GENESIS_HASH`), ``head`` (``expect_head`` — a
    ``(seq, hash)`` kept elsewhere — or one of ``expect_heads``, the signed
    heads of the sink's head log, is no longer in the chain). At most
    ``max_problems`` are listed (then ``truncated`` is set).
    """
    items = list(records)
    verifier = _Verifier(items, max_problems)
    complete = verifier.run()
    problems = verifier.problems
    heads = [*expect_heads, *([expect_head] if expect_head is not None else [])]
    by_seq = {r.seq: r for r in items} if heads else {}
    for seq, digest in heads if complete else ():
        found = by_seq.get(seq)
        if found is None or found.hash != digest:
            what = "is missing (cut)" if found is None else "has another hash (resealed)"
            problems.append(ChainProblem(seq, "head", f"the signed head record {what}"))
    last = max(items, key=lambda r: r.seq, default=None)
    return ChainReport(
        checked=verifier.checked,
        problems=problems,
        last_seq=0 if last is None else last.seq,
        last_hash=GENESIS_HASH if last is None else last.hash,
        truncated=not complete,
    )
