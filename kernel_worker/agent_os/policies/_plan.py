"""What a policy decides about an action before reading its argument values, and its hits.

An action's classification, the blocked actions of its type, its tool and
its classified kinds, the kind the structural rules read it as and the CLI
its tool is named after follow from the action type, the tool name, the
hints and the argument *names* alone whenever classification looked at no
value (``_classify.classify_keyed``). Agents call the same tools with the
same argument names again and again, so the engine keeps one :class:`Plan`
per (type, tool, argument names) and per policy, and an action costs a
look-up for all of it; only the values are read anew. Bounded: the plans
come from agents' names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._classify import Classification, classify_keyed
from ._names import program_of
from ._types import ActionRule, Signal, Verdict

__all__ = ["CLASSIFIED_ORDER", "MAX_PLANS", "NO_HIT", "RANK", "Hit", "Plan", "build_plan"]

# Orders of classified kinds' blocked actions: after every other rule.
CLASSIFIED_ORDER = 1 << 30
_ALL_STRINGS_KINDS = ("shell_exec", "sql", "code_exec")
_WRITE_KINDS = (
    "file_write", "file_modify", "file_append", "file_create", "file_copy", "file_move",
    "file_delete",
)  # fmt: skip
_TYPED_HINTS: dict[str, Mapping[str, object]] = {}
#: Plans a policy keeps (argument names come from agents: bound the memory).
MAX_PLANS = 4096

Offered = tuple[int, Signal, str, str, str | None]
RANK = {Signal.SIGKILL: 0, Signal.SIGSTOP: 1, Signal.SIGWARN: 2}
NO_HIT = 3


class Hit:
    """The strongest hit so far (mutable scratch for one evaluation).

    With a ``trace`` list, every offered hit is also written down (``explain``).
    """

    __slots__ = ("matched", "order", "rank", "reason", "rule", "signal", "trace")

    def __init__(self, trace: list[str] | None = None) -> None:
        self.rank = NO_HIT
        self.order = 0
        self.rule = ""
        self.reason = ""
        self.signal = Signal.SIGKILL
        self.matched: str | None = None
        self.trace = trace

    def offer(
        self, order: int, signal: Signal, rule: str, reason: str, matched: str | None
    ) -> None:
        if self.trace is not None:
            self.trace.append(f"hit {rule} {signal.value}: {reason}")
        rank = RANK[signal]
        if rank < self.rank or (rank == self.rank and order < self.order):
            self.rank, self.order, self.signal = rank, order, signal
            self.rule, self.reason, self.matched = rule, reason, matched

    def take(self, offers: tuple[Offered, ...]) -> None:
        """Offer hits already written down (a plan's), without writing them down again."""
        for order, signal, rule, reason, matched in offers:
            rank = RANK[signal]
            if rank < self.rank or (rank == self.rank and order < self.order):
                self.rank, self.order, self.signal = rank, order, signal
                self.rule, self.reason, self.matched = rule, reason, matched


class Plan:
    """Everything about one action that its argument values cannot change.

    ``kill``: the ``(signal, rule, reason)`` of a SIGKILL blocked action
    (evaluation ends there); ``offers``: the weaker blocked-action hits, in
    the order they were found (taken by the evaluation's :class:`Hit`, the
    strongest hit so far); ``struct_kind``: the kind the structural rules
    read (an executing kind first, else a writing kind, else the type);
    ``url_kind``: the kind the network rules check URLs for; ``net``: whether
    the network rules run even without a URL; ``allow``: the allow verdict
    for this classification, once one was given.
    """

    __slots__ = (
        "allow",
        "found",
        "kill",
        "net",
        "offers",
        "program",
        "quiet_tool",
        "struct_kind",
        "url_kind",
    )

    def __init__(
        self,
        found: Classification,
        kill: tuple[Signal, str, str] | None,
        offers: tuple[Offered, ...],
        struct_kind: str,
        url_kind: str,
        net: bool,
        program: str,
    ) -> None:
        self.found = found
        self.kill = kill
        self.offers = offers
        self.struct_kind = struct_kind
        self.url_kind = url_kind
        self.net = net
        self.program = program
        self.allow: Verdict | None = None
        # Whether the tool's name alone finds nothing as data (the judge's, once a plan).
        self.quiet_tool: bool | None = None


def _classify(kind: str, tool: str, action: Mapping[str, Any]) -> tuple[Classification, bool]:
    hints = action.get("hints")
    if hints is not None and not isinstance(hints, Mapping):
        hints = None
    if kind != "tool_call" and hints is None:
        # The common typed action: its declaration alone, one read-only mapping per kind.
        hints = _TYPED_HINTS.get(kind)
        if hints is None:
            hints = MappingProxyType({"action": kind})
            if len(_TYPED_HINTS) < 256:  # kinds come from agents: bound the memory
                _TYPED_HINTS[kind] = hints
    elif kind != "tool_call":
        # The action type is the caller's declaration; a declared hint adds to it.
        declared: Any = kind
        if hints is not None and hints.get("action") not in (None, kind):
            extra = hints["action"]
            declared = [kind, *(extra if isinstance(extra, list) else [extra])]
        hints = {**(hints or {}), "action": declared}
    # Hints come from the caller: classify() lets them add kinds, never take
    # away what the name, the catalogue or the arguments say (a terminal
    # declared file_read is still shell execution; tested in test_tool_classified).
    return classify_keyed(tool, action.get("args"), hints)


def build_plan(
    rules: Mapping[str, ActionRule],
    kind: str,
    tool: str | None,
    tool_key: str,
    action: Mapping[str, Any],
    trace: list[str] | None,
) -> tuple[Plan, bool]:
    """The plan of ``action`` under blocked actions ``rules``, and whether it may be kept.

    ``tool_key`` is the tool name as rules key it (``action_key``). With a
    ``trace``, the classification and each blocked action looked up are
    written down.
    """
    found, keyed = _classify(kind, tool or "", action)
    kinds = found.kinds
    if trace is not None:
        trace.append(
            f"classified {tool or kind!r} as {', '.join(kinds) or 'nothing'} (by {found.source})"
        )
    kill: tuple[Signal, str, str] | None = None
    offers: list[Offered] = []
    for key in (kind,) if tool is None else (kind, tool_key):
        rule = rules.get(key)
        if trace is not None:
            trace.append(f"blocked_actions[{key!r}]: {rule.rule_id if rule else 'none'}")
        if rule is not None:
            if rule.signal is Signal.SIGKILL:
                kill = (rule.signal, rule.rule_id, rule.reason)
                break
            offers.append((0, rule.signal, rule.rule_id, rule.reason, None))
            if trace is not None:
                trace.append(f"hit {rule.rule_id} {rule.signal.value}: {rule.reason}")
    if kill is None:
        for index, classified in enumerate(kinds):
            rule = rules.get(classified)
            if rule is not None and classified != kind:
                order = CLASSIFIED_ORDER + index
                offers.append((order, rule.signal, rule.rule_id, rule.reason, tool))
                if trace is not None:
                    trace.append(f"hit {rule.rule_id} {rule.signal.value}: {rule.reason}")
    # The kind the structural rules read: an executing kind first (all its
    # strings are analysed), else a writing kind (write-target checks).
    struct_kind = kind
    for classified in kinds:
        executes = classified in _ALL_STRINGS_KINDS and struct_kind not in _ALL_STRINGS_KINDS
        if executes or (classified in _WRITE_KINDS and struct_kind == kind):
            struct_kind = classified
    http = "http_request" in kinds
    plan = Plan(
        found,
        kill,
        tuple(offers),
        struct_kind,
        "http_request" if http else kind,
        http or struct_kind == "http_request",
        program_of(tool) if tool else "",
    )
    return plan, keyed
