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
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["Token", "readings", "tokenize"]

Token = tuple[str, str]

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


def _literal(text: str) -> str:
    start = text.index("'") + 1
    body = text[start:-1] if text.endswith("'") and len(text) > start else text[start:]
    return body.replace("''", "'")


def tokenize(text: str, lexer: re.Pattern[str] = _STANDARD) -> list[Token]:
    """Tokens of ``text`` under one reading (the standard one by default)."""
    out: list[Token] = []
    add = out.append
    for match in lexer.finditer(text):
        kind = match.lastgroup
        if kind in ("ws", "line", "block", "exe", "close"):
            continue
        value = match.group()
        if kind == "word":
            add(("w", value.lower()))
        elif kind == "str":
            add(("s", _literal(value)))
        elif kind == "dollar" or kind == "tag":
            add(("s", value))
        elif kind in ("dq", "bq"):
            add(("q", value[1:-1] if len(value) > 1 else ""))
        elif kind == "br":
            add(("q", value[1:-1]))
        elif kind == "var":
            add(("v", value.lower()))
        elif kind == "num":
            add(("n", value))
        else:
            add(("p", value))
    return out


def readings(text: str) -> Iterator[list[Token]]:
    """Every tokenization of ``text`` a dialect could give it (see the module docstring)."""
    yield tokenize(text)
    if "\\" in text:
        yield tokenize(text, _BACKSLASH)
    if "$" in text:
        yield tokenize(text, _NO_DOLLAR)
