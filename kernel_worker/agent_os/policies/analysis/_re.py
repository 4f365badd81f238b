"""RE2 plumbing shared by the policy engine and loader: options, compiling, redaction."""

from __future__ import annotations

from typing import Any

import re2

from ._normalise import space_insensitive
from ._patterns import STRICT_PATTERNS

__all__ = ["OPTIONS", "compile_pattern", "redact", "search"]

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
