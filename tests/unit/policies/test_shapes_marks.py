"""Shapes' cheap skip: a string with no mark, lead or starting word skips the set scan.

The marks are looked for one character at a time (``str.__contains__`` on one
character is a memchr), ``=>`` only when there is a ``=``, and ``www.`` last.
The tests compare the skip with the regex it replaced on generated strings
built from the marks and the words around them.
"""

from __future__ import annotations

import random
import re

import pytest

from agent_os.policies import _shapes

_REGEX = re.compile(r"[:;|&$(`\n]|=>|www\.")
_PIECES = [
    " ", "  ", "a", "word", "Summary", "=", ">", "=>", "= >", "w", "ww", "www", "www.",
    "wwW.", ".", ":", ";", "|", "&", "$", "(", ")", "`", "\n", "\t", "rm", "select", "import",
    "/", "~", "é", "日本", "\u2028", "-", "'", '"', "{", "[",
]  # fmt: skip


def _reference(text: str, role: str) -> frozenset[int]:
    stripped = text.lstrip()
    if not stripped:
        return frozenset()
    if (
        _REGEX.search(text) is None
        and stripped[0] not in _shapes._LEADS
        and _shapes._first_word_starts_nothing(stripped)
        and (role != "shape" or "." not in text)
    ):
        return frozenset()
    found = frozenset(_shapes._MATCH(text.encode("utf-8", "surrogatepass")) or ())
    if _shapes._COMMAND_I in found and _shapes._prose_led(text):
        found = found - {_shapes._COMMAND_I}
    return found


def test_marks_read_as_the_regex_did() -> None:
    rng = random.Random(3)
    skipped = 0
    for _ in range(20_000):
        text = "".join(rng.choices(_PIECES, k=rng.randint(1, 14)))
        for role in ("", "shape"):
            assert _shapes._found(text, role) == _reference(text, role), (text, role)
        skipped += not _shapes._marked(text) and "www." not in text
        assert (_shapes._marked(text) or "www." in text) == bool(_REGEX.search(text)), text
    assert 1_000 < skipped < 19_000  # the generator reaches both sides


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ("plain words only", False),
        ("a = b", False),
        ("x => y", True),
        ("see www.example.com", False),  # ``www.`` is looked for after the marks
        ("one; two", True),
        ("line\nbreak", True),
        ("call(it)", True),
    ],
)
def test_marked(text: str, marked: bool) -> None:
    assert _shapes._marked(text) is marked
