"""Structural rule kinds: analysis checks, blocked commands, blocked paths, blocked networks.

* :class:`Check` enables one structural analysis (``sql:delete``,
  ``shell:rm-rf``, ``code:process-exec``, ``secret:stripe-key``...; see
  ``analysis``). In YAML ``checks: [sql, shell, code, secrets]`` enables every
  check of an analyser.
* :class:`CommandRule` blocks executables by name (or ``fnmatch`` glob) however
  they are wrapped: ``blocked_commands: [rm, mkfs*, dd]``.
* :class:`PathRule` blocks paths by glob over canonical paths, for every
  action and for paths named in shell commands: ``blocked_paths: ["~/.ssh/**"]``.
* :class:`NetworkRule` blocks address ranges (CIDR or a name from
  ``NAMED_NETWORKS``) and the host names that always point into them:
  ``blocked_networks: [metadata, "10.0.0.0/8"]``.

Each has an ``id`` (defaulted from its first entry), a ``reason`` and a
``signal``; invalid values raise :class:`PolicyLoadError` naming the field.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from agent_os.policies.analysis._code import CODE_CHECKS
from agent_os.policies.analysis._net import NAMED_HOSTS, NAMED_NETWORKS
from agent_os.policies.analysis._path import glob_regex
from agent_os.policies.analysis._secrets import SECRET_CHECKS
from agent_os.policies.analysis._shell import SHELL_CHECKS
from agent_os.policies.analysis._shell_ops import WRITE_CHECKS
from agent_os.policies.analysis._sql import SQL_CHECKS

from ._errors import PolicyLoadError
from ._terms import ReviewTerms, check_terms
from ._types import Signal, _coerce_signal

__all__ = [
    "CHECKS",
    "CHECK_GROUPS",
    "Check",
    "CommandRule",
    "NetworkRule",
    "PathRule",
]

#: Every structural check id -> its default reason.
CHECKS: dict[str, str] = {
    **SQL_CHECKS,
    **SHELL_CHECKS,
    **CODE_CHECKS,
    **SECRET_CHECKS,
    **WRITE_CHECKS,
}
#: Group names usable in ``checks`` -> the check ids they stand for.
CHECK_GROUPS: dict[str, tuple[str, ...]] = {
    "sql": tuple(SQL_CHECKS),
    "shell": tuple(SHELL_CHECKS),
    "code": tuple(CODE_CHECKS),
    "secrets": tuple(SECRET_CHECKS),
    "writes": tuple(WRITE_CHECKS),
}


def _entries(value: Any, rule: str | None, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        detail = "must be a non-empty string or list of strings"
        raise PolicyLoadError(detail, rule=rule, field=field)
    return tuple(dict.fromkeys(v.strip() for v in value))


def _common(rule: Any, first: str, field: str) -> None:
    label = repr(rule.id) if isinstance(rule.id, str) else None
    object.__setattr__(rule, "signal", _coerce_signal(rule.signal, label))
    check_terms(rule.review, rule.signal, label)
    if not isinstance(rule.reason, str):
        raise PolicyLoadError("reason must be a string", rule=label, field="reason")
    if rule.id is None:
        object.__setattr__(rule, "id", f"{field}:{first}")
    elif not isinstance(rule.id, str) or not rule.id.strip():
        raise PolicyLoadError("id must be a non-empty string", rule=label, field="id")


@dataclass(frozen=True, slots=True)
class Check:
    """One structural analysis check, enabled with a signal (id: e.g. ``"sql:delete"``)."""

    id: str
    signal: Signal = Signal.SIGKILL
    reason: str = ""
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or self.id not in CHECKS:
            raise PolicyLoadError(
                f"unknown check {self.id!r}; valid: {', '.join([*CHECK_GROUPS, *CHECKS])}",
                rule=repr(self.id),
                field="check",
            )
        object.__setattr__(self, "signal", _coerce_signal(self.signal, repr(self.id)))
        check_terms(self.review, self.signal, repr(self.id))
        if not isinstance(self.reason, str):
            raise PolicyLoadError("reason must be a string", rule=repr(self.id), field="reason")
        if not self.reason:
            object.__setattr__(self, "reason", CHECKS[self.id])

    @property
    def rule_id(self) -> str:
        """The rule id (the check id)."""
        return self.id


@dataclass(frozen=True, slots=True)
class CommandRule:
    """Blocked executables: names or globs (``mkfs*``) matched against the real executable."""

    commands: tuple[str, ...]
    reason: str = ""
    signal: Signal = Signal.SIGKILL
    id: str | None = None
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        commands = _entries(self.commands, None, "command")
        object.__setattr__(self, "commands", tuple(c.casefold() for c in commands))
        _common(self, self.commands[0], "command")
        if not self.reason:
            object.__setattr__(self, "reason", f"command {', '.join(self.commands)} is blocked")

    @property
    def rule_id(self) -> str:
        """The rule id (``command:<first name>`` unless given)."""
        assert self.id is not None
        return self.id

    def regexes(self) -> list[str]:
        """One RE2 regex per command glob (matched against an executable's basename)."""
        return [glob_regex(command) for command in self.commands]


@dataclass(frozen=True, slots=True)
class PathRule:
    """Blocked paths: globs over canonical paths (``/etc/**``, ``~/.ssh/**``, ``.env``)."""

    paths: tuple[str, ...]
    reason: str = ""
    signal: Signal = Signal.SIGKILL
    id: str | None = None
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        paths = _entries(self.paths, None, "path")
        object.__setattr__(self, "paths", paths)
        for glob in paths:
            glob_regex(glob)
        _common(self, paths[0], "path")
        if not self.reason:
            object.__setattr__(self, "reason", f"path {', '.join(paths)} is protected")

    @property
    def rule_id(self) -> str:
        """The rule id (``path:<first glob>`` unless given)."""
        assert self.id is not None
        return self.id


@dataclass(frozen=True, slots=True)
class NetworkRule:
    """Blocked address ranges: CIDRs or named ranges (``metadata``, ``private``, ...)."""

    networks: tuple[str, ...]
    reason: str = ""
    signal: Signal = Signal.SIGKILL
    id: str | None = None
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        entries = _entries(self.networks, None, "network")
        object.__setattr__(self, "networks", entries)
        for entry in entries:
            if entry not in NAMED_NETWORKS:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise PolicyLoadError(
                        f"{entry!r} is not a CIDR or one of {', '.join(NAMED_NETWORKS)}",
                        rule=None if self.id is None else repr(self.id),
                        field="network",
                    ) from None
        _common(self, entries[0], "net")
        if not self.reason:
            object.__setattr__(self, "reason", f"address range {', '.join(entries)} is blocked")

    @property
    def rule_id(self) -> str:
        """The rule id (``net:<first entry>`` unless given)."""
        assert self.id is not None
        return self.id

    def ranges(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The address ranges this rule covers."""
        out = []
        for entry in self.networks:
            for cidr in NAMED_NETWORKS.get(entry, (entry,)):
                out.append(ipaddress.ip_network(cidr, strict=False))
        return tuple(out)

    def hosts(self) -> tuple[str, ...]:
        """Host names that always resolve into this rule's ranges."""
        return tuple(h for entry in self.networks for h in NAMED_HOSTS.get(entry, ()))
