"""Run gates in front of the secret rule sets: what every match needs, checked in C passes.

One RE2 set scan costs about 17 instructions a byte, and most text an agent
sends (prose, paths, SQL) holds no secret. Almost every secret format holds
a long run of token characters (``ghp_`` and 36 more, ``AKIA`` and 16 more),
which prose seldom does. So:

* :func:`min_run` reads from a rule's regex the run of :data:`RUN_CHARS`
  that every match contains, by structure (literals, classes, repeats,
  groups, alternations; anything else ends a run, so it can only
  under-count);
* :func:`runs` maps the text to one byte per input byte (``a`` for a run
  character, a space otherwise) in one ``bytes.translate``; whether the
  text has a run of ``k`` is then one substring search (:func:`has_run`).

A set whose every member needs a run of ``k`` is scanned only when the text
has one; a match's run of ``k`` characters is at least ``k`` bytes of ``a``
(the bytes of the Kelvin sign and the long s count too: RE2 folds ``k`` and
``s`` to them in a case-insensitive rule). The decoding triggers of
``_secrets`` are runs too (base64 24, hex 32), or members of the ungated set
(:data:`SPACED_OUT`, :data:`URL_ESCAPE`), so prose costs one set scan, not
four.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "DECODE_RUN",
    "HEX_RUN",
    "RUN_CHARS",
    "SPACED_OUT",
    "URL_ESCAPE",
    "has_hex_run",
    "has_run",
    "min_run",
    "runs",
]

#: Token characters: the base64 alphabets (standard and URL-safe).
RUN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_parser: Any = importlib.import_module("re._parser")
_C: Any = importlib.import_module("re._constants")
_REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT, getattr(_C, "POSSESSIVE_REPEAT", _C.MAX_REPEAT))


#: The UTF-8 bytes of the two non-ASCII characters RE2's case folding gives ASCII letters
#: (U+212A KELVIN SIGN for k, U+017F LATIN SMALL LETTER LONG S for s), which a
#: case-insensitive rule's run may hold; any other non-ASCII byte ends a run.
_FOLDED = frozenset("\u212a\u017f".encode())
_RUNS = bytes(
    ord("a") if i in _FOLDED or (i < 0x80 and chr(i) in RUN_CHARS) else ord(" ") for i in range(256)
)
_PROBES = [b"a" * k for k in range(257)]
_HEX = bytes(ord("a") if chr(i) in "0123456789abcdefABCDEF" else ord(" ") for i in range(256))
#: Runs that make a text worth decoding (base64: 24, hex: 32; see ``_secrets``).
DECODE_RUN, HEX_RUN = 24, 32
#: Spaced-out characters (``g h p _ ...``) and URL escapes: the other decoding triggers,
#: members of the ungated rule set (one scan finds short-run secrets and these).
SPACED_OUT = r"(?:[A-Za-z0-9_+/=.-] ){12,}[A-Za-z0-9_+/=.-]"
_CODE = r"(?:3[2-9]|[4-9][0-9]|1[01][0-9]|12[0-6])"
#: Signs of text spelled otherwise (``_secrets_spelled``), read like a URL escape (worth
#: decoding): an escape (``\u005f``, ``\x5f``), two quoted literals joined by ``+``, a
#: bracket before two printable character codes (``[103, 104,``, ``fromCharCode(103, 104,``).
#: In the one set scan prose pays for anyway: a ``memchr`` per sign in Python cost prose
#: 2.5% more instructions; codes without the bracket made cold random text 10% slower.
SPELLED = (
    r"\\[ux]|[\"'`][ \t]*\+[ \t\r\n]*[\"'`]"
    rf"|[\[({{][ \t\r\n]*{_CODE}[ \t\r\n]*,[ \t\r\n]*{_CODE}[ \t\r\n]*,"
)
URL_ESCAPE = r"%[0-9A-Fa-f]{2}|" + SPELLED


def runs(data: bytes) -> bytes:
    """``data`` mapped for :func:`has_run`: ``a`` for a run byte, a space for any other."""
    return data.translate(_RUNS)


def has_run(mapped: bytes, length: int) -> bool:
    """Whether :func:`runs`' ``mapped`` holds a run of at least ``length``.

    ``find``, not ``in``: ``bytes.__contains__`` first tries the needle as an
    integer and formats the error it then discards.
    """
    return mapped.find(_PROBES[length] if length < len(_PROBES) else b"a" * length) >= 0


def has_hex_run(data: bytes, length: int) -> bool:
    """Whether ``data`` holds a run of at least ``length`` hex digits (one more
    translate: ask only when :func:`has_run` found a run that long)."""
    probe = _PROBES[length] if length < len(_PROBES) else b"a" * length
    return data.translate(_HEX).find(probe) >= 0


# -- what every match of a regex holds -----------------------------------------------------

# (best, prefix, suffix, whole): the longest run every match holds, the run every match
# starts and ends with, and (when every match is run characters only) its least length.
_Run = tuple[int, int, int, int | None]
_BREAK: _Run = (0, 0, 0, None)
_EMPTY: _Run = (0, 0, 0, 0)


def _in_class(items: Any) -> bool:
    for op, av in items:
        if op is _C.LITERAL:
            if chr(av) not in RUN_CHARS:
                return False
        elif op is _C.RANGE:
            if any(chr(c) not in RUN_CHARS for c in range(av[0], av[1] + 1)):
                return False
        elif op is _C.CATEGORY:  # RE2's \d and \w are ASCII
            if av not in (_C.CATEGORY_DIGIT, _C.CATEGORY_WORD):
                return False
        else:  # NEGATE and anything else
            return False
    return True


def _then(a: _Run, b: _Run) -> _Run:
    if a[3] is not None and b[3] is not None:
        whole = a[3] + b[3]
        return (whole, whole, whole, whole)
    prefix = a[3] + b[1] if a[3] is not None else a[1]
    suffix = b[3] + a[2] if b[3] is not None else b[2]
    return (max(a[0], b[0], a[2] + b[1], prefix, suffix), prefix, suffix, None)


def _one(op: Any, av: Any) -> _Run:
    if op is _C.AT:
        return _EMPTY
    if op is _C.LITERAL:
        return (1, 1, 1, 1) if chr(av) in RUN_CHARS else _BREAK
    if op is _C.IN:
        return (1, 1, 1, 1) if _in_class(av) else _BREAK
    if op in _REPEATS:
        low, _, body = av
        inner = _seq(body)
        if inner[3] is not None:
            whole = low * inner[3]
            return (whole, whole, whole, whole)
        if low == 0:
            return _BREAK
        best = max(inner[0], inner[2] + inner[1]) if low > 1 else inner[0]
        return (best, inner[1], inner[2], None)
    if op is _C.SUBPATTERN:
        return _seq(av[-1])
    if op is _C.BRANCH:
        alternatives = [_seq(branch) for branch in av[1]]
        wholes = [alt[3] for alt in alternatives]
        if all(whole is not None for whole in wholes):
            whole = min(w for w in wholes if w is not None)
            return (whole, whole, whole, whole)
        return (
            min(alt[0] for alt in alternatives),
            min(alt[1] for alt in alternatives),
            min(alt[2] for alt in alternatives),
            None,
        )
    return _BREAK  # any character, negations, lookarounds, references: ends a run


def _seq(items: Any) -> _Run:
    out = _EMPTY
    for op, av in getattr(items, "data", items):
        out = _then(out, _one(op, av))
    return out


def min_run(source: str) -> int:
    """The run of :data:`RUN_CHARS` every match of ``source`` holds (read with RE2's
    ASCII ``\\d`` and ``\\w``); ``0`` when unknown (a syntax Python's parser lacks)."""
    try:
        best, _, _, whole = _seq(_parser.parse(source))
    except Exception:
        return 0
    return whole if whole is not None else best
