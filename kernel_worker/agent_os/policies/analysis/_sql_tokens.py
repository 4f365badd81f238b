"""A linear SQL tokenizer for policy analysis: words, literals, identifiers, variables, punctuation.

One compiled regex, one pass. String literals and quoted identifiers come out
as single tokens, so their content is data (``WHERE a = 'DROP TABLE x'``
holds no statement); comments are dropped, except MySQL's executable
``/*! ... */`` whose body runs and is tokenized like any text.

Dialects disagree on how a literal ends, and an attacker picks the reading
the analyser does not: ``'a\\'; DROP TABLE t; --'`` is one literal to MySQL
and a literal plus a ``DROP`` to standard SQL. :func:`readings` therefore
yields every reading the text allows - standard quoting, backslash escapes
(when the text has a backslash), no dollar quoting (when it has a ``$``) -
and the analyser reports what any of them finds. Each reading is linear.

Token kinds: ``w`` word (lower case), ``q`` quoted identifier, ``s`` string
literal (its content), ``n`` number, ``v`` variable / parameter / stage
(``@x``, ``:x``, ``$1``, ``?``; and ``$$x``, which no dialect without dollar quotes
reads as ``$``, ``$``, ``x``: MySQL's identifier, elsewhere a syntax error), ``p`` one
punctuation character.

Most text an agent sends holds no comment, bracket, dollar or backslash: then
every reading is the standard one, and :func:`tokenize` takes the tokens in C
time (one ``findall``; kinds by their first character; words lower-cased all at
once) instead of a Python step per token; only literals and quoted names, if
any, are finished one by one. They are the same tokens (tests compare both ways
on generated text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

import re2

__all__ = ["Tokens", "lex", "plain", "readings", "tokenize"]


class Tokens(NamedTuple):
    """One reading's tokens: their kinds, one character each, and their values."""

    kinds: str
    values: list[str]


_COMMON = r"""
 (?P<ws>\s+)
|(?P<line>--[^\n]*)
|(?P<exe>/\*!\d*)
|(?P<block>/\*.*?(?:\*/|\Z))
|(?P<close>\*/)
|(?P<dq>"(?:[^"]|"")*(?:"|\Z))
|(?P<bq>`(?:[^`]|``)*(?:`|\Z))
|(?P<br>\[[^\]\n]*(?:\]|\Z))
|(?P<var>[@:?][\w@$.#]*|\$\d+|\$\$[\w$#]*)
|(?P<word>[^\W\d][\w$#]*)
|(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
|(?P<p>.)
"""
_STD_STR = r"""(?P<str>(?:[NnEeXxBbUu]|[Uu]&)?'(?:[^']|'')*(?:'|\Z))"""
_BSL_STR = r"""(?P<str>(?:[NnEeXxBbUu]|[Uu]&)?'(?:[^'\\]|''|\\.)*(?:'|\Z))"""
# The tag group always takes part (maybe empty), so the closing ``$tag$`` can refer to it.
_DOLLAR = r"""(?P<dollar>\$(?P<tag>(?:[^\W\d]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z))|"""

_STANDARD = re.compile(_DOLLAR + _STD_STR + "|" + _COMMON, re.S | re.X)
_BACKSLASH = re.compile(_DOLLAR + _BSL_STR + "|" + _COMMON, re.S | re.X)
_NO_DOLLAR = re.compile(_STD_STR + "|" + _COMMON, re.S | re.X)


# Plain text: ASCII holding nothing that starts a comment, a bracketed name, a dollar
# quote or a backslash reading, no NUL, and no upper-case exponent (lower-casing the text
# would change that number's token). Literals and quoted names it may hold.
_NOT_PLAIN = re2.compile(r"[\[$\\\x00]|--|/\*|\*/|\dE")._regexp.Match
_UNANCHORED = re2._Anchor.UNANCHORED
_QUOTES = ("'", '"', "`")
# The full lexer's alternatives for what plain text can hold (each starts with its own
# characters, so their order does not matter; ``\S``:
# whitespace is skipped there too; ``\s`` is Unicode's, as there).
_PLAIN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_$#]*|[@:?][A-Za-z0-9_@$.#]*|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|\S"
).findall
_KIND_OF_FIRST = {chr(c): "p" for c in range(128)}
_KIND_OF_FIRST.update({c: "w" for c in "abcdefghijklmnopqrstuvwxyz_"})
_KIND_OF_FIRST.update({c: "n" for c in "0123456789"})
_KIND_OF_FIRST.update({c: "v" for c in "@:?"})
_KINDS = str.maketrans(_KIND_OF_FIRST)
# With literals and quoted names: the full lexer's alternatives in its order (a literal
# before a word: N'x' is a literal), each quoted run unrolled ('[^']*(?:''[^']*)*: the
# same strings as '(?:[^']|'')*, matched a run at a time rather than a character).
_QUOTED = re.compile(
    r"(?:[NnEeXxBbUu]|[Uu]&)?'[^']*(?:''[^']*)*(?:'|\Z)"
    r'|"[^"]*(?:""[^"]*)*(?:"|\Z)'
    r"|`[^`]*(?:``[^`]*)*(?:`|\Z)"
    r"|[@:?][A-Za-z0-9_@$.#]*"
    r"|[A-Za-z_][A-Za-z0-9_$#]*"
    r"|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
    r"|\S"
).findall


def plain(text: str) -> bool:
    """True when ``text``'s tokens can be taken in C time (see the module docstring)."""
    if not text.isascii():
        return False
    data = text.encode()
    return bool(_NOT_PLAIN(_UNANCHORED, data, 0, len(data))[0][0] < 0)


def _plain_tokens(text: str) -> Tokens:
    if "'" not in text and '"' not in text and "`" not in text:
        values: list[str] = _PLAIN(text.lower())
        return Tokens("".join([value[0] for value in values]).translate(_KINDS), values)
    # Literals keep their case: take the tokens as written, lower-case them all at once
    # (the text holds no NUL), then put back the few literals and quoted names.
    raw: list[str] = _QUOTED(text)
    values = "\x00".join(raw).lower().split("\x00")
    kinds = list("".join([value[0] for value in values]).translate(_KINDS))
    for k in [k for k, token in enumerate(raw) if "'" in token or token[0] in _QUOTES]:
        token = raw[k]
        if token[0] in _QUOTES[1:]:  # "name", `name`
            kinds[k], values[k] = "q", token[1:-1] if len(token) > 1 else ""
        else:  # 'text', N'text', U&'text'
            kinds[k], values[k] = "s", _literal(token)
    return Tokens("".join(kinds), values)


def _literal(text: str) -> str:
    start = text.index("'") + 1
    body = text[start:-1] if text.endswith("'") and len(text) > start else text[start:]
    return body.replace("''", "'")


def tokenize(text: str, lexer: re.Pattern[str] = _STANDARD) -> Tokens:
    """Tokens of ``text`` under one reading (the standard one by default)."""
    if plain(text):
        return _plain_tokens(text)  # every reading of plain text is this one
    return lex(text, lexer)


def lex(text: str, lexer: re.Pattern[str] = _STANDARD) -> Tokens:
    """:func:`tokenize` a Python step per token, whatever the text (the reference reading)."""
    kinds: list[str] = []
    values: list[str] = []
    kind_of, add = kinds.append, values.append
    for match in lexer.finditer(text):
        kind = match.lastgroup
        if kind in ("ws", "line", "block", "exe", "close"):
            continue
        value = match.group()
        if kind == "word":
            kind_of("w")
            add(value.lower())
        elif kind == "str":
            kind_of("s")
            add(_literal(value))
        elif kind == "dollar" or kind == "tag":
            kind_of("s")
            add(value)
        elif kind in ("dq", "bq"):
            kind_of("q")
            add(value[1:-1] if len(value) > 1 else "")
        elif kind == "br":
            kind_of("q")
            add(value[1:-1])
        elif kind == "var":
            kind_of("v")
            add(value.lower())
        elif kind == "num":
            kind_of("n")
            add(value)
        else:
            kind_of("p")
            add(value)
    return Tokens("".join(kinds), values)


def readings(text: str) -> Iterator[Tokens]:
    """Every tokenization of ``text`` a dialect could give it (see the module docstring)."""
    yield tokenize(text)
    if "\\" in text:
        yield tokenize(text, _BACKSLASH)
    if "$" in text:
        yield tokenize(text, _NO_DOLLAR)
    if "-" in text and "--" in text:
        dotted = _dot_lines(text)
        if dotted is not None:
            yield tokenize(dotted)


def _dot_lines(text: str) -> str | None:
    """``text`` with ``--`` read as ``-`` on the sqlite3 shell's dot-command lines, or ``None``
    without such a line. The shell reads a line led by ``.`` itself, not as SQL, so
    ``.import --csv /etc/passwd t`` names a file where SQL sees a comment."""
    lines = text.split("\n")
    changed = False
    for at, line in enumerate(lines):
        if line.lstrip()[:1] == "." and "--" in line:
            lines[at] = line.replace("--", " -")
            changed = True
    return "\n".join(lines) if changed else None
