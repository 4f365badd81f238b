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
import pkgutil
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import re2

from ._secrets_catalogue import CATALOGUE

__all__ = [
    "CATALOGUE_INFO",
    "DECODABLE",
    "HEX_RUN",
    "RULES",
    "SECRET_CHECKS",
    "SPACED_OUT",
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
#: Anchored rules per set: rare counters still multiply, only less.
_TIED_PER_SET = 40
#: Minimum entropy of a match, by check id; formats with a fixed marker need none.
_ENTROPY = {"secret:private-key": 0.0, "secret:url-credentials": 2.5}


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


#: Runs worth decoding (base64, hex, spaced out, URL escapes); a member of the same set, so
#: one scan both finds secrets and says whether decoding is worth trying.
DECODABLE = r"[A-Za-z0-9+/_-]{24,}={0,2}|%[0-9A-Fa-f]{2}"
#: Spaced-out characters (``g h p _ ...``), a member apart: the Python regex that
#: collects them tries every position, so it runs only when this one matched.
SPACED_OUT = r"(?:[A-Za-z0-9_+/=.-] ){12,}[A-Za-z0-9_+/=.-]"
#: A hex run worth decoding (its Python regex, too, runs only when this matched).
HEX_RUN = r"[0-9a-fA-F]{32,}"
#: Where a gated free-running rule can start (see ``_sets``); never reported.
FREE_GATE = r"[A-Za-z0-9_-]{23}|[0-9]{8}"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")


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


def _gated(source: str) -> bool:
    """True when every match of ``source`` (as a set member, see :func:`_gate`) starts with a
    run :data:`FREE_GATE` sees: 23+ token characters or 8+ digits."""
    try:
        items = _parser.parse(_gate(source)).data
    except Exception:  # a syntax Python's parser lacks: never skipped
        return False
    for op, av in items:
        if op is _C.AT:
            continue
        if op not in (_C.MAX_REPEAT, _C.MIN_REPEAT) or len(av[2]) != 1 or av[2][0][0] is not _C.IN:
            return False
        chars = _chars(av[2][0][1])
        if chars is None:
            return False
        return (av[0] >= 23 and chars <= _TOKEN_CHARS) or (av[0] >= 8 and chars <= _DIGITS)
    return False


def _chars(items: Any) -> set[str] | None:
    """The characters of a parsed class (``None`` for categories other than digits, negation)."""
    out: set[str] = set()
    for op, av in items:
        if op is _C.LITERAL:
            out.add(chr(av))
        elif op is _C.RANGE:
            out.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is _C.CATEGORY and av is _C.CATEGORY_DIGIT:
            out.update("0123456789")
        else:
            return None
    return out


def _sets(rules: list[SecretRule], options: Any) -> tuple[tuple[Any, tuple[int, ...], bool], ...]:
    """RE2 sets over ``rules`` (match, members, gated), the decoding set first.

    A set's DFA state is the product of its members' progress; members that
    start counting at almost any character (``[0-9a-z]{32}-us``, the
    decodable-run member) make that product explode on long random text, at
    hundreds of milliseconds per 64 KB. Members anchored by a literal share a
    few sets; free-running members go :data:`_PER_SET` to a set. Cost is then
    linear with a small constant (benchmarks/policy_check.py --adversarial).
    Each set is one more scan of every text, so the common case stays at a
    few: free-running sets whose every match starts with a run
    :data:`FREE_GATE` sees are scanned only when the decoding set's
    ``FREE_GATE`` member matched (ordinary prose has no such run).
    """
    free = [i for i, rule in enumerate(rules) if not anchored(rule.regex)]
    tied = [i for i in range(len(rules)) if i not in set(free)]
    gated = [i for i in free if _gated(rules[i].regex)]
    open_free = [i for i in free if i not in set(gated)]
    n = len(rules)
    # Decoding members (n: DECODABLE, n + 1: SPACED_OUT, n + 2: HEX_RUN, n + 3: FREE_GATE):
    # a space ends a token run and the others lie inside one, so their counters nest.
    groups = [([n, n + 1, n + 2, n + 3], False)]
    groups += [(tied[at : at + _TIED_PER_SET], False) for at in range(0, len(tied), _TIED_PER_SET)]
    groups += [(open_free[at : at + _PER_SET], False) for at in range(0, len(open_free), _PER_SET)]
    groups += [(gated[at : at + _PER_SET], True) for at in range(0, len(gated), _PER_SET)]
    out = []
    for group, is_gated in groups:
        rule_set = re2.Set.SearchSet(options)
        for index in group:
            if index >= n:
                rule_set.Add((DECODABLE, SPACED_OUT, HEX_RUN, FREE_GATE)[index - n])
            else:
                rule_set.Add(_gate(rules[index].regex))
        rule_set.Compile()
        out.append((getattr(rule_set, "_set", rule_set).Match, tuple(group), is_gated))
    return tuple(out)


def _build() -> tuple[
    tuple[SecretRule, ...], tuple[tuple[Any, tuple[int, ...], bool], ...], dict[str, Any]
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

    The index ``len(RULES)`` means: ``data`` holds a run worth decoding;
    ``len(RULES) + 1``: it holds spaced-out characters; ``len(RULES) + 2``: a hex run.
    """
    found: list[int] = []
    gate = len(RULES) + 3
    open_gate = False
    for match, members, gated in _SETS:
        if gated and not open_gate:
            continue
        for i in match(data) or ():
            index = members[i]
            if index == gate:
                open_gate = True
            else:
                found.append(index)
    return found
