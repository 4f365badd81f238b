"""The review queue as the kernel and the reviewers use it.

:class:`ReviewQueue` is what a kernel holds: it records a held action (with
the deadline and approvals its rule asks for, and a webhook notice) and, for
the in-process kernel, waits for the item to settle by re-reading the store.
:func:`take_decision` is what the CLI and the console call: verify the signed
decision, apply it to the store (first decision wins), audit it, and tell the
desks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from agent_os.bus import Bus, new_id
from agent_os.policies import ReviewTerms, Verdict
from agent_os.trust import TrustRegistry

from ._decision import verify_decision
from ._desk import Record, publish_decided
from ._item import ReviewItem
from ._limits import ReviewLimits
from ._notify import Webhook
from ._rules import ReviewRules
from ._store import ReviewStore
from ._verdicts import decision_event, final_verdict, pending_verdict

__all__ = ["ReviewQueue", "take_decision"]

log = logging.getLogger("agent_os.review")


class ReviewQueue:
    """Records held actions in ``store`` under ``rules``; see the module docstring.

    ``registry`` must know the reviewers: an approval becomes an allow only
    when their signatures verify against it. ``limits`` caps the pending
    items per agent and in all (default :class:`ReviewLimits`: 20 and 10,000);
    a hold past a cap raises :class:`ReviewQueueFull`.
    """

    def __init__(
        self,
        store: ReviewStore,
        *,
        registry: TrustRegistry,
        rules: ReviewRules | None = None,
        webhook: Webhook | None = None,
        poll: float = 0.5,
        limits: ReviewLimits | None = None,
    ) -> None:
        self.store = store
        self.limits = ReviewLimits() if limits is None else limits
        if self.limits.per_agent is None:
            log.warning(
                "no cap on pending review items per agent: one agent can fill the review queue"
            )
        self.registry = registry
        self.rules = rules or ReviewRules()
        self._webhook = webhook
        self._poll = poll
        self._overlaps: set[str] = set()

    async def hold(
        self, action: Mapping[str, Any], verdict: Verdict, terms: ReviewTerms | None = None
    ) -> ReviewItem:
        """Record ``action`` held by ``verdict``; the item (the first one, for a redelivery).

        ``terms`` are the holding rule's own review terms from the policy: they
        win over ``rules`` (a warning, once per rule, when both give terms).
        """
        timeout, approvals, overlap = self.rules.with_policy(verdict.rule, terms)
        if overlap and verdict.rule not in self._overlaps:
            self._overlaps.add(str(verdict.rule))
            log.warning(
                "rule %s has review terms in policy %s and in the review rules file; "
                "the policy's apply",
                verdict.rule,
                verdict.policy,
            )
        item = ReviewItem.hold(
            new_id(), action, verdict, now=time.time(), timeout=timeout, approvals=approvals
        )
        stored, created = await asyncio.to_thread(self.store.add, item, self.limits)
        if created and self._webhook is not None:
            self._webhook.notify(stored)
        return stored

    def pending(self, item: ReviewItem) -> Verdict:
        """The ``review`` verdict for a held item (ticket and deadline)."""
        return pending_verdict(item)

    async def settled(self, ticket: str) -> tuple[ReviewItem, Verdict]:
        """Wait until ``ticket`` settles or expires; the item and its final verdict."""
        while True:
            item = await asyncio.to_thread(self.store.get, ticket)
            if item is None:
                raise LookupError(f"review item {ticket} is gone from the store")
            now = time.time()
            verdict = final_verdict(item, self.registry, now)
            if item.status_at(now).final:
                return item, verdict
            await asyncio.sleep(max(0.0, min(self._poll, item.deadline - now)))


async def take_decision(
    store: ReviewStore,
    registry: TrustRegistry,
    signed: bytes,
    *,
    bus: Bus | None = None,
    record: Record | None = None,
) -> ReviewItem:
    """Verify and apply one signed decision; raises ``DecisionRefused`` saying why not."""
    now = time.time()
    decision = verify_decision(registry, signed, now=now)
    item = await asyncio.to_thread(store.decide, decision, now)
    if record is not None:
        await record(decision_event(item, decision, now))
    if bus is not None and item.status.final:
        await publish_decided(bus, item.ticket)
    return item
