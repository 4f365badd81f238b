"""RE2 plumbing shared by the policy engine and loader: options, compiling, redaction."""

from __future__ import annotations

# The stdlib's regex parser (3.11+); RE2 syntax it lacks makes required_marks claim nothing.
from re import _constants as _sre  # type: ignore[attr-defined]
from re import _parser as _sre_parse  # type: ignore[attr-defined]
from typing import Any

import re2

from ._normalise import space_insensitive
from ._patterns import STRICT_PATTERNS

__all__ = ["OPTIONS", "compile_pattern", "redact", "required_marks", "search"]

_MATCHED_MAX = 120


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    # A set scan that runs out of DFA memory reports "no match": give it room
    # (fail-open is not acceptable; tests scan 100 KB adversarial input).
    options.max_mem = 64 << 20
    return options


#: Options every policy regex and set is compiled with (case-insensitive).
OPTIONS = _options()
_UNANCHORED = re2._Anchor.UNANCHORED


def compile_pattern(regex: str) -> tuple[str, Any]:
    """Compile a policy regex: returns (RE2 source, compiled regex).

    Raises ``ValueError`` when RE2 refuses it (e.g. a backreference) or when it
    matches the empty string (it would match every action).
    """
    source = space_insensitive(regex)
    try:
        compiled = re2.compile(source, OPTIONS)
    except re2.error as exc:
        raise ValueError(f"RE2 cannot compile {regex!r}: {exc}") from None
    if compiled.search("") is not None:
        raise ValueError(f"{regex!r} matches the empty string, so it would match everything")
    return source, compiled


# ASCII punctuation has no case and survives ``fold`` (which drops ' " \\), rarest in
# prose first: a mark that prose seldom holds lets a scan be skipped more often.
_MARK_ORDER = "`~^{}[]<>|=@#$%&*+/!?;:()_-.,"
_MARK_RANK = {mark: rank for rank, mark in enumerate(_MARK_ORDER)}


def _marks(items: Any) -> frozenset[str] | None:
    """Marks one of which every match of the sequence ``items`` holds (``None``: unknown)."""
    options: list[frozenset[str]] = []
    for op, av in items:
        if op is _sre.LITERAL:
            char = chr(av)
            if char in _MARK_RANK:
                options.append(frozenset(char))
            continue
        if op is _sre.SUBPATTERN or op is _sre.ATOMIC_GROUP:
            inner = _marks(av[-1] if op is _sre.SUBPATTERN else av)
        elif op is _sre.BRANCH:
            inner = frozenset()
            for branch in av[1]:
                marks = _marks(branch)
                if marks is None:
                    inner = None
                    break
                inner |= marks
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            inner = _marks(av[2])
        else:
            continue  # says nothing a match must hold; other parts of the sequence may
        if inner is not None:
            options.append(inner)
    if not options:
        return None
    return min(options, key=lambda marks: (len(marks), max(_MARK_RANK[m] for m in marks)))


def required_marks(regexes: list[str]) -> frozenset[str] | None:
    """ASCII punctuation marks one of which any match of any of ``regexes`` holds.

    ``None`` when some regex needs no such mark (or Python's parser cannot
    read it): then nothing can be skipped. A text (as matched: folded) that
    holds none of the marks cannot match, so its scan can be skipped.
    """
    found: set[str] = set()
    for regex in regexes:
        try:
            marks = _marks(_sre_parse.parse(regex))
        except Exception:  # RE2 syntax Python lacks: no claim
            return None
        if marks is None:
            return None
        found |= marks
    return frozenset(found)


def search(regex: Any, data: bytes) -> str | None:
    """The first match of a compiled RE2 regex in UTF-8 ``data``."""
    raw = getattr(regex, "_regexp", None)
    if raw is None:  # pragma: no cover - a re2 wrapper without the binding attribute
        found = regex.search(data.decode("utf-8"))
        return None if found is None else str(found.group(0))
    start, end = raw.Match(_UNANCHORED, data, 0, len(data))[0]
    return None if start < 0 else data[start:end].decode("utf-8", "replace")


_SCRUB = re2.compile(
    "|".join(
        f"(?:{space_insensitive(regex)})"
        for rule_id, regex, _ in STRICT_PATTERNS
        if rule_id.startswith("secret:") and rule_id != "secret:credential-file"
    ),
    OPTIONS,
)


def _mask(secret: str) -> str:
    return secret[:4] + "*" * min(len(secret) - 4, 40)


def redact(text: str, *, secret: bool, limit: int = _MATCHED_MAX) -> str:
    """``text`` fit for a verdict: secret-like spans masked, whitespace collapsed, truncated.

    With ``secret`` (the rule is a ``secret:`` rule) the whole match is masked
    but its first four characters (``AKIA****************``). ``limit`` is the
    longest result (a verdict's ``matched`` by default; a reviewer sees more).
    """
    text = " ".join(text.replace("\x00", " ").split())
    if secret:
        return _mask(text)
    if search(_SCRUB, text.encode()) is not None:
        text = _SCRUB.sub(lambda m: _mask(m.group(0)), text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
