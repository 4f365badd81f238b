"""The review store's two tables: their schema, and an item or a decision as a row and back.

An unreadable row is a :class:`ReviewStoreError` naming its ticket, never a
guess: a verdict or arguments that do not parse stop there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from agent_os.policies import PolicyError, Verdict

from ._errors import ReviewStoreError
from ._item import DecisionRecord, ReviewItem, Status, dumps

ITEMS = "agentos_review_items"
DECISIONS = "agentos_review_decisions"
ITEM_COLUMNS = (
    "ticket", "request_id", "agent_id", "action", "tool", "args", "args_digest", "verdict",
    "created_at", "deadline", "approvals", "status", "decided_at", "decided_by", "comment",
    "signature",
)  # fmt: skip
DECISION_COLUMNS = ("ticket", "reviewer", "signer", "approve", "comment", "at", "signed")


def schema(real: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {ITEMS} ("
        "ticket TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL, "
        "action TEXT NOT NULL, tool TEXT, args TEXT NOT NULL, args_digest TEXT NOT NULL, "
        f"verdict TEXT NOT NULL, created_at {real} NOT NULL, deadline {real} NOT NULL, "
        "approvals INTEGER NOT NULL, status TEXT NOT NULL, "
        f"decided_at {real}, decided_by TEXT, comment TEXT, signature TEXT)",
        f"CREATE INDEX IF NOT EXISTS {ITEMS}_status ON {ITEMS} (status, created_at)",
        f"CREATE INDEX IF NOT EXISTS {ITEMS}_agent ON {ITEMS} (agent_id, status, deadline)",
        f"CREATE TABLE IF NOT EXISTS {DECISIONS} ("
        "ticket TEXT NOT NULL, reviewer TEXT NOT NULL, signer TEXT NOT NULL, "
        f"approve INTEGER NOT NULL, comment TEXT NOT NULL, at {real} NOT NULL, "
        "signed TEXT NOT NULL, PRIMARY KEY (ticket, reviewer))",
    ]


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def item_row(item: ReviewItem) -> tuple[object, ...]:
    return (
        item.ticket,
        item.request_id,
        item.agent_id,
        item.action,
        item.tool,
        dumps(dict(item.args)),
        item.args_digest,
        dumps(item.verdict.to_dict()),
        item.created_at,
        item.deadline,
        item.approvals,
        item.status.value,
        item.decided_at,
        item.decided_by,
        item.comment,
        b64(item.signature),
    )


def item_from_row(row: Sequence[Any], decisions: Sequence[DecisionRecord]) -> ReviewItem:
    data = dict(zip(ITEM_COLUMNS, row, strict=True))
    try:
        verdict = Verdict.from_dict(json.loads(data["verdict"]))
        args = json.loads(data["args"])
        status = Status(data["status"])
    except (ValueError, PolicyError) as exc:
        raise ReviewStoreError(
            f"review item {data['ticket']} is unreadable: {exc}", retryable=False
        ) from exc
    return ReviewItem(
        ticket=data["ticket"],
        request_id=data["request_id"],
        agent_id=data["agent_id"],
        action=data["action"],
        tool=data["tool"],
        args=args,
        args_digest=data["args_digest"],
        verdict=verdict,
        created_at=float(data["created_at"]),
        deadline=float(data["deadline"]),
        approvals=int(data["approvals"]),
        status=status,
        decided_at=None if data["decided_at"] is None else float(data["decided_at"]),
        decided_by=data["decided_by"],
        comment=data["comment"],
        signature=unb64(data["signature"]),
        decisions=tuple(decisions),
    )


def decision_from_row(row: Sequence[Any]) -> DecisionRecord:
    ticket, reviewer, signer, approve, comment, at, signed = row
    return DecisionRecord(
        ticket=ticket,
        reviewer=reviewer,
        signer=signer,
        approve=bool(approve),
        comment=comment,
        at=float(at),
        signed=base64.b64decode(signed),
    )
