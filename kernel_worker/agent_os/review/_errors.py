"""Errors of the review queue.

ReviewError            base; ``code`` is stable and may cross a process boundary
├── ReviewStoreError   the store cannot be opened, read or written ("review_store",
│                      retryable; "review_store_missing" and "missing_dependency" are not)
├── ReviewQueueFull    a held action was not recorded: its agent has too many items
│                      pending ("review_backlog") or the store has ("review_queue_full")
└── DecisionRefused    a reviewer's decision was not taken; the message says why:
                       "not_found", "already_decided", "expired", "same_reviewer",
                       "bad_signature", "not_reviewer", "not_on_behalf", "malformed_decision"
"""

from __future__ import annotations

__all__ = ["DecisionRefused", "ReviewError", "ReviewQueueFull", "ReviewStoreError"]


class ReviewError(Exception):
    """Something in the review queue failed; ``code`` says what."""

    code: str = "review_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.retryable = retryable


class ReviewStoreError(ReviewError):
    """A review store failed. Retryable unless the code says otherwise."""

    code = "review_store"

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = True) -> None:
        super().__init__(message, code=code, retryable=retryable)


class ReviewQueueFull(ReviewError):
    """A held action was not recorded because a cap on pending items is reached (a deny)."""

    code = "review_queue_full"


class DecisionRefused(ReviewError):
    """A decision was refused (decided already, past the deadline, not a reviewer, ...)."""

    code = "decision_refused"
