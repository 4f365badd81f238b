"""A pattern set's scan is skipped only for text that no member could match."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os.policies import Pattern, Policy
from agent_os.policies.analysis._re import OPTIONS, required_marks

_ATOMS = ["a", "b", "/", "-", r"\.", "=", "[/a]", r"\w", r"\s", "x", r"\*", ":", r"\b", "|"]


def _regex() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(_ATOMS)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{0,3}", "{1,2}"])).map(
                lambda p: f"(?:{p[0]}){p[1]}"
            ),
        ),
        max_leaves=8,
    )


def test_marks_of_known_shapes() -> None:
    assert required_marks([r"/\*|--"]) == frozenset({"*", "-"})
    assert required_marks([r"\bdd\b[^\n]*\bof=/dev/"]) == frozenset({"="})
    assert required_marks([r"(?:x/)+y", r"a\|b"]) == frozenset({"/", "|"})
    # A member that needs no mark, an optional mark, or syntax Python lacks: no claim.
    assert required_marks([r"/etc", r"\bmkfs\b"]) is None
    assert required_marks([r"(?:x/)?y"]) is None
    assert required_marks([r"a(?:b/|c)"]) is None
    assert required_marks([r"\Qa/b\E"]) is None
    # Quotes and backslashes are removed before matching: never a mark.
    assert required_marks([r"a'b"]) is None


@settings(max_examples=400, deadline=None)
@given(regex=_regex(), text=st.text(alphabet="ab/-.=x*: |AB\n", max_size=14))
def test_a_text_without_the_marks_never_matches(regex: str, text: str) -> None:
    try:
        compiled = re2.compile(regex, OPTIONS)
    except re2.error:
        return
    marks = required_marks([regex])
    if marks is not None and compiled.search(text) is not None:
        assert any(mark in text for mark in marks), (regex, marks, text)


def test_skipped_scan_keeps_every_verdict() -> None:
    policy = Policy(
        "marks",
        blocked_patterns=[
            Pattern(r"/etc/passwd\b", reason="passwd"),
            Pattern(r"a\|b", reason="pipe"),
        ],
    )
    assert policy.evaluate({"action": "note", "args": {"text": "plain prose"}}).allowed
    hit = policy.evaluate({"action": "note", "args": {"text": "cat /etc/passwd"}})
    assert not hit.allowed
    assert hit.matched == "/etc/passwd"
    # The comment detector still reads a comment that splits the path.
    split = policy.evaluate({"action": "note", "args": {"text": "cat /etc/pa/**/sswd"}})
    assert not split.allowed
