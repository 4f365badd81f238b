"""Value types of the policy engine: signals, decisions, rules and verdicts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._errors import PolicyError, PolicyLoadError
from ._terms import ReviewTerms, check_terms

__all__ = [
    "FIELD_GROUPS",
    "ActionRule",
    "Decision",
    "Pattern",
    "Signal",
    "Verdict",
    "slug",
]

#: Argument field groups a pattern may target: ``all`` text, or the arguments
#: classification reads as SQL, a command, code, a path, a URL, or opaque ``data``.
FIELD_GROUPS = frozenset({"all", "sql", "command", "code", "path", "url", "data"})


class Signal(StrEnum):
    """What the kernel does with a matching action (strongest first)."""

    SIGKILL = "SIGKILL"
    """Block before execution; the agent cannot catch or override it."""
    SIGSTOP = "SIGSTOP"
    """Pause for human review: approve, deny, or timeout (which denies)."""
    SIGWARN = "SIGWARN"
    """Log and let the action run."""

    @property
    def decision(self) -> Decision:
        """The decision this signal produces."""
        return _SIGNAL_DECISION[self]

    @property
    def rank(self) -> int:
        """Precedence: lower is stronger (SIGKILL 0, SIGSTOP 1, SIGWARN 2)."""
        return _SIGNAL_RANK[self]


class Decision(StrEnum):
    """The outcome of a policy check."""

    ALLOW = "allow"
    DENY = "deny"
    REVIEW = "review"
    WARN = "warn"

    @property
    def signal(self) -> Signal | None:
        """The signal that produces this decision (``None`` for allow)."""
        return _DECISION_SIGNAL[self]


_SIGNAL_DECISION = {
    Signal.SIGKILL: Decision.DENY,
    Signal.SIGSTOP: Decision.REVIEW,
    Signal.SIGWARN: Decision.WARN,
}
_DECISION_SIGNAL: dict[Decision, Signal | None] = {
    Decision.ALLOW: None,
    Decision.DENY: Signal.SIGKILL,
    Decision.REVIEW: Signal.SIGSTOP,
    Decision.WARN: Signal.SIGWARN,
}
_SIGNAL_RANK = {Signal.SIGKILL: 0, Signal.SIGSTOP: 1, Signal.SIGWARN: 2}

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """A rule id from free text: ``"PII detected"`` -> ``"pii-detected"``."""
    return _SLUG_STRIP.sub("-", text.lower()).strip("-")[:48].strip("-") or "rule"


def _coerce_signal(value: object, rule: str | None) -> Signal:
    if isinstance(value, Signal):
        return value
    if isinstance(value, str):
        try:
            return Signal(value.strip().upper())
        except ValueError:
            pass
    raise PolicyLoadError(
        f"expected one of {', '.join(s.value for s in Signal)}, got {value!r}",
        rule=rule,
        field="signal",
    )


@dataclass(frozen=True, slots=True)
class Pattern:
    """A blocked pattern: an RE2 regex over normalised argument text.

    ``fields`` limits the pattern to argument field groups (``"sql"``,
    ``"command"``, ``"code"``, ``"path"``, ``"url"``, ``"data"``, ``"all"``); ``None``
    means all.
    Matching is case-insensitive and whitespace-run-insensitive (a literal
    space in the regex matches any run of whitespace).
    """

    regex: str
    reason: str
    signal: Signal = Signal.SIGKILL
    id: str | None = None
    fields: tuple[str, ...] | None = None
    #: Review terms of a SIGSTOP pattern (``approvals``, ``review_timeout``).
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        rule = repr(self.id) if isinstance(self.id, str) else None
        if not isinstance(self.regex, str) or not self.regex:
            raise PolicyLoadError("pattern must be a non-empty string", rule=rule, field="pattern")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise PolicyLoadError("reason must be a non-empty string", rule=rule, field="reason")
        object.__setattr__(self, "signal", _coerce_signal(self.signal, rule))
        check_terms(self.review, self.signal, rule)
        if self.id is None:
            object.__setattr__(self, "id", slug(self.reason))
        elif not isinstance(self.id, str) or not self.id.strip():
            raise PolicyLoadError("id must be a non-empty string", rule=rule, field="id")
        if self.fields is not None:
            fields = self.fields
            if not isinstance(fields, tuple | list) or not all(isinstance(f, str) for f in fields):
                raise PolicyLoadError("fields must be a list of strings", rule=rule, field="fields")
            unknown = sorted(set(fields) - FIELD_GROUPS)
            if unknown or not fields:
                raise PolicyLoadError(
                    f"unknown field group(s) {unknown}; valid: {sorted(FIELD_GROUPS)}",
                    rule=rule,
                    field="fields",
                )
            object.__setattr__(self, "fields", tuple(dict.fromkeys(fields)))

    @property
    def rule_id(self) -> str:
        """The rule id (``id`` after defaulting; never ``None``)."""
        assert self.id is not None
        return self.id


@dataclass(frozen=True, slots=True)
class ActionRule:
    """A blocked action type, e.g. ``file_write``; its id is ``action:<type>``."""

    action: str
    reason: str = ""
    signal: Signal = Signal.SIGKILL
    id: str | None = None
    #: Review terms of a SIGSTOP rule (``approvals``, ``review_timeout``).
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        rule = repr(self.action) if isinstance(self.action, str) else None
        if not isinstance(self.action, str) or not self.action.strip():
            raise PolicyLoadError("action must be a non-empty string", rule=rule, field="action")
        object.__setattr__(self, "action", self.action.strip().casefold())
        object.__setattr__(self, "signal", _coerce_signal(self.signal, rule))
        check_terms(self.review, self.signal, rule)
        if not isinstance(self.reason, str):
            raise PolicyLoadError("reason must be a string", rule=rule, field="reason")
        if not self.reason:
            object.__setattr__(self, "reason", f"action {self.action} is blocked")
        if self.id is None:
            object.__setattr__(self, "id", f"action:{self.action}")
        elif not isinstance(self.id, str) or not self.id.strip():
            raise PolicyLoadError("id must be a non-empty string", rule=rule, field="id")

    @property
    def rule_id(self) -> str:
        """The rule id (``id`` after defaulting; never ``None``)."""
        assert self.id is not None
        return self.id


_VERDICT_STR = ("reason", "policy", "policy_hash", "code")
_VERDICT_OPT_STR = ("rule", "matched", "request_id", "kernel_id", "ticket", "classified_by")
_VERDICT_KEYS = frozenset(
    ("decision", "signal", "elapsed_us", "deadline", "kinds", *_VERDICT_STR, *_VERDICT_OPT_STR)
)
_VERDICT_OPTIONAL = frozenset(
    ("request_id", "kernel_id", "elapsed_us", "matched", "rule", "ticket", "deadline", "kinds",
     "classified_by")
)  # fmt: skip


def _malformed(detail: str) -> PolicyError:
    return PolicyError(f"malformed verdict: {detail}", code="malformed_verdict")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The kernel's judgement of one action.

    ``code`` is ``"ok"`` for an allow, ``"policy_violation"`` for a rule hit,
    ``"policy_default"`` when a non-allow policy default applied, and other
    stable codes (``"malformed_action"``, ``"bad_signature"``, ``"timeout"``,
    ...) for fail-closed denies. ``matched`` never holds a secret: secret-like
    text is redacted (``"AKIA****************"``). The worker fills
    ``request_id``, ``kernel_id`` and ``elapsed_us`` with ``dataclasses.replace``.

    ``kinds`` are the action kinds a tool call was classified into
    (``("shell_exec",)`` for a ``terminal`` tool) and ``classified_by`` the
    source of that classification (``"declared"``, ``"catalogue"``,
    ``"name"``, ``"args"`` or ``"none"``); both are empty for an action that
    carries no tool.
    """

    decision: Decision
    signal: Signal | None
    rule: str | None
    reason: str
    matched: str | None
    policy: str
    policy_hash: str
    code: str
    request_id: str | None = None
    kernel_id: str | None = None
    elapsed_us: float | None = field(default=None)
    #: A ``review`` verdict's review ticket and its deadline (Unix seconds): the
    #: held action's final verdict comes later (see ``agent_os.review``).
    ticket: str | None = None
    deadline: float | None = None
    kinds: tuple[str, ...] = ()
    classified_by: str | None = None

    @property
    def allowed(self) -> bool:
        """True when the action may run now (allow or warn)."""
        return self.decision is Decision.ALLOW or self.decision is Decision.WARN

    @classmethod
    def deny(cls, code: str, reason: str, *, policy: str = "", policy_hash: str = "") -> Verdict:
        """A fail-closed deny that no rule produced (bad signature, timeout, ...)."""
        return cls(
            decision=Decision.DENY,
            signal=Signal.SIGKILL,
            rule=None,
            reason=reason,
            matched=None,
            policy=policy,
            policy_hash=policy_hash,
            code=code,
        )

    def bound(self, request_id: str | None, kernel_id: str, elapsed_us: float) -> Verdict:
        """This verdict as the kernel ``kernel_id`` answers request ``request_id``."""
        return Verdict(
            self.decision, self.signal, self.rule, self.reason, self.matched, self.policy,
            self.policy_hash, self.code, request_id, kernel_id, elapsed_us, self.ticket,
            self.deadline, self.kinds, self.classified_by,
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (enums as their string values)."""
        return {
            "decision": self.decision.value,
            "signal": None if self.signal is None else self.signal.value,
            "rule": self.rule,
            "reason": self.reason,
            "matched": self.matched,
            "policy": self.policy,
            "policy_hash": self.policy_hash,
            "code": self.code,
            "request_id": self.request_id,
            "kernel_id": self.kernel_id,
            "elapsed_us": self.elapsed_us,
            # Only review verdicts carry these: every other verdict's bytes stay as they were.
            **({} if self.ticket is None else {"ticket": self.ticket, "deadline": self.deadline}),
            # Only verdicts on tool calls carry these (older readers never see them otherwise).
            **(
                {}
                if self.classified_by is None
                else {"kinds": list(self.kinds), "classified_by": self.classified_by}
            ),
        }

    @classmethod
    def from_dict(cls, data: object) -> Verdict:
        """Parse :meth:`to_dict` output strictly.

        Raises :class:`PolicyError` with code ``"malformed_verdict"`` on a
        non-mapping, a missing or unknown key, or a value of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise _malformed(f"expected a mapping, got {type(data).__name__}")
        keys = set(data)
        unknown = keys - _VERDICT_KEYS
        if unknown:
            raise _malformed(f"unknown key(s) {sorted(map(str, unknown))}")
        missing = _VERDICT_KEYS - _VERDICT_OPTIONAL - keys
        if missing:
            raise _malformed(f"missing key(s) {sorted(missing)}")
        try:
            decision = Decision(data["decision"])
        except (ValueError, TypeError):
            raise _malformed(f"bad decision {data['decision']!r}") from None
        raw_signal = data["signal"]
        try:
            signal = None if raw_signal is None else Signal(raw_signal)
        except (ValueError, TypeError):
            raise _malformed(f"bad signal {raw_signal!r}") from None
        for key in _VERDICT_STR:
            if not isinstance(data[key], str):
                raise _malformed(f"{key} must be a string")
        for key in _VERDICT_OPT_STR:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise _malformed(f"{key} must be a string or null")
        elapsed = data.get("elapsed_us")
        if elapsed is not None and (
            isinstance(elapsed, bool)
            or not isinstance(elapsed, int | float)
            or not math.isfinite(elapsed)
        ):
            raise _malformed("elapsed_us must be a finite number or null")
        deadline = data.get("deadline")
        if deadline is not None and (
            isinstance(deadline, bool)
            or not isinstance(deadline, int | float)
            or not math.isfinite(deadline)
        ):
            raise _malformed("deadline must be a finite number or null")
        kinds = data.get("kinds", [])
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise _malformed("kinds must be a list of strings")
        return cls(
            decision=decision,
            signal=signal,
            rule=data.get("rule"),
            reason=data["reason"],
            matched=data.get("matched"),
            policy=data["policy"],
            policy_hash=data["policy_hash"],
            code=data["code"],
            request_id=data.get("request_id"),
            kernel_id=data.get("kernel_id"),
            elapsed_us=None if elapsed is None else float(elapsed),
            ticket=data.get("ticket"),
            deadline=None if deadline is None else float(deadline),
            kinds=tuple(kinds),
            classified_by=data.get("classified_by"),
        )
