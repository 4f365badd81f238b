"""The structural half of evaluation: parsed SQL, lexed shell, canonical paths, parsed URLs.

Regex rules look at text; these rules look at what the text *does*. Each
analysis runs only on the field group it applies to, so benign actions that
carry no SQL, command, path or URL field pay nothing:

* SQL analysis: every string of a ``sql`` action, and ``sql`` fields
  (``query``, ``sql``, ``statement``) of other actions; gated by an RE2
  keyword prefilter (``_policy_sql.GATE``) before any parsing;
* shell analysis: every string of a ``shell_exec`` action, of a
  ``code_exec`` action unless its ``language`` names a non-shell language,
  and ``command`` fields (``command``, ``cmd``, ``script``, ``shell``); not
  ``code`` / ``source_code`` fields, which hold program source (regex
  ``command`` patterns still see them). The executables, paths and URLs it
  finds feed ``blocked_commands``, ``blocked_paths`` and the network rules;
* code analysis (``_code``): ``code`` fields, and every string of a
  ``code_exec`` action whose ``language`` is not a shell;
* secret detection (``_secrets``): every string of every action, whatever
  its field means (a key pasted into a search query leaks as surely as one in
  a request body), with adjacent strings joined for split secrets;
* persistence writes: ``path`` fields of a file write that name a start-up,
  scheduler or credential file (``~/.bashrc``, ``/etc/cron.d/x``, systemd
  units, ``authorized_keys``, ``.git/hooks``);
* path rules: ``path`` fields (``path``, ``file``, ``dest``...) and paths in
  shell commands, in every canonical spelling;
* network rules: ``url`` fields and URLs in shell commands, in every reading
  (``_struct_net``).

Hits are offered to the engine's accumulator through ``offer(order, signal,
rule, reason, matched)``; the engine keeps the strongest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import re2

from agent_os.policies.analysis._code import (
    analyse_code,
    paths_in,
    shell_escapes,
    sql_in,
    urls_in,
)
from agent_os.policies.analysis._path import GlobSet, canonical_paths, with_words
from agent_os.policies.analysis._re import OPTIONS, redact
from agent_os.policies.analysis._secrets import scan_secrets
from agent_os.policies.analysis._shell_host import erases_log
from agent_os.policies.analysis._shell_ops import data_target, persistence_target
from agent_os.policies.analysis._shell_words import RM_IN_TEXT
from agent_os.policies.analysis._sql import analyse_gated, sql_gate

from ._rules import CHECK_GROUPS, Check, CommandRule, NetworkRule, PathRule
from ._struct_net import NetworkChecks
from ._struct_texts import (
    SHELL_LANGUAGES,
    all_strings,
    gate_data,
    is_shell_source,
    language_of,
    shell_report,
)
from ._types import Signal

__all__ = ["Best", "Offer", "Structural"]

Offer = Callable[[int, Signal, str, str, str | None], None]


class Best(Protocol):
    """The strongest hit so far, as :meth:`Structural.evaluate` reads it."""

    rank: int
    order: int
    trace: list[str] | None


_SQL_ACTIONS = frozenset({"sql"})
_SHELL_ACTIONS = frozenset({"shell_exec", "code_exec"})
_SQL_IDS = frozenset(CHECK_GROUPS["sql"])
_CODE_IDS = frozenset(CHECK_GROUPS["code"])
_SECRET_IDS = frozenset(CHECK_GROUPS["secrets"])
_WRITE_IDS = frozenset(CHECK_GROUPS["writes"])
_WRITE_ACTIONS = frozenset({"file_write", "file_modify", "file_append", "file_create", "file_copy",
                            "file_move"})  # fmt: skip
# A move takes its source away too.
_DELETE_ACTIONS = frozenset({"file_delete", "file_move"})
_TARGET_ACTIONS = _WRITE_ACTIONS | _DELETE_ACTIONS
_UNANCHORED = re2._Anchor.UNANCHORED
# The shell analyser's budget for one script (``_shell``: 2 KB of text, 32
# commands, 4 KB lexed), spent by all command texts of one action together.
_SHELL_TEXTS = 32
_SHELL_CHARS = 2_048
_SHELL_WORK = 4_096
# The SQL analyser's budget for one text (``_sql``: 8 KB), spent the same way.
_SQL_TEXTS = 32
_SQL_CHARS = 8_192


def _compile_set(regexes: list[str]) -> Any:
    if not regexes:
        return None
    rule_set = re2.Set.SearchSet(OPTIONS)
    for regex in regexes:
        rule_set.Add(regex)
    rule_set.Compile()
    return rule_set


class Structural(NetworkChecks):
    """Compiled structural rules of one policy (immutable after construction)."""

    __slots__ = (
        "_allowed",
        "_blocked_domains",
        "_checks",
        "_code",
        "_command_map",
        "_command_rules",
        "_command_set",
        "_floors",
        "_groups",
        "_net_order",
        "_net_rules",
        "_networked",
        "_path_map",
        "_path_rules",
        "_path_set",
        "_secrets",
        "_shell",
        "_sql",
        "_writes",
        "active",
    )

    def __init__(
        self,
        checks: tuple[Check, ...],
        commands: tuple[CommandRule, ...],
        paths: tuple[PathRule, ...],
        networks: tuple[NetworkRule, ...],
        allowed_domains: tuple[str, ...] | None,
        blocked_domains: tuple[str, ...],
        net_order: int,
    ) -> None:
        self._checks = {check.id: (index, check) for index, check in enumerate(checks)}
        self._sql = any(c in _SQL_IDS for c in self._checks)
        self._command_rules = commands
        self._path_rules = paths
        self._code = any(c in _CODE_IDS for c in self._checks)
        self._secrets = any(c in _SECRET_IDS for c in self._checks)
        self._writes = any(c in _WRITE_IDS for c in self._checks)
        shell = self._checks.keys() - _SQL_IDS - _CODE_IDS - _SECRET_IDS - _WRITE_IDS
        self._shell = bool(shell) or bool(commands) or bool(paths)
        self._net_rules = tuple((rule, rule.ranges(), rule.hosts()) for rule in networks)
        self._allowed = allowed_domains
        self._blocked_domains = blocked_domains
        self._net_order = net_order
        self._networked = bool(self._net_rules or blocked_domains or allowed_domains is not None)
        command_regexes = [(i, r) for i, rule in enumerate(commands) for r in rule.regexes()]
        self._command_set = _compile_set([r for _, r in command_regexes])
        self._command_map = tuple(i for i, _ in command_regexes)
        path_globs = [(i, glob) for i, rule in enumerate(paths) for glob in rule.paths]
        self._path_set = GlobSet([glob for _, glob in path_globs]) if path_globs else None
        self._path_map = tuple(i for i, _ in path_globs)
        groups = set()
        if self._sql:
            groups.add("sql")
        if self._shell:
            groups.add("command")
        if self._code:
            groups.add("code")
        if paths:
            groups.add("path")
        self._groups = frozenset(groups)
        #: True when any structural rule other than a domain rule exists.
        self.active = bool(groups) or self._secrets or self._writes
        # The first rule order (from the base) each of the last steps can offer: code,
        # paths (and all after them), secrets.
        index = {check_id: at for check_id, (at, _) in self._checks.items()}
        last = len(self._checks) + len(commands) + len(paths)
        secrets = min((index[c] for c in _SECRET_IDS if c in index), default=last)
        writes = min((index[c] for c in _WRITE_IDS if c in index), default=last)
        path_floor = min(len(self._checks) + len(commands), writes, secrets)
        code = min((index[c] for c in _CODE_IDS if c in index), default=last)
        self._floors = (min(code, path_floor), path_floor, secrets)

    @property
    def groups(self) -> frozenset[str]:
        """Field groups the structural rules read (``url`` is the network rules' own)."""
        return self._groups

    # -- evaluation ---------------------------------------------------------------------

    def needed(self, kind: str, groups: Mapping[str, list[str]]) -> bool:
        """Cheap pre-check: could :meth:`evaluate` find anything in this action?"""
        if self._secrets or (self._writes and kind in _TARGET_ACTIONS and "path" in groups):
            return True
        if self._sql:
            if kind in _SQL_ACTIONS:
                return True
            for text in groups.get("sql", ()):
                if sql_gate(text):
                    return True
            if gate_data(groups):
                return True
        if self._shell and (kind in _SHELL_ACTIONS or "command" in groups):
            return True
        if self._code and (kind == "code_exec" or "code" in groups or "data" in groups):
            return True
        return self._path_set is not None and "path" in groups

    def evaluate(
        self,
        kind: str,
        args: object,
        groups: Mapping[str, list[str]],
        offer: Offer,
        base: int,
        best: Best | None = None,
    ) -> None:
        """Offer every structural hit of one action; rule orders start at ``base``.

        With ``best`` (the strongest hit so far, not tracing), a step whose every
        rule comes later in rule order than a SIGKILL already found is skipped:
        none of its hits could decide (code, paths and secrets run after SQL and
        shell, so ``sql:drop`` ends the analysis).
        """
        settled = best if best is not None and best.trace is None else None
        if self._sql:
            sql_action = kind in _SQL_ACTIONS
            texts = groups.get("sql")
            if sql_action and not texts:
                texts = []
                all_strings(args, texts)
            # Fields of unknown meaning: one gate pass over all of them first.
            data = groups.get("data")
            if data and sql_gate("\n;\n".join(data)):
                texts = [*(texts or ()), *data]
            if texts:
                self._sql_texts(texts, sql_action, offer, base)
        if self._shell:
            # The classification's reading (argv joined, ``commands`` lists) when it has one,
            # and the shell commands a notebook cell runs (``!curl ... | sh``).
            texts = groups.get("command")
            for program in groups.get("code", ()):
                escapes = shell_escapes(program)
                if escapes:
                    texts = [*(texts or ()), *escapes]
            if (
                not texts
                and kind in _SHELL_ACTIONS
                and "code" not in groups
                and is_shell_source(args)
            ):
                texts = []
                all_strings(args, texts)
            if texts:
                self._shell_texts(texts, offer, base)
        if settled is not None and settled.rank == 0 and settled.order <= base + self._floors[0]:
            return
        if self._code:
            texts = groups.get("code")
            unknown = groups.get("data")
            if texts or unknown or kind == "code_exec":
                language = language_of(args)  # the declared language picks the lexer
                if kind == "code_exec" and language not in SHELL_LANGUAGES and not texts:
                    texts = []
                    all_strings(args, texts)
                programs = texts
                # Data of unknown meaning is read as code in one piece (thousands of tiny
                # fields cost one pass, not thousands).
                if unknown:
                    texts = [*(texts or ()), "\n".join(unknown)]
                for text in texts or ():
                    for check_id, excerpt in analyse_code(text, language):
                        self._offer_check(check_id, excerpt, offer, base)
                if programs and self._networked:
                    # The URLs a program names are network access, as in a command (not
                    # in data of unknown meaning: prose may mention an address).
                    urls = [url for text in programs for url in urls_in(text)]
                    if urls:
                        self.check_urls("", urls, offer, self._net_order, lenient=True)
                for text in programs if kind == "code_exec" and programs else ():
                    # The paths a program run opens meet the path rules, and the SQL it sends
                    # the SQL analyser (code only written to a file runs nothing).
                    if self._path_set is not None:
                        for path in paths_in(text, language):
                            self._offer_path(path, offer, base)
                    if self._sql:
                        sql = sql_in(text, language)
                        if sql:
                            self._sql_texts(sql, True, offer, base)
        if settled is not None and settled.rank == 0 and settled.order <= base + self._floors[1]:
            return
        paths = groups.get("path")
        writes = self._writes and kind in _WRITE_ACTIONS
        deletes = self._writes and kind in _DELETE_ACTIONS
        # A security log or a shell history written over or edited: the write's only file (a
        # copy or a move names two, and copying a log out is only reading it).
        replaces = writes and paths is not None and len(paths) == 1
        if paths and (self._path_set is not None or writes or deletes):
            # One canonicalisation per path serves every path rule.
            path_set = self._path_set
            for path in with_words(paths):
                spelt = canonical_paths(path)
                if path_set is not None:
                    for candidate in spelt:
                        found = path_set.match(candidate)
                        if found:
                            self._offer_globs(path, found, offer, base)
                if writes and any(persistence_target(p) for p in spelt):
                    self._offer_check("path:persistence-write", path, offer, base)
                if replaces and any(erases_log(p) for p in spelt):
                    self._offer_check("path:log-tamper", path, offer, base)
                if deletes and any(data_target(p) or erases_log(p) for p in spelt):
                    self._offer_check("path:data-delete", path, offer, base)
        if settled is not None and settled.rank == 0 and settled.order <= base + self._floors[2]:
            return
        if self._secrets:
            for check_id, excerpt in scan_secrets(args):
                entry = self._checks.get(check_id)
                if entry is not None:
                    index, check = entry
                    offer(
                        base + index,
                        check.signal,
                        check.id,
                        check.reason,
                        redact(excerpt, secret=True),
                    )

    def quiet_data(self, text: str) -> bool:
        """Whether ``text`` as the only data of an action could make no SQL or code
        analysis find anything (the SQL gate and the code rules pass it)."""
        if self._sql and sql_gate(text):
            return False
        return not (self._code and analyse_code(text))

    def _offer_check(self, check_id: str, excerpt: str, offer: Offer, base: int) -> None:
        entry = self._checks.get(check_id)
        if entry is not None:
            index, check = entry
            offer(base + index, check.signal, check.id, check.reason, redact(excerpt, secret=False))

    def _sql_texts(self, texts: list[str], sql_action: bool, offer: Offer, base: int) -> None:
        """Analyse the SQL texts of one action under one statement's budget.

        As for command texts: ``_SQL_TEXTS`` distinct texts that pass the SQL
        gate and ``_SQL_CHARS`` characters in all; a text that no longer fits
        makes the action ``sql:too-complex`` (review). A text past the budget on
        its own still goes to the analyser, whose over-budget path is one linear
        regex scan for the destructive shapes.
        """
        chars = count = 0
        over = False
        for text in dict.fromkeys(texts):
            if not sql_gate(text):
                continue
            if count >= _SQL_TEXTS:
                over = True
                break  # the verdict is a review whatever the rest holds
            alone = len(text) > _SQL_CHARS
            if not alone and chars + len(text) > _SQL_CHARS:
                over = True
                continue
            count += 1
            chars += 0 if alone else len(text)
            for check_id, excerpt in analyse_gated(text, sql_action=sql_action):
                self._offer_check(check_id, excerpt, offer, base)
        if over:
            self._offer_check("sql:too-complex", "too many SQL texts to analyse", offer, base)

    def _shell_texts(self, texts: list[str], offer: Offer, base: int) -> None:
        """Analyse the command texts of one action under one script's budget.

        Each text is lexed on its own (an open quote in one must not swallow the
        next), but together they spend the analyser's budget for one script:
        ``_SHELL_TEXTS`` texts, ``_SHELL_CHARS`` characters and ``_SHELL_WORK``
        characters lexed. A text that no longer fits is not analysed; the action
        gets ``shell:too-complex`` instead (review), whatever the texts it did
        analyse found, so thousands of command fields cost one script, not thousands;
        a recursive ``rm`` anywhere in what was not analysed is ``shell:rm-rf``.
        """
        chars = work = count = 0
        unread: list[str] = []
        for text in dict.fromkeys(texts):  # the same text finds the same things
            if count >= _SHELL_TEXTS or work > _SHELL_WORK or chars + len(text) > _SHELL_CHARS:
                unread.append(text)
                continue
            count += 1
            chars += len(text)
            work += self._shell_text(text, offer, base)
        if unread:
            self._offer_check("shell:too-complex", "script too complex to analyse", offer, base)
            # The cheap reading of what the analyser could not afford: a recursive rm
            # anywhere in it (one linear scan of them all).
            rest = "\n".join(unread)
            found = RM_IN_TEXT.search(rest) if "rm" in rest else None
            if found is not None:
                self._offer_check("shell:rm-rf", found.group(0), offer, base)

    def _shell_text(self, text: str, offer: Offer, base: int) -> int:
        """Offer the hits of one command text; returns the characters the analyser lexed."""
        report = shell_report(text)  # within the budget: at most _SHELL_CHARS long
        for check_id, excerpt in report.findings.items():
            self._offer_check(check_id, excerpt, offer, base)
        if self._command_set is not None:
            base_commands = base + len(self._checks)
            for name, excerpt in report.commands:
                for set_index in self._command_set.Match(name) or ():
                    index = self._command_map[set_index]
                    rule = self._command_rules[index]
                    matched = redact(excerpt, secret=False)
                    offer(base_commands + index, rule.signal, rule.rule_id, rule.reason, matched)
        if self._path_set is not None:
            for path in report.paths:
                self._offer_path(path, offer, base)
        if report.urls:
            urls = list(dict.fromkeys(report.urls))
            self.check_urls("", urls, offer, self._net_order, lenient=True)
        return report.work

    def _offer_path(self, path: str, offer: Offer, base: int) -> None:
        if self._path_set is None:
            return  # callers check first
        match = self._path_set.match
        for candidate in canonical_paths(path):
            found = match(candidate)
            if found:
                self._offer_globs(path, found, offer, base)

    def _offer_globs(self, path: str, found: list[int], offer: Offer, base: int) -> None:
        """Offer the path rules of the globs ``found`` (set indices) matching ``path``."""
        base_paths = base + len(self._checks) + len(self._command_rules)
        matched = redact(path, secret=False)
        for set_index in found:
            index = self._path_map[set_index]
            rule = self._path_rules[index]
            offer(base_paths + index, rule.signal, rule.rule_id, rule.reason, matched)
