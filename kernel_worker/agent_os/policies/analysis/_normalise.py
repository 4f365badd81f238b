"""Text normalisation and argument flattening for policy matching.

Patterns are matched against *normalised* text so that trivial spellings do
not slip through: Unicode NFKC (full-width ``\\uff24`` is ``D``), zero-width
characters removed, case folded, shell quoting removed (``r'm' -"rf"`` and
``r\\m`` are ``rm``), SQL comments removed (``DR/**/OP`` is ``DROP``) and
whitespace runs collapsed to one space. :func:`normalise` does all of that
literally and is the reference.

The engine gets the same result faster, because the budget is a few
microseconds per action:

* :func:`fold` handles Unicode and quoting. Every pattern is compiled
  case-insensitive, so case folding is only done for the few characters
  whose full fold the matcher would miss (``ß``); ASCII text skips the
  Unicode work entirely.
* Whitespace is never collapsed in the text; instead each literal space in a
  pattern is compiled as ``\\s+`` (:func:`space_insensitive`), which matches
  exactly what a single space matches in collapsed text.
* SQL comments are removed only when a text contains ``/*`` or ``--`` (a
  detector in the same RE2 set finds them), and the stripped text is matched
  *in addition to* the original. Stripping alone would hide text: in
  ``echo -- ; rm -rf /`` everything after ``--`` is a "comment".

Arguments are flattened into the ``all`` text: every value as a ``key:`` line
followed by the value, plus every key, joined with :data:`SEP`, which no
pattern can match across. What each argument *is* (command, SQL, path, URL,
prose...) is decided by classification (``policies._classify``), not here;
``flatten`` can still group values by key for callers that pass a mapping.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = [
    "INVISIBLE",
    "SEP",
    "collapse_whitespace",
    "compat",
    "flatten",
    "fold",
    "has_comment",
    "normalise",
    "space_insensitive",
    "strip_sql_comments",
    "unescape_url",
]

#: Joins values: ``\\s`` stops at the NUL and ``.`` / ``[^\\n]`` stop at the newlines.
SEP = "\n\x00\n"

_MAX_DEPTH = 64

# Format characters (zero-width space/joiners, soft hyphen, BOM, ...) split a
# keyword without changing how it renders; NFKC keeps them, so drop them.
INVISIBLE = (
    "\u00ad", "\u034f", "\u061c", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e",
    "\u200f", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\ufeff",
)  # fmt: skip
# After NFKC, the only characters whose full case fold yields ASCII letters
# that RE2's (simple-folding) case-insensitive match would miss.
_FULL_FOLD = ("\u00df", "\u1e9e")  # ß, ẞ -> "ss"


# NFKC expansions longer than 6 characters: only these two Arabic ligatures (18 and 8),
# and their expansions hold no ASCII. One mark keeps 64 KB of them from becoming 1 MB.
_LONG_EXPANSIONS = ("\ufdfa", "\ufdfb")
_ESCAPE = re.compile(rb"%(?=[0-9A-Fa-f]{2})")
# A comment, left to right (whichever starts first wins); not a MySQL /*! */ one. A run
# of comments, each starting where the last ended, is one match (the same comments a
# match per comment finds): 64 KB of /**/ is one substitution, not 16,000. The empty
# comment first, spelled out: it is what the general one matches there, found faster.
_COMMENT = re.compile(r"(?:/\*\*/|/\*(?!!)[\s\S]*?(?:\*/|\Z)|--[^\n]*)+")
# What is left of /*!50000 ... */ once the other comments are gone: its two marks.
_EXECUTABLE = re.compile(r"(?:/\*!\d*|\*/)+")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


@lru_cache(maxsize=16)
def compat(text: str) -> str:
    """Compatibility decomposition (NFKD) without invisible characters: what matchers read.

    Full-width letters, ligatures, mathematical alphabets and the like become
    their ASCII letters, exactly as under NFKC. NFKD rather than NFKC because
    composition is what costs (CPython's NFKC of 64 KB of squared katakana takes
    about 20 ms; NFKD under 2 ms) and it never yields ASCII: an ASCII keyword
    is visible after NFKD wherever it is after NFKC. Combining marks stay as
    separate characters. Bounded: no character expands more than six-fold.
    Cached, so the analysers that read one text in one action decompose it once.
    """
    if text.isascii():
        return text
    for char in _LONG_EXPANSIONS:
        if char in text:
            text = text.replace(char, "\ufffd")
    text = unicodedata.normalize("NFKD", text)
    for char in INVISIBLE:
        if char in text:
            text = text.replace(char, "")
    return text


def unescape_url(text: str) -> str:
    """``urllib.parse.unquote(text, errors="replace")`` in C time.

    ``unquote`` loops in Python over every escape (6 ms for 64 KB of them);
    here ``%XX`` becomes quoted-printable ``=XX`` (a literal ``=`` is first
    escaped as ``=3D``) and ``binascii.a2b_qp`` decodes it. A ``%`` that starts
    no escape stays as it is.
    """
    if "%" not in text:
        return text
    data = text.encode("utf-8", "surrogatepass").replace(b"=", b"=3D")
    valid = _BAD_ESCAPE.search(data) is None  # then every % starts an escape: C replace
    data = data.replace(b"%", b"=") if valid else _ESCAPE.sub(b"=", data)
    return binascii.a2b_qp(data).decode("utf-8", "replace")


def fold(text: str) -> str:
    """NFKC, invisible characters removed, and shell quoting removed.

    Case is left to the matcher: patterns compile case-insensitive (Unicode
    simple folding), so only text holding a character whose *full* fold
    differs in a way that matters (``ß`` -> ``ss``) is case-folded here. ASCII
    text skips the Unicode work entirely. Shell quoting is removed by deleting
    ``'``, ``"`` and ``\\``, so the pieces of a quoted word join up again
    (``r'm'`` -> ``rm``).
    """
    if not text.isascii():
        text = compat(text)
        if _FULL_FOLD[0] in text or _FULL_FOLD[1] in text:
            text = text.casefold()
    if "'" in text:
        text = text.replace("'", "")
    if '"' in text:
        text = text.replace('"', "")
    if "\\" in text:
        text = text.replace("\\", "")
    return text


def has_comment(text: str) -> bool:
    """Whether ``text`` holds ``/*`` or ``--``: a one-character ``memchr`` first, since
    a two-character substring search walks the text at a fraction of that speed."""
    return ("/" in text and "/*" in text) or ("-" in text and "--" in text)


def strip_sql_comments(text: str) -> str:
    """Remove ``/* ... */`` (an unterminated one runs to the end) and ``-- ...`` to end of line.

    Comments are removed, not replaced by a space, so ``DR/**/OP`` becomes
    ``DROP``. A MySQL executable comment ``/*!50000 DROP */`` keeps its body
    (in which ``--`` starts a comment, as MySQL reads it). Two regex
    substitutions with constant replacements: C time, however many comments.
    """
    if not has_comment(text):
        return text
    text = _COMMENT.sub("", text)
    if "/*!" in text:
        text = _EXECUTABLE.sub("", text)
    return text


def collapse_whitespace(text: str) -> str:
    """Collapse every whitespace run to one space and trim the ends."""
    return " ".join(text.split())


def normalise(text: str) -> str:
    """The full reference normalisation: fold, strip SQL comments, collapse whitespace.

    >>> normalise("\\uff24\\uff32/**/\\uff2f\\uff30   \\t TABLE -- bye")
    'drop table'
    >>> normalise("r'm' -\\"rf\\"  /")
    'rm -rf /'
    """
    text = fold(text).casefold()
    if has_comment(text):
        text = strip_sql_comments(text)
    return collapse_whitespace(text)


def space_insensitive(regex: str) -> str:
    """Rewrite each literal space outside a character class as ``(?:\\s+)``.

    Matching the result against raw text is equivalent to matching ``regex``
    against whitespace-collapsed text, without building the collapsed copy.
    ``\\Q...\\E`` literals, escapes and bracket expressions are left alone
    (``[ ]`` means exactly one space character).
    """
    if " " not in regex:
        return regex
    out: list[str] = []
    i = 0
    n = len(regex)
    while i < n:
        ch = regex[i]
        if ch == "\\" and i + 1 < n:
            nxt = regex[i + 1]
            if nxt == "Q":
                end = regex.find("\\E", i + 2)
                end = n if end < 0 else end + 2
                out.append(regex[i:end])
                i = end
                continue
            out.append("(?:\\s+)" if nxt == " " else regex[i : i + 2])
            i += 2
            continue
        if ch == "[":
            j = _class_end(regex, i)
            out.append(regex[i:j])
            i = j
            continue
        out.append("(?:\\s+)" if ch == " " else ch)
        i += 1
    return "".join(out)


def _class_end(regex: str, start: int) -> int:
    """Index just past the bracket expression opening at ``start``."""
    n = len(regex)
    i = start + 1
    if i < n and regex[i] == "^":
        i += 1
    if i < n and regex[i] == "]":
        i += 1
    while i < n:
        ch = regex[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[" and i + 1 < n and regex[i + 1] == ":":
            end = regex.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        if ch == "]":
            return i + 1
        i += 1
    return n


def flatten(
    args: object,
    key_groups: Mapping[str, str],
    out_all: list[str],
    out_groups: dict[str, list[str]],
) -> bool:
    """Append ``args``' text to ``out_all`` and, per field group, to ``out_groups``.

    ``key_groups`` maps a lower-case key to its group (only groups the policy
    uses). Values nested under a group key inherit the group. Returns
    ``False`` when nesting is deeper than 64 levels (which also ends cycles).
    Non-string scalars contribute their key only; bytes are decoded as UTF-8;
    any other object contributes its ``str()``.
    """
    # Hot path: exact-type checks first (an ABC isinstance costs more than
    # the rest of the loop), the general Mapping / Sequence path after.
    stack: list[tuple[Any, str | None, int]] = [(args, None, 0)]
    pop = stack.pop
    push = stack.append
    add = out_all.append
    scalars = _SCALARS
    while stack:
        node, group, depth = pop()
        if depth > _MAX_DEPTH:
            return False
        kind = type(node)
        if kind is dict or (kind is not str and kind not in scalars and isinstance(node, Mapping)):
            for key, value in node.items():
                skey = key if type(key) is str else _text(key)
                if key_groups:
                    # Most keys are already lower case: try them as they are first.
                    g = key_groups.get(skey)
                    if g is None:
                        g = group if skey.islower() else key_groups.get(skey.lower(), group)
                else:
                    g = group
                vkind = type(value)
                if vkind is not str:
                    if vkind in scalars:
                        add(skey)
                        continue
                    if vkind is dict or vkind is list or _is_container(value):
                        add(skey)
                        push((value, g, depth + 1))
                        continue
                    value = _text(value)
                add(f"{skey}:\n{value}")
                if g is not None:
                    out_groups.setdefault(g, []).append(value)
        elif kind is list or kind is tuple or (kind is not str and _is_container(node)):
            for item in node:
                ikind = type(item)
                if ikind is str:
                    add(item)
                    if group is not None:
                        out_groups.setdefault(group, []).append(item)
                elif ikind not in scalars:
                    push((item, group, depth + 1))
        elif kind not in scalars:
            text = node if kind is str else _text(node)
            add(text)
            if group is not None:
                out_groups.setdefault(group, []).append(text)
    return True


_SCALARS = frozenset((int, float, bool, type(None)))


def _is_container(value: object) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)
