"""Text spelled so the rules miss it: escapes, joined literals, character codes, turned keys.

The rule set's decoding trigger (``_secrets_gate.URL_ESCAPE``) also fires on
these spellings' signs, so prose pays nothing for them; :func:`signs` then
tells which to read, and :func:`spellings` yields ``(text, nested)`` pairs
for :mod:`._secrets` to scan again, like :func:`._secrets_decode.decodings`:

* ``\\u005f``, ``\\x5f``, ``\\u{5f}`` escapes (sign: a backslash before
  ``u`` or ``x``) are unescaped in place;
* string literals joined by ``+`` (``'ghp_' + 'r81H...'``; sign: a quote,
  ``+``, a quote) are joined;
* runs of 16+ comma-separated character codes (``String.fromCharCode(103,
  104, ...)``, ``bytes([103, ...])``; sign: a bracket before two codes, and 15
  commas) are read as the text they spell;
* a key prefix written backwards (``...AIKA``, ``..._phg``) or in ROT13
  (``NXVN...``, ``tuc_...``) is read from the token run it starts, at most
  :data:`_EDGE` characters: only texts with a run worth decoding are searched
  (one RE2 pass, about 1.5 ns a byte), and only the windows at a prefix are
  turned, so neither prose nor random text is reversed as a whole.

Every output is at most its input's length and the caller charges it to its
decode budget; a turned window is charged :data:`_WINDOW`, so a text full of
prefixes spends the budget (a review) after a bounded number of windows.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator

import re2

__all__ = ["CODES", "ESCAPES", "JOINED", "TURNED", "signs", "spellings"]

#: Sign bits: what :func:`signs` saw (:data:`TURNED` is the caller's: a run worth decoding).
ESCAPES, JOINED, CODES, TURNED = 1, 2, 4, 8
_ESCAPE = re.compile(r"\\+(?:u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|u\{([0-9A-Fa-f]{1,6})\})")
#: A ``+`` then a quote: a literal ``+`` first, so Python's re jumps from ``+`` to ``+``.
_DIGITS = frozenset("0123456789")
_NUMBER = frozenset("0123456789.")
#: A quote, ``+``, a quote: removed in one C pass (gaps bounded, so each try is short).
_JOIN = re.compile(r"[\"'`][ \t]{0,64}\+[ \t\r\n]{0,64}[\"'`]")
#: Printable character codes (and tab, line feed, carriage return).
_CODE = r"(?:3[2-9]|[4-9][0-9]|1[01][0-9]|12[0-6]|9|10|13)"
#: Three codes in a row behind a comma: a literal ``,`` first, cheap on prose's commas.
_CODE_SIGN = re.compile(rf",\s*{_CODE}\s*,\s*{_CODE}\s*,")
#: RE2: a run of 15 codes and a sixteenth that is none would make Python's re try the run
#: again from each of its codes (10 ms on 60 KB of such runs); the character before is
#: consumed (no lookbehind in RE2) and cut off, a last code that a digit follows dropped.
_CODES = re2.compile(rf"(?:^|[^0-9.]){_CODE}(?:[ \t\r\n]{{0,8}},[ \t\r\n]{{0,8}}{_CODE}){{15,}}")
#: Key prefixes worth reading backwards or in ROT13 (what the rules key on); not ``hf_`` or
#: ``SG.``, whose turned forms start ordinary words (``us_dollars``, ``FT. Lauderdale``).
_PREFIXES = (
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "sk-", "sk_live_",
    "rk_live_", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xapp-", "AKIA", "ASIA", "AIza", "npm_",
    "pypi-", "dop_v1_",
)  # fmt: skip
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
_BACKWARDS = tuple(prefix[::-1] for prefix in _PREFIXES)
#: One RE2 pass for both, at a token's edge (a key's prefix starts its token): group 1 a
#: prefix written backwards that no letter, digit, ``_`` or ``-`` follows, group 2 one in
#: ROT13 that none precedes. Inside words they are common (``tasks-``, ``offx-``).
_TURNED = re2.compile(
    "("
    + "|".join(map(re.escape, _BACKWARDS))
    + ")(?:$|[^A-Za-z0-9_-])|(?:^|[^A-Za-z0-9_-])("
    + "|".join(re.escape(codecs.encode(prefix, "rot13")) for prefix in _PREFIXES)
    + ")"
)
#: Longest secret a rule finds (GitHub fine-grained tokens are 255 characters).
_EDGE = 320
_TOKEN = re.compile(r"[A-Za-z0-9_+/=.:-]*")
#: What a turned window costs of the budget: 64 KB buys 256 windows (about 1.5 ms).
_WINDOW = 256


def signs(text: str) -> int:
    """Which spellings ``text`` may hold (bits), from single-character searches; asked
    only of a text the rule set found worth decoding."""
    out = 0
    if "\\" in text:
        out = ESCAPES
    if "+" in text and ("'" in text or '"' in text or "`" in text):
        out |= JOINED
    if ("[" in text or "(" in text or "{" in text) and text.count(",") >= 15:
        out |= CODES
    return out


def _unescaped(text: str) -> str | None:
    def one(found: re.Match[str]) -> str:
        code = int(found.group(1) or found.group(2) or found.group(3), 16)
        return chr(code) if code < 0x110000 else found.group(0)

    out = _ESCAPE.sub(one, text)
    return out if out != text else None


def _joined(text: str) -> str | None:
    """``text`` with each ``quote + quote`` between two literals removed."""
    out = _JOIN.sub("", text)
    return out if out != text else None


def _codes(text: str) -> str | None:
    """The texts that runs of 16+ character codes spell, one a line."""
    if _CODE_SIGN.search(text) is None:
        return None
    spelled = []
    for found in _CODES.finditer(text):
        run = found.group()
        run = run if run[0] in _DIGITS else run[1:]
        if text[found.end() : found.end() + 1] in _NUMBER:  # a longer number's first digits
            run = run[: run.rfind(",")]
            if run.count(",") < 15:
                continue
        # JSON reads the numbers in C; the run holds only digits, commas and JSON whitespace.
        spelled.append(bytes(json.loads("[" + run + "]")).decode("ascii"))
    return "\n".join(spelled) if spelled else None


def _turned(text: str, room: int) -> tuple[str, int] | None:
    """The windows at a key prefix written backwards or in ROT13, turned back, one a line,
    and their cost: :data:`_WINDOW` each, whatever their length (each costs a match and a
    slice), so a text full of prefixes spends the budget, past ``room`` unread."""
    out: list[str] = []
    for found in _TURNED.finditer(text):
        if len(out) * _WINDOW > room:
            return "", room + 1
        if found.group(1) is not None:  # a prefix written backwards: the key ends at the prefix
            end = found.end(1)
            window = text[max(0, end - _EDGE) : end][::-1]
        else:
            start = found.start(2)
            window = text[start : start + _EDGE].translate(_ROT13)
        token = _TOKEN.match(window)
        out.append(window[: token.end()] if token is not None else window)
    return ("\n".join(out), len(out) * _WINDOW) if out else None


def spellings(text: str, seen: int, room: int) -> Iterator[tuple[str, int]]:
    """``(text as spelled out, its cost)`` for each spelling ``seen`` (bits); ``room``: the
    caller's remaining budget. Every text may be decoded again."""
    for bit, read in ((ESCAPES, _unescaped), (JOINED, _joined), (CODES, _codes)):
        if seen & bit:
            found = read(text)
            if found is not None:
                yield found, len(found)
    if seen & TURNED:
        turned = _turned(text, room)
        if turned is not None:
            yield turned
