"""A forgiving POSIX-shell / bash lexer for policy analysis (never raises, linear time).

It yields words after the shell's own quote removal and expansions, so the
analyser sees what would run, not how it was spelled:

* quoting and escapes: ``r'm'``, ``"r"m``, ``r\\m``, ``$'\\x72\\x6d'`` (ANSI-C,
  decoded), line continuations;
* parameters: ``$x`` / ``${x}`` take the value of an earlier static assignment
  (``a=r; b=m; $a$b``), ``$IFS`` / ``${IFS}`` is a field separator, ``$HOME``
  is ``~``; any other parameter is *dynamic* (unknown until run time);
* command substitution ``$(...)``, backticks and process substitution
  ``<(...)`` are analysed recursively through a callback; their output is
  known only for a plain ``echo`` / ``printf`` of static words, otherwise the
  word is dynamic. The word remembers which executables ran inside it;
* brace expansion ``{rm,-rf,/}`` and field splitting of unquoted expansions;
* here-documents and here-strings (their text is kept: it is a script when
  fed to a shell).

Operators come out as ``Op`` strings; the analyser builds commands from them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["OPS", "Budget", "Lexer", "Word", "decode_ansi_c"]

OPS = (
    ";;&", ";;", ";&", "&&", "||", "|&", "&>>", "&>", "<<<", "<<-", "<<", ">>", ">|", ">&", "<&",
    "<>", ";", "&", "|", "(", ")", "<", ">", "\n",
)  # fmt: skip
_BREAK = frozenset(" \t\r\n\f\v;&|()<>")
# Characters with no meaning to the lexer: runs of them are copied in one step.
_PLAIN = re.compile(r"[^ \t\r\n\f\v;&|()<>\\'\"$`*?\[{},]+")
# A whole word of them (up to a break or the end): it is its own expansion.
_PLAIN_WORD = re.compile(r"[^ \t\r\n\f\v;&|()<>\\'\"$`*?\[{},]+(?=[ \t\r\n\f\v;&|()<>]|\Z)")
# The operators that start with each breaking character, in the order of OPS (longest first).
_OPS_AT = {ch: tuple(op for op in OPS if op[0] == ch) for ch in "\n;&|()<>"}
_SPLIT = "\x00"  # field-split marker inside a word under construction
_FIELDS = str.maketrans(" \t\n", _SPLIT * 3)
_MAX_BRACE = 64
# Brace expansion rescans a word per alternative: a longer word with unquoted braces
# (which only expansions of long values build) is past the analysis budget.
_MAX_BRACE_TEXT = 1_024


class Budget(Exception):
    """The script needs more work than one verdict may spend (``shell:too-complex``)."""


_SIMPLE_ESC = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r",
    "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


@dataclass(slots=True)
class Word:
    """One shell word after expansion.

    ``dynamic``: part of it is only known at run time; ``glob``: it holds an
    unquoted ``*``, ``?`` or ``[``; ``subs``: executables run by substitutions
    inside it; ``heredoc``: the here-document body when this word is a
    here-document delimiter.
    """

    text: str
    dynamic: bool = False
    glob: bool = False
    subs: tuple[str, ...] = ()
    heredoc: str | None = None
    assignment: bool = field(default=False)


def decode_ansi_c(body: str) -> str:
    """Decode the body of a ``$'...'`` string (``\\x72``, ``\\162``, ``\\u0072``, ``\\n``...)."""
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESC:
            out.append(_SIMPLE_ESC[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            j = i + 2
            while j < n and j < i + 2 + width and body[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(min(int(body[i + 2 : j], 16), 0x10FFFF)) if j > i + 2 else "\\" + nxt)
            i = j
        elif nxt in "01234567":
            j = i + 1
            while j < n and j < i + 4 and body[j] in "01234567":
                j += 1
            out.append(chr(int(body[i + 1 : j], 8) & 0xFF))
            i = j
        elif nxt == "c" and i + 2 < n:
            out.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
        else:
            out.append("\\" + nxt)
            i += 2
    return "".join(out)


def find_close(text: str, start: int, opener: str = "(", closer: str = ")") -> int:
    """Index of the ``closer`` matching the ``opener`` at ``start`` (quotes respected), or len."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            end = text.find("'", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return n


class Lexer:
    """Tokens of one script: ``Word`` or an operator string from :data:`OPS`.

    ``lookup(name)`` gives a parameter's value (``None``: unknown);
    ``substitute(script)`` analyses a command substitution and returns
    ``(output or None, executables)``.
    """

    def __init__(
        self,
        text: str,
        lookup: Callable[[str], str | None],
        substitute: Callable[[str], tuple[str | None, tuple[str, ...]]],
    ) -> None:
        self.text = text.replace("\x00", "")
        self.pos = 0
        self._lookup = lookup
        self._substitute = substitute
        self._heredocs: list[tuple[str, bool, Word]] = []
        # Per word under construction: its pieces, and whether each is unquoted.
        self._buf: list[str] = []
        self._unq: list[bool] = []
        self._dynamic = False
        self._glob = False
        self._subs: list[str] = []

    def __iter__(self) -> Iterator[Word | str]:
        text = self.text
        n = len(text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\f\v":
                self.pos += 1
            elif ch == "\\" and text.startswith("\\\n", self.pos):
                self.pos += 2
            elif ch == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif ch in "<>" and text.startswith("(", self.pos + 1):
                yield self._word()  # process substitution <(...) / >(...)
            elif ch in _BREAK:
                op = next(o for o in _OPS_AT[ch] if text.startswith(o, self.pos))
                self.pos += len(op)
                if op == "\n" and self._heredocs:
                    self._read_heredocs()
                yield op
                if op in ("<<", "<<-"):
                    yield from self._heredoc_word(strip_tabs=op == "<<-")
            else:
                start = self.pos
                whole = _PLAIN_WORD.match(text, start)
                if whole is not None:  # nothing to remove or expand: the word as it stands
                    self.pos = whole.end()
                    if self.pos < n and text[self.pos] in "<>" and whole.group().isdigit():
                        continue  # a file-descriptor number glued to a redirection
                    yield Word(whole.group())
                    continue
                word = self._word()
                if self.pos < n and text[self.pos] in "<>" and text[start : self.pos].isdigit():
                    continue  # a file-descriptor number glued to a redirection
                yield from self._expand(word)

    # -- words ------------------------------------------------------------------------

    def _heredoc_word(self, strip_tabs: bool) -> Iterator[Word]:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1
        word = self._word()
        self._heredocs.append((word.text, strip_tabs, word))
        yield word

    def _read_heredocs(self) -> None:
        text = self.text
        for delimiter, strip_tabs, word in self._heredocs:
            lines: list[str] = []
            while self.pos < len(text):
                end = text.find("\n", self.pos)
                end = len(text) if end < 0 else end
                line = text[self.pos : end]
                self.pos = min(end + 1, len(text))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                lines.append(line)
            word.heredoc = "\n".join(lines)
        self._heredocs = []

    def _add(self, chars: str, unquoted: bool) -> None:
        self._buf.append(chars)
        self._unq.append(unquoted)

    def _word(self) -> Word:
        self._buf, self._unq, self._dynamic, self._glob, self._subs = [], [], False, False, []
        text = self.text
        n = len(text)
        if self.pos < n and text[self.pos] in "<>":  # process substitution
            end = find_close(text, self.pos + 1)
            self._command_sub(text[self.pos + 2 : end])
            self.pos = end + 1
        while self.pos < n:
            ch = text[self.pos]
            if ch in _BREAK:
                break
            if ch == "\\":
                if self.pos + 1 < n and text[self.pos + 1] != "\n":
                    self._add(text[self.pos + 1], False)
                self.pos += 2
            elif ch == "'":
                end = text.find("'", self.pos + 1)
                end = n if end < 0 else end
                self._add(text[self.pos + 1 : end], False)
                self.pos = end + 1
            elif ch == '"':
                self._double_quoted()
            elif ch == "$":
                self._dollar(quoted=False)
            elif ch == "`":
                self._backtick()
            else:
                plain = _PLAIN.match(text, self.pos)
                if plain is not None:  # a run of ordinary characters, added at once
                    self._add(plain.group(), False)
                    self.pos = plain.end()
                    continue
                if ch in "*?[":
                    self._glob = True
                self._add(ch, ch in "{},")
                self.pos += 1
        return Word(
            "".join(self._buf),
            dynamic=self._dynamic,
            glob=self._glob,
            subs=tuple(self._subs),
        )

    def _double_quoted(self) -> None:
        text = self.text
        n = len(text)
        self.pos += 1
        while self.pos < n and text[self.pos] != '"':
            ch = text[self.pos]
            if ch == "\\" and self.pos + 1 < n and text[self.pos + 1] in '$`"\\\n':
                if text[self.pos + 1] != "\n":
                    self._add(text[self.pos + 1], False)
                self.pos += 2
            elif ch == "$":
                self._dollar(quoted=True)
            elif ch == "`":
                self._backtick()
            else:
                self._add(ch, False)
                self.pos += 1
        self.pos += 1

    def _dollar(self, quoted: bool) -> None:
        text = self.text
        n = len(text)
        nxt = text[self.pos + 1] if self.pos + 1 < n else ""
        if nxt == "'" and not quoted:
            end = self.pos + 2
            while end < n and text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            self._add(decode_ansi_c(text[self.pos + 2 : min(end, n)]), False)
            self.pos = end + 1
        elif nxt == '"' and not quoted:
            self.pos += 1
            self._double_quoted()
        elif nxt == "(":
            end = find_close(text, self.pos + 1)
            inner = text[self.pos + 2 : end]
            arithmetic = inner.startswith("(")
            self.pos = end + 1
            if arithmetic:
                self._substitute(inner.strip("()"))  # may hold $(...) of its own
                self._add("0", False)
            else:
                self._command_sub(inner, quoted)
        elif nxt == "{":
            end = find_close(text, self.pos + 1, "{", "}")
            expr = text[self.pos + 2 : end]
            self.pos = end + 1
            name = expr
            for i, ch in enumerate(expr):
                if not (ch.isalnum() or ch == "_"):
                    name = expr[:i] if i else expr[:1]
                    break
            value = self._lookup(name) if name == expr else None
            self._value(value, f"${{{expr}}}", quoted)
        elif nxt and (nxt.isalnum() or nxt == "_" or nxt in "@*#?$!-"):
            end = self.pos + 2
            if nxt.isalpha() or nxt == "_":
                while end < n and (text[end].isalnum() or text[end] == "_"):
                    end += 1
            name = text[self.pos + 1 : end]
            self.pos = end
            self._value(self._lookup(name), "$" + name, quoted)
        else:
            self._add("$", False)
            self.pos += 1

    def _value(self, value: str | None, placeholder: str, quoted: bool) -> None:
        if value is None:
            self._dynamic = True
            self._add(placeholder, False)
        elif quoted:
            self._add(value, False)
        else:
            # Its blanks split fields; none of its characters is an unquoted brace or
            # comma, which is all the brace expansion asks of a piece.
            self._add(value.translate(_FIELDS), False)

    def _backtick(self) -> None:
        text = self.text
        end = self.pos + 1
        while end < len(text) and text[end] != "`":
            end += 2 if text[end] == "\\" else 1
        inner = text[self.pos + 1 : end].replace("\\`", "`").replace("\\$", "$")
        self.pos = end + 1
        self._command_sub(inner.replace("\\\\", "\\"))

    def _command_sub(self, inner: str, quoted: bool = False) -> None:
        output, executables = self._substitute(inner)
        self._subs.extend(executables)
        self._value(output, "$(...)", quoted)

    # -- expansion --------------------------------------------------------------------

    def _expand(self, word: Word) -> Iterator[Word]:
        text = word.text
        if "{" in text:  # no brace, no brace expansion
            unq = [u for piece, u in zip(self._buf, self._unq, strict=True) for _ in piece]
            if len(text) > _MAX_BRACE_TEXT and any(
                u for piece, u in zip(self._buf, self._unq, strict=True) if "{" in piece
            ):
                raise Budget
            texts = _braces(text, unq, 0)
        else:
            texts = [text]
        for text in texts:
            for piece in text.split(_SPLIT) if _SPLIT in text else (text,):
                if piece or (len(texts) == 1 and _SPLIT not in text):
                    yield Word(piece, word.dynamic, word.glob, word.subs, word.heredoc)


def _braces(text: str, unq: list[bool], depth: int) -> list[str]:
    """Bash brace expansion over unquoted ``{a,b}`` groups (bounded)."""
    if depth > 4:
        return [text]
    start = -1
    level = 0
    commas: list[int] = []
    for i, ch in enumerate(text):
        if not unq[i] if i < len(unq) else True:
            continue
        if ch == "{":
            if level == 0:
                start, commas = i, []
            level += 1
        elif ch == "," and level == 1:
            commas.append(i)
        elif ch == "}" and level:
            level -= 1
            if level == 0 and commas:
                head, tail = text[:start], text[i + 1 :]
                cuts = [start, *commas, i]
                out: list[str] = []
                for a, b in itertools.pairwise(cuts):
                    middle = text[a + 1 : b]
                    mask = unq[a + 1 : b] + unq[i + 1 :]
                    for rest in _braces(middle + tail, mask, depth + 1):
                        out.append(head + rest)
                        if len(out) >= _MAX_BRACE:
                            return out
                return out
    return [text]
