"""Review terms a SIGSTOP rule carries: how many reviewers, how long the review may take.

In a policy file any SIGSTOP rule (``blocked_actions``, ``blocked_patterns``,
``checks``, ``blocked_commands`` / ``paths`` / ``networks``, ``tools.rules``)
may say::

    tools:
      rules:
        - {tool: send_money, signal: SIGSTOP, approvals: 2, review_timeout: 1h}

``approvals`` is a whole number >= 1 (distinct reviewers), ``review_timeout``
seconds or ``"90s"``, ``"15m"``, ``"1h"``. Terms on a rule that does not hold
for review are a load error (they would never apply). The review queue
(``agent_os.review``) uses them in preference to its separate rules file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ._errors import PolicyLoadError

__all__ = ["TERM_KEYS", "ReviewTerms", "check_terms", "parse_duration"]

#: The keys of a rule entry that hold review terms.
TERM_KEYS = ("approvals", "review_timeout")

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string such as ``"90s"``, ``"15m"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError(f"not a duration: {value!r} (use seconds or 90s, 15m, 1h)")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"a duration must be positive, not {value!r}")
    return seconds


@dataclass(frozen=True, slots=True)
class ReviewTerms:
    """A rule's review terms; ``None`` leaves a term to the review queue's defaults."""

    approvals: int | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        approvals = self.approvals
        if approvals is not None and (
            isinstance(approvals, bool) or not isinstance(approvals, int) or approvals < 1
        ):
            raise PolicyLoadError(
                f"approvals must be a whole number >= 1, got {approvals!r}", field="approvals"
            )
        if self.timeout is not None:
            try:
                object.__setattr__(self, "timeout", parse_duration(self.timeout))
            except ValueError as exc:
                raise PolicyLoadError(str(exc), field="review_timeout") from None
        if approvals is None and self.timeout is None:
            raise PolicyLoadError("give approvals, review_timeout or both", field="approvals")

    @classmethod
    def read(cls, entry: Any) -> ReviewTerms | None:
        """The terms in a rule's mapping form (``approvals``, ``review_timeout``), if any."""
        if not any(key in entry for key in TERM_KEYS):
            return None
        return cls(entry.get("approvals"), entry.get("review_timeout"))

    def to_dict(self) -> dict[str, Any]:
        """The rule-entry keys these terms are written as (only the terms given)."""
        out: dict[str, Any] = {}
        if self.approvals is not None:
            out["approvals"] = self.approvals
        if self.timeout is not None:
            out["review_timeout"] = self.timeout
        return out


def check_terms(review: object, signal: object, rule: str | None) -> None:
    """Refuse terms that are not :class:`ReviewTerms` or sit on a rule that is not SIGSTOP."""
    if review is None:
        return
    if not isinstance(review, ReviewTerms):
        raise PolicyLoadError("review must be ReviewTerms", rule=rule, field="approvals")
    if str(signal) != "SIGSTOP":
        field = "approvals" if review.approvals is not None else "review_timeout"
        raise PolicyLoadError(
            f"review terms need signal SIGSTOP (this rule's signal is {signal})",
            rule=rule,
            field=field,
        )
