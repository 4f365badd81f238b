"""Readable text hidden in a string: base64, base32, gzip, hex, URL escapes, spaced-out characters.

:func:`decodings` yields ``(text, nested)`` pairs for :mod:`._secrets` to scan
again; ``nested`` says whether the text may itself be decoded once more (a
layer of base64 inside base64, hex inside base64). Base64 and hex shrink the
text at every layer and every decoded byte is charged to the caller's
budget, so nesting stays linear. Whole-text URL unescaping keeps the text's
length: it is scanned once, never decoded again.

Every run of one encoding is decoded in one C call: base64 runs are made
standard-alphabet and filled out to whole 4-character groups with ``A``s
that decode to NUL bytes, which end the run's text; hex runs are joined.
What reads as text (printable stretches of 12+ bytes) is kept, so thousands
of short random tokens cost a few C passes, not a Python loop.

Base32 (RFC 4648, upper case) is read the same way when a text has a run of
24+ of its alphabet (one ``bytes.translate`` finds out): the runs, filled to
whole 8-character groups with ``A``s, are one base-32 integer in Python's
digits (linear for a power-of-two base). Gzip behind base64 (``H4sI``, the
base64 of its magic bytes) is inflated by :func:`inflated` to at most the
caller's remaining budget, and every inflated byte is charged, printable or
not: a decompression bomb costs at most the budget and ends in a review.
"""

from __future__ import annotations

import binascii
import re
import zlib
from collections.abc import Iterator

import re2

from ._normalise import unescape_url

__all__ = ["GROUPED", "decodings", "inflated"]

_B64 = r"[A-Za-z0-9+/_-]{24,}={0,2}"
_HEX = r"[0-9a-fA-F]{32,}"  # a plain class run: Python's re tries each position cheaply
_SPACE = r"(?:[A-Za-z0-9_+/=.-] ){12,}[A-Za-z0-9_+/=.-]"
# Python's re on purpose: no nested quantifiers here, and it is faster than the
# RE2 wrapper for iterating matches; the rule set's members decide whether they run.
_B64_BODY = re.compile(_B64.partition("=")[0])  # the run without its padding
_HEX_RUN = re.compile(_HEX)
_SPACED = re.compile(_SPACE)
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
#: Key prefixes (regex forms) whose keys are joined when spaced out in groups.
_PREFIX_FORMS = ("gh[pousr]_", "github_pat_", "glpat-", "sk-", "[sr]k_live_", "xox[abpr]-", "AKIA",
                 "ASIA")  # fmt: skip
#: A prefix's last character (``ghp_``, ``glpat-``, ``sk-``), a space and a group of four
#: (``ghp_ BY6r fNcA ...``): a set member that gates :data:`_GROUPS`. Not the prefixes
#: themselves: their literals cost the set scan 20% on random text; a longer member (two
#: groups, ``_+/-`` in them) made fresh random fields 30% slower (``--adversarial``). Nor
#: ``AKIA``'s last ``A``: so ``AKIA VQJX ...`` is not joined.
GROUPED = r"[_-] [A-Za-z0-9]{4} "
#: The prefixes, each character (or class) optionally followed by a space: the groups of
#: four may cut through the prefix itself (``sk_l ive_ 6BRo ...``).
_PREFIXES_CUT = (
    "(?:" + "|".join(" ?".join(re.findall(r"\[[^\]]*\]|.", f)) for f in _PREFIX_FORMS) + ")"
)
#: The prefix and the short runs (1-8) after it, each behind one space: joined, a key
#: spaced out in groups for reading is whole. Only these runs are joined, never prose.
#: RE2 over the UTF-8 bytes (about 2 ns a byte; Python's re tries every position, 20).
_GROUPS = re2.compile((_PREFIXES_CUT + r"(?: [A-Za-z0-9_+/-]{1,8})+").encode())
#: Token characters and URL escapes, read forwards from an escape and backwards before it.
_ESCAPED_AFTER = re.compile(r"(?:[A-Za-z0-9_.~+/=-]|%[0-9A-Fa-f]{2})*")
_ESCAPED_BEFORE = re.compile(r"(?:[0-9A-Fa-f]{2}%|[A-Za-z0-9_.~+/=-])*")  # escape first
_TOKEN_CHAR = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~+/=-")
#: Longest secret a rule finds (GitHub fine-grained tokens are 255 characters).
_EDGE = 320
_PRINTABLE_RUN = re2.compile(rb"[\x20-\x7e\t\n\r]{12,}")  # RE2: random bytes have few
_URLSAFE = str.maketrans("-_", "+/")
#: Base64 run length mod 4 -> filler making whole groups that end in NUL bytes.
_FILL = ("AAAA", "AAA", "AA", "AAAAA")
_B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_MAP = bytes(ord("a") if chr(i) in _B32_ALPHABET else ord(" ") for i in range(256))
_B32_PROBE = b"a" * 24
_B32_RUN = re.compile(r"[A-Z2-7]{24,}")
#: RFC 4648 base32 -> Python's base-32 digits (``int(text, 32)``).
_B32_DIGITS = str.maketrans(_B32_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
#: A gzip stream in base64: ``H4sI`` is its magic ``1f 8b 08``.
_GZIP = re.compile(r"H4sI[A-Za-z0-9+/_-]*")
#: Most one gzip stream may inflate to.
_INFLATE = 64 * 1024


def _readable(raw: bytes) -> str | None:
    """The printable stretches (12+ bytes) of decoded bytes, one per line; ``None`` if none."""
    found = _PRINTABLE_RUN.findall(raw)
    return b"\n".join(found).decode("ascii") if found else None


def _base32(text: str) -> str | None:
    """The printable stretches of ``text``'s base32 runs (24+), all decoded in one pass."""
    runs = [run + "A" * (-len(run) % 8) for run in _B32_RUN.findall(text)]
    if not runs:
        return None
    digits = "".join(runs)
    raw = int(digits.translate(_B32_DIGITS), 32).to_bytes(len(digits) * 5 // 8, "big")
    return _readable(raw)


def inflated(text: str, room: int) -> Iterator[tuple[str, int]]:
    """``(printable text, bytes inflated)`` for each gzip stream in base64 in ``text``;
    the streams together inflate to at most ``room + 1`` bytes (past ``room``: the
    caller's budget is spent), whatever their size and ratio."""
    for found in _GZIP.finditer(text):
        if room < 0:
            return
        run = found.group()
        try:
            raw = binascii.a2b_base64((run + _FILL[len(run) & 3]).translate(_URLSAFE).encode())
            out = zlib.decompressobj(31).decompress(raw, min(_INFLATE, room + 1))
        except (binascii.Error, ValueError, zlib.error):
            continue  # not gzip after all: nothing was inflated
        room -= len(out)
        yield _readable(out) or "", len(out)


def _escaped_tokens(text: str) -> str | None:
    """The tokens holding a URL escape in a text with one or two ``%``, unescaped, one a
    line (``glpat%2dZ3HL...`` -> ``glpat-Z3HL...``); ``None`` when no escape sits next
    to a token character. Each is read at most :data:`_EDGE` characters either way."""
    out = []
    at = text.find("%")
    while at >= 0:
        if _PCT.match(text, at) is not None and (
            (at > 0 and text[at - 1] in _TOKEN_CHAR)
            or (at + 3 < len(text) and text[at + 3] in _TOKEN_CHAR)
        ):
            before = text[max(0, at - _EDGE) : at][::-1]
            back = _ESCAPED_BEFORE.match(before)  # a starred group: always a match
            ahead = _ESCAPED_AFTER.match(text, at, at + _EDGE)
            start = at - (back.end() if back is not None else 0)
            end = ahead.end() if ahead is not None else at + 3
            out.append(unescape_url(text[start:end]))
            at = end
        at = text.find("%", at + 1)
    return "\n".join(out) if out else None


def decodings(
    text: str, spaced: bool, hexed: bool, grouped: bool, encoded: bool = True
) -> Iterator[tuple[str, bool]]:
    """``(decoded text, may be decoded again)`` for each encoding ``text`` shows;
    ``encoded``: it may hold URL escapes or base64 (``False``: only the gate of a join
    fired, and a base64 pass over prose would cost more than the join)."""
    escapes = text.count("%") if encoded else 0
    if escapes >= 3 and _PCT.search(text) is not None:
        yield unescape_url(text), False
    elif escapes:
        found = _escaped_tokens(text)
        if found is not None:
            yield found, True
    joined = [found.replace(" ", "") for found in _SPACED.findall(text)] if spaced else []
    data = text.encode("utf-8", "surrogatepass") if grouped or encoded else b""
    if grouped:
        joined += [found.group().replace(b" ", b"").decode() for found in _GROUPS.finditer(data)]
    if joined:
        yield "\n".join(joined), True
    hexes = [run[: len(run) // 2 * 2] for run in _HEX_RUN.findall(text)] if hexed else []
    if hexes:
        decoded = _readable(bytes.fromhex("".join(hexes)))
        if decoded is not None:
            yield decoded, True
    if encoded and data.translate(_B32_MAP).find(_B32_PROBE) >= 0:
        decoded = _base32(text)
        if decoded is not None:
            yield decoded, True
    # No per-run judgement (identifier or encoding?): decoding is C time, and text that
    # is no encoding decodes to bytes with no printable stretch.
    runs = [run + _FILL[len(run) & 3] for run in _B64_BODY.findall(text)] if encoded else []
    if runs:
        try:
            raw = binascii.a2b_base64("".join(runs).translate(_URLSAFE).encode("ascii"))
        except (binascii.Error, ValueError):  # pragma: no cover - whole groups always decode
            return
        decoded = _readable(raw)
        if decoded is not None:
            yield decoded, True
