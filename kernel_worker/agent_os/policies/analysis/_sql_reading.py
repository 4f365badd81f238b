"""Reading one SQL tokenization: the token look-ups and look-aheads the judge's handlers use.

:class:`Reading` holds one reading's tokens (their kinds, one character each,
and their values) and answers what a keyword's handler asks about its
neighbours: a token's word or kind, where its statement ends, where a word
next occurs. Each answer is remembered, so the handlers of many keywords in
one statement cost a look-up each rather than a scan each (which made 8 KB
of ``UPDATE t SET a = (`` repeated take a tenth of a second); the whole
reading stays linear in its tokens. :class:`._sql_judge.Judge` adds the
statement shapes.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from ._sql_tokens import Tokens

__all__ = ["Reading", "indices"]


def indices(seq: Sequence[str], needles: Iterable[str]) -> Iterator[int]:
    """Every index of each needle in ``seq`` (needle by needle, each ascending), in C time."""
    for needle in needles:
        i = -1
        try:
            while True:
                i = seq.index(needle, i + 1)
                yield i
        except ValueError:
            continue


def _show(kinds: str, values: list[str], start: int, end: int) -> str:
    """Tokens ``start`` to ``end`` as an excerpt of at most 120 characters (reads no more)."""
    parts = []
    length = 0
    for j in range(start, min(end, len(kinds))):
        part = f"'{values[j]}'" if kinds[j] == "s" else values[j]
        parts.append(part)
        length += len(part) + 1
        if length > 120:
            break
    return " ".join(parts)[:120]


class Reading:
    """One reading's tokens and the findings recorded on them."""

    __slots__ = (
        "_at", "_close", "_depths", "_ends", "_levels", "findings", "kinds", "start", "values",
    )  # fmt: skip

    def __init__(self, tokens: Tokens, findings: dict[str, str]) -> None:
        self.kinds, self.values = tokens  # kind of each token (one character), its value
        self.findings = findings
        self.start = 0  # index of the current statement's first token
        self._at: dict[tuple[str, str], list[int]] = {}  # (word, following kinds) -> indices
        self._close: dict[int, int] | None = None  # "(" -> its ")"
        self._ends: dict[frozenset[str], dict[int, int]] = {}  # scan start -> statement end
        # "(" indices, ")" indices, and per depth the "(" that open a group of that depth
        self._depths: tuple[list[int], list[int], dict[int, list[int]] | None] | None = None
        self._levels: dict[str, dict[int, list[int]]] = {}  # word -> depth -> indices

    def flag(self, check: str, at: int) -> None:
        if check not in self.findings:  # the first excerpt stays
            end = max(at + 6, self.start + 6)
            self.findings[check] = _show(self.kinds, self.values, self.start, end)

    def word(self, i: int) -> str | None:
        if 0 <= i < len(self.kinds) and self.kinds[i] == "w":
            return self.values[i]
        return None

    def kind(self, i: int) -> str | None:
        return self.kinds[i] if 0 <= i < len(self.kinds) else None

    def punct(self, i: int, marks: str) -> bool:
        """True when token ``i`` is one of the punctuation ``marks`` (one character each)."""
        return 0 <= i < len(self.kinds) and self.kinds[i] == "p" and self.values[i] in marks

    def end_of_statement(self, i: int, stop_words: frozenset[str]) -> int:
        """Index of the ``;`` (or depth-0 statement keyword) that ends the statement at ``i``.

        A bracketed group is stepped over at once (to its ``)``; unclosed, it runs to the
        end), and every depth-0 token the scan passes shares its answer, remembered: the
        scans of all keywords together pass each token once per set of stop words.
        """
        memo = self._ends.setdefault(stop_words, {})
        close = self._close if self._close is not None else self._closing()
        kinds, values = self.kinds, self.values
        n = len(kinds)
        passed = []
        j = i + 1
        end = n
        while j < n:
            known = memo.get(j)
            if known is not None:
                end = known
                break
            passed.append(j)
            kind = kinds[j]
            if kind == "p":
                value = values[j]
                if value == ";":
                    end = j
                    break
                if value == "(":
                    j = close.get(j, n) + 1
                    continue
            elif kind == "w" and values[j] in stop_words:
                end = j
                break
            j += 1
        memo.update(dict.fromkeys(passed, end))
        return end

    def closing(self) -> dict[int, int]:
        """Each ``(`` that is closed -> the index of its ``)`` (remembered)."""
        return self._close if self._close is not None else self._closing()

    def _parens(self) -> tuple[list[int], list[int], dict[int, list[int]] | None]:
        """``(`` indices, ``)`` indices, and (once asked for: :meth:`_groups`) per depth the
        ``(`` that open a group of that depth.
        """
        if self._depths is None:
            self._closing()
        assert self._depths is not None
        return self._depths

    def _groups(self) -> dict[int, list[int]]:
        opens, closes, by_depth = self._parens()
        if by_depth is None:
            by_depth = {}
            c, n = 0, len(closes)
            for k, j in enumerate(opens):  # ascending: each list stays sorted
                while c < n and closes[c] < j:
                    c += 1
                by_depth.setdefault(k + 1 - c, []).append(j)  # the depth inside it
            self._depths = (opens, closes, by_depth)
        return by_depth

    def nesting(self, i: int) -> int:
        """Brackets open at token ``i``: ``(`` before it minus ``)`` before it (two bisects)."""
        opens, closes, _ = self._parens()
        return bisect_left(opens, i) - bisect_left(closes, i)

    def first_beside(self, word: str, start: int, end: int, i: int) -> int:
        """The first word ``word`` in ``[start, end)`` in the same bracketed group as token
        ``i`` (same depth, no ``)`` closing that group between them), or -1. A ``WHERE``
        inside a subquery is not the statement's own. Bisects only: the first ``word`` at
        ``i``'s depth after ``start`` is either in ``i``'s group or past its end.
        """
        depth = self.nesting(i)
        if word not in self._levels:
            grouped: dict[int, list[int]] = {}
            for j in self.positions(word):
                grouped.setdefault(self.nesting(j), []).append(j)
            self._levels[word] = grouped
        at = self._levels[word].get(depth, [])
        k = bisect_left(at, start)
        if k == len(at) or at[k] >= end:
            return -1
        closes = self._parens()[1]
        if depth == 0 and len(closes) == len(self.closing()):
            return at[k]  # every ")" closes a "(": depth 0 is one group
        group = self._groups().get(depth, [])
        # i's group: opened by the last "(" of its depth before it; the same for at[k]?
        return at[k] if bisect_left(group, at[k]) == bisect_left(group, i) else -1

    def _closing(self) -> dict[int, int]:
        """Each ``(`` that is closed -> the index of its ``)``; also the ``(`` and ``)`` lists."""
        if self._close is None:
            kinds, values = self.kinds, self.values
            close: dict[int, int] = {}
            open_: list[int] = []
            parens = sorted(j for j in indices(values, ("(", ")")) if kinds[j] == "p")
            for j in parens:
                if values[j] == "(":
                    open_.append(j)
                elif open_:
                    close[open_.pop()] = j
            self._close = close
            opens = [j for j in parens if values[j] == "("]
            self._depths = (opens, [j for j in parens if values[j] == ")"], None)
        return self._close

    def positions(self, word: str, following: str = "") -> list[int]:
        """Indices of the word tokens ``word`` (ascending); with ``following``, only those
        the next token of one of these kinds follows.
        """
        key = (word, following)
        at = self._at.get(key)
        if at is None:
            kinds = self.kinds
            at = [j for j in indices(self.values, (word,)) if kinds[j] == "w"]
            if following:
                at = [j for j in at if kinds[j + 1 : j + 2] in following and j + 1 < len(kinds)]
            self._at[key] = at
        return at

    def has_word(self, start: int, end: int, *words: str) -> int:
        """The first index in ``[start, end)`` of one of the word tokens ``words``, or -1."""
        end = min(end, len(self.kinds))
        found = -1
        for word in words:
            at = self.positions(word)
            k = bisect_left(at, start)
            if k < len(at) and at[k] < end and (found < 0 or at[k] < found):
                found = at[k]
        return found
