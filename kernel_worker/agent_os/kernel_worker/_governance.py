"""The governance flow both kernels run: judge, fail closed, hold SIGSTOP actions.

``KernelSpace`` (in-process) and ``Worker`` (bus) used to carry their own
copies of what happens around the policy, and the copies had drifted: only
one survived a policy engine or approver that raised, audited the review
outcome and counted it. Both now call :class:`Governance`:

* :meth:`Governance.evaluate` runs the policy; an exception is a deny
  (``internal_error``), never an allow.
* :meth:`Governance.hold` takes a ``review`` verdict. With a durable
  :class:`~agent_os.review.ReviewQueue` the action is recorded in the review
  store; the worker answers at once with the ticket (``wait=False``: the
  agent waits on the review desks) while the in-process kernel waits for the
  decision (``wait=True``). With an :class:`Approver` (in-process review:
  tests, demos, a framework's own human-in-the-loop step) the approver
  decides and a raising approver is a deny. Whenever the outcome is known
  here it is audited and counted, the same way for both kernels. A hold
  the review queue refuses because a cap on pending items is reached
  (:class:`~agent_os.review.ReviewLimits`) is a deny with the cap's code
  (``review_backlog``, ``review_queue_full``), counted as refused.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_os.audit import AuditEvent
from agent_os.observability import Metrics, spanned
from agent_os.policies import Decision, ReviewTerms, Verdict
from agent_os.review import ReviewError, ReviewQueue, ReviewQueueFull

from ._review import Approver, ReviewOutcome, ReviewRequest

__all__ = ["Governance", "Held"]

log = logging.getLogger("agent_os.kernel")

#: How the final verdict of a durable review reads as an outcome.
_OUTCOMES = {"review_approved": ReviewOutcome.APPROVED, "review_timeout": ReviewOutcome.TIMEOUT}

Record = Callable[[AuditEvent], "Awaitable[None] | None"]
Decide = Callable[[Mapping[str, Any], "frozenset[str] | None"], Verdict]


@dataclass(frozen=True, slots=True)
class Held:
    """A held action's verdict now, and the review outcome if one is known yet."""

    verdict: Verdict
    outcome: ReviewOutcome | None


def _held_attributes(held: Held) -> dict[str, str]:
    outcome = "pending" if held.outcome is None else held.outcome.value
    return {"agentos.decision": held.verdict.decision.value, "agentos.review.outcome": outcome}


def settled(verdict: Verdict, outcome: ReviewOutcome) -> Verdict:
    """The final verdict of a reviewed action: an allow only when approved."""
    if outcome is ReviewOutcome.APPROVED:
        return dataclasses.replace(verdict, decision=Decision.ALLOW, code="review_approved")
    code = "review_timeout" if outcome is ReviewOutcome.TIMEOUT else "review_denied"
    return dataclasses.replace(verdict, decision=Decision.DENY, code=code)


def _refused(verdict: Verdict, exc: ReviewQueueFull) -> Verdict:
    return dataclasses.replace(verdict, decision=Decision.DENY, code=exc.code, reason=str(exc))


def _unavailable(verdict: Verdict, exc: Exception) -> Verdict:
    return dataclasses.replace(
        verdict,
        decision=Decision.DENY,
        code="review_unavailable",
        reason=f"the action needs review and the review store failed: {exc}",
    )


class Governance:
    """The one flow; see the module docstring.

    ``record`` takes each review-outcome audit event (sync or async; if it
    raises, so does :meth:`hold`, and the caller must not run the action).
    """

    def __init__(
        self,
        *,
        record: Record,
        approver: Approver | None = None,
        review: ReviewQueue | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._record = record
        self._approver = approver
        self._review = review
        self._metrics = metrics
        self._told: set[tuple[str, str]] = set()  # (code, agent) refusals already logged

    @property
    def review(self) -> ReviewQueue | None:
        return self._review

    @staticmethod
    def evaluate(
        decide: Decide, action: Mapping[str, Any], capabilities: frozenset[str] | None
    ) -> Verdict:
        """The policy's verdict; an engine that raises gives a deny, never an allow."""
        try:
            return decide(action, capabilities)
        except Exception as exc:
            log.exception("policy evaluation failed for %s", action.get("action"))
            return Verdict.deny("internal_error", f"policy evaluation failed: {exc!r}")

    @spanned("agentos.review", _held_attributes)
    async def hold(
        self,
        action: Mapping[str, Any],
        verdict: Verdict,
        *,
        wait: bool,
        approver: Approver | None = None,
        terms: ReviewTerms | None = None,
    ) -> Held:
        """Hold ``action`` (which carries its ``request_id``) judged ``verdict``.

        ``approver`` overrides the configured review for this one action.
        ``terms`` are the holding rule's review terms from the policy
        (``Policy.review_terms``); they win over the review queue's rules file.
        """
        chosen = approver or (None if self._review is not None else self._approver)
        if chosen is not None:
            outcome = await self._ask(chosen, action, verdict)
            final = settled(verdict, outcome)
        elif self._review is not None:
            try:
                item = await self._review.hold(action, verdict, terms)
            except ReviewQueueFull as exc:
                told = (exc.code, str(action.get("agent_id")))
                if told not in self._told and len(self._told) < 1000:  # once, not per flood item
                    self._told.add(told)
                    log.warning("not held for review, denied (%s): %s", exc.code, exc)
                if self._metrics is not None:
                    self._metrics.review_refused(exc.code)
                return Held(_refused(verdict, exc), None)
            except ReviewError as exc:
                log.warning("review store unavailable; denying: %s", exc)
                return Held(_unavailable(verdict, exc), None)
            if not wait:
                return Held(self._review.pending(item), None)
            try:
                _, final = await self._review.settled(item.ticket)
            except (ReviewError, LookupError) as exc:
                log.warning("review of %s cannot be read; denying: %s", item.ticket, exc)
                final = _unavailable(verdict, exc)
            outcome = _OUTCOMES.get(final.code, ReviewOutcome.DENIED)
        else:
            # Nobody can review: the verdict stays "review", which no caller runs.
            return Held(verdict, None)
        # The event names the rule that held the action and how its review ended.
        result = self._record(AuditEvent.from_verdict(action, verdict, review=outcome))
        if inspect.isawaitable(result):
            await result
        if self._metrics is not None:
            self._metrics.observe_review(outcome)
        return Held(final, outcome)

    @staticmethod
    async def _ask(
        approver: Approver, action: Mapping[str, Any], verdict: Verdict
    ) -> ReviewOutcome:
        request = ReviewRequest(str(action["request_id"]), action, verdict)
        try:
            return ReviewOutcome(await approver.review(request))
        except Exception:
            log.exception("approver failed on %s; denying", request.request_id)
            return ReviewOutcome.DENIED
