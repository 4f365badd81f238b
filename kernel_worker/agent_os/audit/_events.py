"""Audit events and the sinks that keep them.

Every decision the kernel takes becomes one :class:`AuditEvent`. An event
never holds an action's raw arguments (they may carry secrets): it holds
``args_digest``, the SHA-256 of their canonical JSON, which is enough to prove
later which arguments were judged without keeping them.

Sinks implement the one-method :class:`AuditSink` protocol. ``record`` is
synchronous and may raise: callers that must fail closed (``KernelSpace``)
let the error stop the action rather than run it unrecorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from agent_os.bus import new_id
from agent_os.trust import StrictJSONError, strict_loads

from ._errors import AuditError

if TYPE_CHECKING:
    from agent_os.policies._types import Verdict

__all__ = [
    "AuditEvent",
    "AuditSink",
    "FanoutAudit",
    "JsonlAuditLog",
    "MemoryAuditLog",
    "args_digest",
]

_REVIEW_VALUES = frozenset({"approved", "denied", "timeout"})


AUDIT_SUBJECT = "agentos.v1.audit"
"""Where workers publish audit events and the audit sink consumes them."""


def _value(x: object) -> Any:
    return x.value if isinstance(x, Enum) else x


# Built once: json.dumps with options builds a new encoder per call.
_DIGEST_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr
)
_EVENT_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def args_digest(args: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``args`` (sorted keys, no spaces).

    Values JSON cannot hold are digested through ``repr`` so that the digest
    never fails: an audit record must not be lost to an odd argument.
    """
    canonical = _DIGEST_ENCODER.encode(args)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One decision, as recorded. Field order is the wire order of :meth:`to_json`."""

    event_id: str
    ts: float
    agent_id: str
    action: str
    tool: str | None
    request_id: str | None
    decision: str
    signal: str | None
    rule: str | None
    reason: str
    code: str | None
    policy: str
    policy_hash: str
    kernel_id: str | None
    elapsed_us: float | None
    args_digest: str
    review: str | None = None

    @classmethod
    def from_verdict(
        cls,
        action: Mapping[str, Any],
        verdict: Verdict,
        *,
        now: float | None = None,
        review: str | None = None,
    ) -> AuditEvent:
        """Build the event for ``verdict`` on ``action`` (``review``: a SIGSTOP outcome)."""
        review = _value(review)
        if review is not None and review not in _REVIEW_VALUES:
            raise AuditError(f"unknown review outcome {review!r}", code="malformed_audit")
        tool = action.get("tool")
        request_id = verdict.request_id or action.get("request_id")
        return cls(
            event_id=new_id(),
            ts=time.time() if now is None else now,
            agent_id=str(action.get("agent_id", "")),
            action=str(action.get("action", "")),
            tool=None if tool is None else str(tool),
            request_id=None if request_id is None else str(request_id),
            decision=str(_value(verdict.decision)),
            signal=None if verdict.signal is None else str(_value(verdict.signal)),
            rule=verdict.rule,
            reason=verdict.reason,
            code=verdict.code,
            policy=verdict.policy,
            policy_hash=verdict.policy_hash,
            kernel_id=verdict.kernel_id,
            elapsed_us=verdict.elapsed_us,
            args_digest=args_digest(action.get("args", {})),
            review=review,
        )

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar: no need for asdict's recursive deep copy.
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def to_json(self) -> bytes:
        """Compact JSON bytes (one line; no raw arguments)."""
        return _EVENT_ENCODER.encode(self.to_dict()).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> AuditEvent:
        """Parse :meth:`to_json` output strictly; anything else is ``malformed_audit``."""
        try:
            raw = strict_loads(data)
        except StrictJSONError as exc:
            raise AuditError(f"audit event is not JSON: {exc}", code="malformed_audit") from exc
        if not isinstance(raw, dict):
            raise AuditError("audit event is not a JSON object", code="malformed_audit")
        names = {f.name for f in fields(cls)}
        required = names - {"review"}
        if missing := required - raw.keys():
            raise AuditError(f"audit event lacks {sorted(missing)}", code="malformed_audit")
        if extra := raw.keys() - names:
            raise AuditError(f"audit event has unknown {sorted(extra)}", code="malformed_audit")
        for name, value in raw.items():
            if not _FIELD_CHECKS[name](value):
                raise AuditError(
                    f"audit event field {name!r} has a bad value {value!r}",
                    code="malformed_audit",
                )
        return cls(**raw)


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_opt_str(v: object) -> bool:
    return v is None or isinstance(v, str)


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_opt_num(v: object) -> bool:
    return v is None or _is_num(v)


def _is_digest(v: object) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


_FIELD_CHECKS: dict[str, Callable[[object], bool]] = {
    "event_id": lambda v: isinstance(v, str) and bool(v),
    "ts": _is_num,
    "agent_id": _is_str,
    "action": _is_str,
    "tool": _is_opt_str,
    "request_id": _is_opt_str,
    "decision": lambda v: isinstance(v, str) and bool(v),
    "signal": _is_opt_str,
    "rule": _is_opt_str,
    "reason": _is_str,
    "code": _is_opt_str,
    "policy": _is_str,
    "policy_hash": _is_str,
    "kernel_id": _is_opt_str,
    "elapsed_us": _is_opt_num,
    "args_digest": _is_digest,
    "review": lambda v: v is None or v in _REVIEW_VALUES,
}


_FIELD_NAMES = tuple(f.name for f in fields(AuditEvent))


class ClosingContext:
    """``with`` support for anything with a ``close()``: closes on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@runtime_checkable
class AuditSink(Protocol):
    """Where audit events go. ``record`` may raise; it must not block for long."""

    def record(self, event: AuditEvent) -> None: ...


class MemoryAuditLog:
    """The last ``maxlen`` events in memory (``None``: unbounded). The default sink."""

    def __init__(self, maxlen: int | None = 10_000) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be positive or None")
        self._events: deque[AuditEvent] = deque(maxlen=maxlen)

    def record(self, event: AuditEvent) -> None:
        self._events.append(event)

    @property
    def events(self) -> list[AuditEvent]:
        """A snapshot of the kept events, oldest first."""
        return list(self._events)

    def clear(self) -> None:
        self._events.clear()

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.events)


class JsonlAuditLog(ClosingContext):
    """Append one JSON line per event to ``path``; each line is flushed as written.

    The file is opened once, in append mode, so several processes may share it
    (each line is a single ``write``). Use as a context manager or call
    :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._file = self._path.open("ab", buffering=0)

    @property
    def path(self) -> Path:
        return self._path

    def record(self, event: AuditEvent) -> None:
        line = event.to_json() + b"\n"
        with self._lock:
            if self._file.closed:
                raise AuditError(f"audit log {self._path} is closed", code="audit_closed")
            try:
                # One write per line keeps lines whole under O_APPEND; loop
                # only because a raw write may be short.
                view = memoryview(line)
                while view:
                    view = view[self._file.write(view) or 0 :]
            except OSError as exc:
                raise AuditError(
                    f"cannot write audit log {self._path}: {exc}", code="audit_write"
                ) from exc

    def close(self) -> None:
        with self._lock:
            self._file.close()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> Iterator[AuditEvent]:
        """Parse a JSONL audit file; a bad line raises ``malformed_audit``."""
        with Path(path).open("rb") as f:
            for line in f:
                if line.strip():
                    yield AuditEvent.from_json(line)


class FanoutAudit:
    """Record each event to every sink, in order.

    Every sink is tried even if one fails; the first failure is then raised, so
    a caller that fails closed still sees it.
    """

    def __init__(self, *sinks: AuditSink) -> None:
        self._sinks = sinks

    @property
    def sinks(self) -> tuple[AuditSink, ...]:
        return self._sinks

    def record(self, event: AuditEvent) -> None:
        first: Exception | None = None
        for sink in self._sinks:
            try:
                sink.record(event)
            except Exception as exc:
                first = first or exc
        if first is not None:
            raise first
