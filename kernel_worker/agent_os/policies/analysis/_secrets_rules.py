"""The secret rule set: detect-secrets' plugin regexes read from the installed package, plus ours.

At import, every regex-based plugin of the installed ``detect-secrets``
(``RegexBasedDetector.denylist``) is translated to RE2 where that is possible
without changing what it finds, and compiled into one ``re2.Set`` together
with :data:`._secrets_catalogue.CATALOGUE` (formats detect-secrets lacks).
Translation removes the lookarounds RE2 does not have: ``(?<=\\W)|(?<=^)``
becomes a consumed ``(?:^|\\W)`` and a trailing ``(?!\\w)`` is dropped (the
match then ends one character earlier at worst). A plugin regex RE2 still
refuses is skipped and counted in :data:`CATALOGUE_INFO`. Plugins that are not
secrets (public IP addresses) are left out on purpose.

Without detect-secrets installed the set holds our catalogue alone and
:data:`CATALOGUE_INFO` says so; nothing is silently weaker than reported.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import re2

from ._secrets_catalogue import CATALOGUE
from ._secrets_decode import GROUPED
from ._secrets_gate import (
    DECODE_RUN,
    HEX_RUN,
    SPACED_OUT,
    URL_ESCAPE,
    has_hex_run,
    has_run,
    min_run,
    runs,
)

__all__ = [
    "CATALOGUE_INFO",
    "RULES",
    "SECRET_CHECKS",
    "SecretRule",
    "match_set",
]

#: detect-secrets plugin modules that do not find secrets.
_NOT_SECRETS = frozenset({"ip_public"})
#: detect-secrets secret types -> our check ids (kept stable for verdicts).
_IDS = {
    "AWS Access Key": "secret:aws-access-key",
    "JSON Web Token": "secret:jwt",
    "OpenAI Token": "secret:openai-key",
    "Basic Auth Credentials": "secret:url-credentials",
    "Private Key": "secret:private-key",
    "GitHub Token": "secret:github-token",
    "Slack Token": "secret:slack-token",
    "Stripe Access Key": "secret:stripe-key",
    "Twilio API Key": "secret:twilio-key",
    "Discord Bot Token": "secret:discord-token",
    "GitLab Token": "secret:gitlab-token",
    "SendGrid API Key": "secret:sendgrid-key",
    "NPM tokens": "secret:npm-token",
    "PyPI Token": "secret:pypi-token",
    "Telegram Bot Token": "secret:telegram-token",
    "Square OAuth Secret": "secret:square-token",
    "Azure Storage Account access key": "secret:azure-storage-key",
}
_RE2_MAX_REPEAT = 1000
#: A repetition counting this far is a DFA counter; a literal this long anchors it; a class
#: of this few letters counts as a literal; free-running rules per RE2 set.
_COUNTED, _ANCHOR, _FEW, _PER_SET = 5, 2, 8, 2
#: Runs of token characters that gate rule sets (a rule joins the highest it needs).
_GATES = (20, 32)
# match_set reads the decoding runs off the gates: the first gate is at most the base64
# run, and the hex run is a gate.
assert _GATES[0] <= DECODE_RUN and HEX_RUN in _GATES
#: Anchored rules per set: rare counters still multiply, only less.
_TIED_PER_SET = 40
#: Minimum entropy of a match, by check id; formats with a fixed marker need none.
_ENTROPY = {"secret:private-key": 0.0, "secret:url-credentials": 2.5}
#: Ungated set members past the rules: spaced-out characters, a URL escape, a prefix's
#: end spaced from groups of four (reported by :func:`match_set` as described there).
_TRIGGERS = (SPACED_OUT, URL_ESCAPE, GROUPED)


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One compiled secret regex: its check id, the group to judge and where it came from."""

    id: str
    reason: str
    source: str
    regex: str
    compiled: Any
    group: int
    min_entropy: float


def _quiet() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused plugin regex is counted, not logged
    return options


_QUIET = _quiet()
#: Python's regex parser (no stubs): a rule's parse tree decides which RE2 set it joins.
_parser: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")


def _slug(text: str) -> str:
    return "secret:" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _translate(pattern: str, flags: int) -> str:
    source = pattern
    if flags & re.VERBOSE:
        source = re.sub(r"\s+#[^\n]*|\s+", "", source)
    source = source.replace("(?:(?<=\\W)|(?<=^))", "(?:^|\\W)")
    if source.endswith("(?!\\w)"):
        source = source[: -len("(?!\\w)")]
    # RE2 caps counted repetition at 1000; a longer token still matches its first 1000.
    source = re.sub(
        r"\{(\d+),(\d+)\}",
        lambda m: f"{{{m[1]},{min(int(m[2]), _RE2_MAX_REPEAT)}}}",
        source,
    )
    if flags & re.IGNORECASE:
        source = "(?i)" + source
    return source


def _plugin_patterns() -> tuple[list[tuple[str, str, str, int]], dict[str, Any]]:
    """(check id, reason, RE2 source, group) from detect-secrets, and what was read."""
    info: dict[str, Any] = {"detect_secrets": None, "plugin_regexes": 0, "skipped": []}
    try:
        import detect_secrets
        import detect_secrets.plugins as plugins
        from detect_secrets.plugins.base import RegexBasedDetector
    except ImportError:
        return [], info
    try:
        info["detect_secrets"] = metadata.version("detect-secrets")
    except metadata.PackageNotFoundError:  # pragma: no cover - importable but not installed
        info["detect_secrets"] = getattr(detect_secrets, "__version__", "unknown")
    out = []
    for module_info in pkgutil.iter_modules(plugins.__path__):
        if module_info.name in _NOT_SECRETS or module_info.name == "base":
            continue
        module = importlib.import_module(f"detect_secrets.plugins.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, RegexBasedDetector) or cls.__module__ != module.__name__:
                continue
            try:
                denylist = list(cls().denylist)
            except Exception:  # a plugin that cannot be built is reported, not fatal
                info["skipped"].append(cls.__name__)
                continue
            secret_type = str(cls.secret_type)
            check = _IDS.get(secret_type, _slug(secret_type))
            for compiled in denylist:
                info["plugin_regexes"] += 1
                source = _translate(compiled.pattern, compiled.flags)
                try:
                    re2.compile(source, _QUIET)
                except re2.error:
                    info["skipped"].append(f"{cls.__name__}: {compiled.pattern[:60]}")
                    continue
                out.append((check, secret_type, source, 1 if compiled.groups else 0))
    return out, info


def _counted(op: Any, av: Any) -> bool:
    lo, hi, _ = av
    return bool(
        op in (_C.MAX_REPEAT, _C.MIN_REPEAT)
        and (lo >= _COUNTED or (hi is not _C.MAXREPEAT and hi >= _COUNTED))
    )


def _walk(items: Any, run: int) -> int | None:
    """Literal run length after ``items``; ``-1`` once a literal of :data:`_ANCHOR`
    characters is behind us (every later counter waits for it); ``None`` when a
    counted repetition can start without one."""
    for op, av in items:
        if op is _C.AT:
            continue
        if op is _C.LITERAL:
            run += 1
        elif op is _C.IN:
            few = len(av) <= _FEW and all(o is _C.LITERAL for o, _ in av)
            run = run + 1 if few else 0
        elif op is _C.SUBPATTERN:
            inner = _walk(getattr(av[-1], "data", av[-1]), run)
            if inner is None or inner < 0:
                return inner
            run = inner
        elif op is _C.BRANCH:
            runs = [_walk(getattr(branch, "data", branch), run) for branch in av[1]]
            if None in runs:
                return None
            open_runs = [r for r in runs if r is not None and r >= 0]
            if not open_runs:
                return -1
            run = min(open_runs)
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            if _counted(op, av) or _walk(getattr(av[2], "data", av[2]), 0) is None:
                return None
            run = 0
        else:
            run = 0
        if run >= _ANCHOR:
            return -1
    return run


def anchored(source: str) -> bool:
    """True when every counted repetition of ``source`` sits behind a literal of two or more
    characters, so that unrelated text starts no counter in RE2's DFA."""
    try:
        return _walk(_parser.parse(source).data, 0) is not None
    except Exception:  # a syntax Python's parser lacks: treat as free running (costs only time)
        return False


def _gate(source: str) -> str:
    """The set member for ``source``: a leading class of a few letters in front of a counted
    run (``[MNO][A-Za-z0-9_-]{23,27}``) is dropped, since it makes the DFA track every start
    offset; the member then finds a superset and the rule's own regex decides."""
    return re.sub(r"^\[[A-Za-z0-9]{2,4}\](?=\[)", "", source)


def _sets(rules: list[SecretRule], options: Any) -> tuple[tuple[Any, tuple[int, ...], int], ...]:
    """RE2 sets over ``rules`` (match, members, run gate), by gate, the ungated first.

    A set's DFA state is the product of its members' progress; members that
    start counting at almost any character (``[0-9a-z]{32}-us``) make that
    product explode on long random text, at hundreds of milliseconds per 64
    KB. Members anchored by a literal share a few sets; free-running members
    go :data:`_PER_SET` to a set. Cost is then linear with a small constant
    (benchmarks/policy_check.py --adversarial).

    Each set is one more scan of every text, so each is gated by the run of
    token characters all its members need (``_secrets_gate.min_run``): a rule
    needing a run of one of :data:`_GATES` or longer is scanned only when the
    text has one, so ordinary prose meets the set of short-run rules alone.
    """
    need = [min_run(rule.regex) for rule in rules]
    level = [max((g for g in _GATES if g <= k), default=0) for k in need]
    levels = (0, *_GATES)
    is_tied = [anchored(rule.regex) for rule in rules]
    tied = {g: [i for i in range(len(rules)) if level[i] == g and is_tied[i]] for g in levels}
    free = {g: [i for i in range(len(rules)) if level[i] == g and not is_tied[i]] for g in levels}
    # A gated set with room takes rules of the next gate up (a lower gate is still sound),
    # so text with long runs (random soup) pays no more scans than it must.
    for low, high in itertools.pairwise(levels[1:]):
        room = -len(tied[low]) % _TIED_PER_SET
        tied[low], tied[high] = tied[low] + tied[high][:room], tied[high][room:]
    groups: list[tuple[list[int], int]] = []
    for gate in levels:
        for members, size in ((tied[gate], _TIED_PER_SET), (free[gate], _PER_SET)):
            groups += [(members[at : at + size], gate) for at in range(0, len(members), size)]
    # The other decoding triggers ride in the ungated set (indices past the rules).
    n = len(rules)
    groups[0] = ([*groups[0][0], *range(n, n + len(_TRIGGERS))], 0)
    out = []
    for group, gate in groups:
        rule_set = re2.Set.SearchSet(options)
        for index in group:
            member = _TRIGGERS[index - n] if index >= n else _gate(rules[index].regex)
            rule_set.Add(member)
        rule_set.Compile()
        out.append((getattr(rule_set, "_set", rule_set).Match, tuple(group), gate))
    return tuple(out)


def _build() -> tuple[
    tuple[SecretRule, ...], tuple[tuple[Any, tuple[int, ...], int], ...], dict[str, Any]
]:
    plugin, info = _plugin_patterns()
    rules = []
    options = re2.Options()
    options.max_mem = 64 << 20
    for check, reason, source, group in plugin:
        compiled = re2.compile(source, options)
        origin = f"detect-secrets {info['detect_secrets']}"
        rules.append(
            SecretRule(check, reason, origin, source, compiled, group, _ENTROPY.get(check, 3.0))
        )
    for fmt in CATALOGUE:
        compiled = re2.compile(fmt.regex, options)
        rules.append(
            SecretRule(
                fmt.id, fmt.reason, fmt.source, fmt.regex, compiled, fmt.group, fmt.min_entropy
            )
        )
    sets = _sets(rules, options)
    info["plugin_rules"] = len(plugin)
    info["catalogue_rules"] = len(CATALOGUE)
    info["rules"] = len(rules)
    info["sets"] = len(sets)
    return tuple(rules), sets, info


RULES, _SETS, CATALOGUE_INFO = _build()

#: Check id -> reason (the first rule's), for ``checks: [secrets]``.
SECRET_CHECKS: dict[str, str] = {}
for _rule in RULES:
    SECRET_CHECKS.setdefault(_rule.id, f"secret exposure: {_rule.reason}")
SECRET_CHECKS.setdefault("secret:credential-field", "secret exposure: credential in a named field")
SECRET_CHECKS.setdefault(
    "secret:too-complex", "too much encoded text to check for secrets (review)"
)


def match_set(data: bytes) -> list[int]:
    """Indices into :data:`RULES` of every rule that matches UTF-8 ``data`` somewhere.

    The index ``len(RULES)`` means: ``data`` is worth decoding (a base64-alphabet
    run of 24+, a URL escape or spaced-out characters); ``len(RULES) + 1``: it
    holds spaced-out characters; ``len(RULES) + 2``: a run of 32+ hex digits;
    ``len(RULES) + 3``: a prefix's end spaced from groups of four (alone: nothing to
    decode, only a join).

    Sets are in ascending gate order, so the first gate the text's runs do not
    reach ends the scan.
    """
    found: list[int] = []
    n = len(RULES)
    decode = spaced = False
    for match, members, _ in _UNGATED:
        for i in match(data) or ():
            index = members[i]
            if index < n:
                found.append(index)
            elif index > n + 1:
                found.append(n + 3)  # a prefix spaced from its groups
            else:
                decode = True
                spaced = spaced or index == n
    mapped = runs(data)
    if not _GATED or mapped.find(_FIRST_PROBE) < 0:
        # The common case (prose, paths, SQL): no run reaches the first gate, so no
        # gated set and no decoding run (both at or past the first gate) apply.
        if decode:
            found.append(n)
            if spaced:
                found.append(n + 1)
        return found
    reached = _GATED[0][2]  # the highest gate the text's runs are known to reach
    for match, members, gate in _GATED:
        if gate > reached:
            if not has_run(mapped, gate):
                break
            reached = gate
        for i in match(data) or ():
            index = members[i]
            if index < n:
                found.append(index)
            else:
                decode = True
                spaced = spaced or index == n
    # Decoding runs (24, 32) lie between and at the gates (20, 32).
    long_run = reached >= DECODE_RUN or has_run(mapped, DECODE_RUN)
    hexed = reached >= HEX_RUN and has_hex_run(data, HEX_RUN)
    if decode or long_run:
        found.append(n)
        if spaced:
            found.append(n + 1)
        if hexed:
            found.append(n + 2)
    return found


# The sets no run gates, and the gated ones (ascending gates) with the first gate's probe.
_UNGATED = tuple(entry for entry in _SETS if entry[2] == 0)
_GATED = tuple(entry for entry in _SETS if entry[2] > 0)
_FIRST_PROBE = b"a" * _GATED[0][2] if _GATED else b""
assert _SETS == _UNGATED + _GATED
