"""Durable human review of SIGSTOP actions: the store, decisions, the desk, notifications.

A SIGSTOP verdict holds an action. The kernel records a :class:`ReviewItem`
in a :class:`ReviewStore` (SQLite embedded, PostgreSQL for fleets) and the
agent gets a ``review`` verdict with the ticket and deadline at once. A
reviewer decides with ``agent-os review approve|deny`` (signed with their own
key) or in the console (signed by the console's key on their behalf); the
first decision wins, a rule may need two distinct reviewers, and none by the
deadline is a deny. Any :class:`ReviewDesk` (every worker runs one, and the
console) hands the final verdict to the waiting agent, signed by a kernel
key the agent pins. Workers keep no review state. :class:`ReviewLimits` caps
the pending items per agent and in all: a hold past a cap is denied
(``review_backlog``, ``review_queue_full``).
"""

from ._decision import DECISION_RECIPIENT, ON_BEHALF, sign_decision, verify_decision
from ._desk import (
    DECIDED_SUBJECT,
    REVIEW_GROUP,
    WAIT_RECIPIENT,
    WAIT_SUBJECT,
    ReviewDesk,
    publish_decided,
)
from ._errors import DecisionRefused, ReviewError, ReviewQueueFull, ReviewStoreError
from ._item import DecisionRecord, ReviewItem, Status, format_age, redact_args
from ._limits import DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_PER_AGENT, ReviewLimits
from ._notify import Webhook, slack_payload
from ._queue import ReviewQueue, take_decision
from ._rules import DEFAULT_REVIEW_TIMEOUT, ReviewRule, ReviewRules, parse_duration
from ._store import PostgresReviewStore, ReviewStore, SqliteReviewStore, open_review_store
from ._verdicts import decision_event, final_verdict, outcome_event, pending_verdict
from ._wait import accept_verdict, wait_for_decision

__all__ = [
    "DECIDED_SUBJECT",
    "DECISION_RECIPIENT",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_MAX_PENDING_PER_AGENT",
    "DEFAULT_REVIEW_TIMEOUT",
    "ON_BEHALF",
    "REVIEW_GROUP",
    "WAIT_RECIPIENT",
    "WAIT_SUBJECT",
    "DecisionRecord",
    "DecisionRefused",
    "PostgresReviewStore",
    "ReviewDesk",
    "ReviewError",
    "ReviewItem",
    "ReviewLimits",
    "ReviewQueue",
    "ReviewQueueFull",
    "ReviewRule",
    "ReviewRules",
    "ReviewStore",
    "ReviewStoreError",
    "SqliteReviewStore",
    "Status",
    "Webhook",
    "accept_verdict",
    "decision_event",
    "final_verdict",
    "format_age",
    "open_review_store",
    "outcome_event",
    "parse_duration",
    "pending_verdict",
    "publish_decided",
    "redact_args",
    "sign_decision",
    "slack_payload",
    "take_decision",
    "verify_decision",
    "wait_for_decision",
]
