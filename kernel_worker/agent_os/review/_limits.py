"""Caps on pending review items: per agent and in the whole store.

Without them one agent (a compromised one, or one stuck in a loop) can hold
any number of actions for review: reviewers then look for its one real
request among hundreds of decoys, and the store grows without bound. A held
action beyond a cap is not recorded; the governance flow denies it with the
cap's stable code, ``review_backlog`` (this agent has ``per_agent`` items
pending) or ``review_queue_full`` (the store has ``total``). Items of other
agents and redeliveries of an item already recorded are not affected.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import ReviewQueueFull

__all__ = ["DEFAULT_MAX_PENDING", "DEFAULT_MAX_PENDING_PER_AGENT", "ReviewLimits"]

DEFAULT_MAX_PENDING_PER_AGENT = 20
DEFAULT_MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class ReviewLimits:
    """How many items may wait for a decision; ``None`` is no cap (an explicit opt-out)."""

    per_agent: int | None = DEFAULT_MAX_PENDING_PER_AGENT
    total: int | None = DEFAULT_MAX_PENDING

    def __post_init__(self) -> None:
        for name in ("per_agent", "total"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(
                    f"review limit {name} must be a positive count or None, not {value!r}"
                )

    @classmethod
    def from_settings(cls, per_agent: int, total: int) -> ReviewLimits:
        """From settings where 0 means no cap."""
        return cls(per_agent or None, total or None)

    def refusal(self, agent_id: str, of_agent: int, pending: int) -> ReviewQueueFull | None:
        """Why one more item of ``agent_id`` may not be recorded, given the counts now."""
        if self.per_agent is not None and of_agent >= self.per_agent:
            return ReviewQueueFull(
                f"agent {agent_id} already has {of_agent} actions waiting for review "
                f"(at most {self.per_agent}); this one is denied until reviewers catch up",
                code="review_backlog",
            )
        if self.total is not None and pending >= self.total:
            return ReviewQueueFull(
                f"the review queue holds {pending} pending items (at most {self.total}); "
                "this action is denied until reviewers catch up",
                code="review_queue_full",
            )
        return None
