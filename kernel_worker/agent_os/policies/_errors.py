"""Errors raised by the kernel worker.

    PolicyError              base; ``code`` is stable and may cross a process boundary
    ├── PolicyLoadError      a policy file / mapping / pattern is invalid ("invalid_policy");
    │                        the message names the file, the policy, the rule and the field
    └── UnknownPolicy        no preset, file or policy of that name ("unknown_policy")

A malformed verdict on the wire raises ``PolicyError`` with code
``"malformed_verdict"``. None of these is retryable: the same input fails the
same way. Kernel errors that are not about policy content (e.g. a violation
raised to an agent, audit failures) hang off the same base.
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base class of every kernel-worker error.

    ``code`` is a stable string safe to put on the wire; class names never are.
    """

    code: str = "policy_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class PolicyLoadError(PolicyError):
    """A policy could not be loaded or compiled.

    ``file``, ``policy``, ``rule`` and ``field`` locate the problem (each may be
    ``None`` when it does not apply); the message spells all of them out.
    """

    code = "invalid_policy"

    def __init__(
        self,
        detail: str,
        *,
        file: str | None = None,
        policy: str | None = None,
        rule: str | None = None,
        field: str | None = None,
    ) -> None:
        self.detail = detail
        self.file = file
        self.policy = policy
        self.rule = rule
        self.field = field
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file!r}")
        if self.policy is not None:
            where.append(f"policy {self.policy!r}")
        if self.rule is not None:
            where.append(f"rule {self.rule}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return (
            f"invalid policy: {prefix}: {self.detail}"
            if prefix
            else f"invalid policy: {self.detail}"
        )

    def located(self, *, file: str | None = None, policy: str | None = None) -> PolicyLoadError:
        """Return a copy that also names ``file`` / ``policy`` where still unknown."""
        return PolicyLoadError(
            self.detail,
            file=self.file if self.file is not None else file,
            policy=self.policy if self.policy is not None else policy,
            rule=self.rule,
            field=self.field,
        )


def unknown_key(
    key: object,
    valid: tuple[str, ...],
    *,
    file: str | None = None,
    policy: str | None = None,
    rule: str | None = None,
) -> PolicyLoadError:
    """The load error for a key that is not one of ``valid``, suggesting the likely one."""
    import difflib

    close = difflib.get_close_matches(str(key), valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return PolicyLoadError(
        f"unknown key {key!r}{hint}; valid keys: {', '.join(valid)}",
        file=file,
        policy=policy,
        rule=rule,
        field=str(key),
    )


class UnknownPolicy(PolicyError):
    """No preset, policy file or policy in a file has the requested name."""

    code = "unknown_policy"


# -- in-process governance (KernelSpace, audit, review, metrics) ----------------------

from typing import TYPE_CHECKING  # noqa: E402  (appended section; see the tree above)

if TYPE_CHECKING:
    from ._types import Verdict


class PolicyViolation(PolicyError):
    """An action was refused and did not run. ``verdict`` says why.

    ``code`` is ``"policy_violation"`` (SIGKILL or another deny), or
    ``"review_denied"`` / ``"review_timeout"`` when a SIGSTOP review did not
    approve it. Raised by ``KernelSpace`` before the governed function runs.
    """

    code = "policy_violation"

    def __init__(self, verdict: Verdict, *, code: str | None = None) -> None:
        self.verdict = verdict
        signal = "deny" if verdict.signal is None else verdict.signal.value
        what = verdict.rule or verdict.code
        suffix = "" if code is None else f" ({code})"
        super().__init__(f"{signal} {what}: {verdict.reason}{suffix}", code=code)
