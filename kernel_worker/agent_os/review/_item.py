"""What a review item is: the held action, its deadline, its status and its decisions.

Arguments are redacted *before* they are stored: the store, the CLI and the
console only ever hold what a reviewer may see (secret-like spans masked by
the policy engine's own redaction), plus the SHA-256 of the real arguments so
the item stays bound to exactly what was judged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agent_os.audit import args_digest
from agent_os.policies import Verdict
from agent_os.policies.analysis._re import redact

__all__ = ["DecisionRecord", "ReviewItem", "Status", "format_age", "redact_args"]

#: Longest string a reviewer sees in one argument (the rest is elided).
_ARG_MAX = 2000


class Status(StrEnum):
    """Where an item stands. Only ``APPROVED`` lets the action run."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self is not Status.PENDING


#: Argument names whose values are secrets whatever they look like.
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|credential|auth)",
    re.IGNORECASE,
)


def _redact_value(value: Any, name: str = "") -> Any:
    if name and _SECRET_NAME.search(name) and value not in (None, "", [], {}):
        return "****"
    if isinstance(value, str):
        return redact(value, secret=False, limit=_ARG_MAX)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, name) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(repr(value), secret=False, limit=_ARG_MAX)


def redact_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` as a reviewer may see them: secrets masked, whitespace collapsed, long text cut."""
    return {str(k): _redact_value(v, str(k)) for k, v in args.items()}


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One reviewer's decision on an item, with the signed message that carried it.

    ``reviewer`` is the person (a reviewer identity); ``signer`` the key that
    signed (the reviewer's own, or a console's on the reviewer's behalf).
    """

    ticket: str
    reviewer: str
    signer: str
    approve: bool
    comment: str
    at: float
    signed: bytes = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "reviewer": self.reviewer,
            "signer": self.signer,
            "decision": "approve" if self.approve else "deny",
            "comment": self.comment,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A held action waiting for (or past) a human decision."""

    ticket: str
    request_id: str
    agent_id: str
    action: str
    tool: str | None
    args: Mapping[str, Any]
    args_digest: str
    verdict: Verdict
    created_at: float
    deadline: float
    approvals: int = 1
    status: Status = Status.PENDING
    decided_at: float | None = None
    decided_by: str | None = None
    comment: str | None = None
    signature: bytes | None = field(default=None, repr=False)
    decisions: tuple[DecisionRecord, ...] = ()

    @classmethod
    def hold(
        cls,
        ticket: str,
        action: Mapping[str, Any],
        verdict: Verdict,
        *,
        now: float,
        timeout: float,
        approvals: int = 1,
    ) -> ReviewItem:
        """A new pending item for ``action`` held by ``verdict``, due ``timeout`` s from ``now``."""
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"review timeout must be a positive number of seconds, not {timeout}")
        if approvals < 1:
            raise ValueError("approvals must be at least 1")
        args = action.get("args") or {}
        request_id = verdict.request_id or action.get("request_id")
        if not request_id:
            raise ValueError("a held action needs a request id")
        tool = action.get("tool")
        return cls(
            ticket=ticket,
            request_id=str(request_id),
            agent_id=str(action.get("agent_id", "")),
            action=str(action.get("action", "")),
            tool=None if tool is None else str(tool),
            args=redact_args(args if isinstance(args, Mapping) else {"value": args}),
            args_digest=args_digest(args),
            verdict=verdict,
            created_at=now,
            deadline=now + timeout,
            approvals=approvals,
        )

    @property
    def policy(self) -> str:
        return self.verdict.policy

    @property
    def rule(self) -> str | None:
        return self.verdict.rule

    @property
    def reason(self) -> str:
        return self.verdict.reason

    def status_at(self, now: float) -> Status:
        """The status as of ``now``: a pending item past its deadline is expired."""
        if self.status is Status.PENDING and now >= self.deadline:
            return Status.EXPIRED
        return self.status

    def approvers(self) -> list[str]:
        return [d.reviewer for d in self.decisions if d.approve]

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """JSON-ready form (what ``agent-os review list --json`` prints)."""
        status = self.status if now is None else self.status_at(now)
        return {
            "ticket": self.ticket,
            "request_id": self.request_id,
            "agent_id": self.agent_id,
            "action": self.action,
            "tool": self.tool,
            "args": dict(self.args),
            "args_digest": self.args_digest,
            "rule": self.rule,
            "reason": self.reason,
            "policy": self.verdict.policy,
            "policy_hash": self.verdict.policy_hash,
            "created_at": self.created_at,
            "deadline": self.deadline,
            "approvals": self.approvals,
            "status": status.value,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "comment": self.comment,
            "decisions": [d.to_dict() for d in self.decisions],
        }


def format_age(seconds: float) -> str:
    """A duration for people: ``42s``, ``3m 07s``, ``2h 05m``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def dumps(value: object) -> str:
    """Compact JSON for a stored column."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
