"""Compatibility folding is bounded in size and still shows ASCII keywords."""

from __future__ import annotations

import unicodedata

from agent_os.policies import load_policy
from agent_os.policies.analysis._normalise import compat

STRICT = load_policy("strict")


def test_no_character_expands_more_than_six_fold() -> None:
    # U+FDFA is 18 characters under NFKC: 64 KB of it was 1 MB for every analyser to read.
    assert len(compat("\ufdfa" * 1000)) <= 6 * 1000
    assert len(compat("\ufdfb" * 1000)) <= 6 * 1000
    assert len(compat("\u3316" * 1000)) == len(unicodedata.normalize("NFKC", "\u3316" * 1000))


def test_ascii_keywords_survive_as_under_nfkc() -> None:
    for text in ("\uff24\uff32\uff2f\uff30 TABLE", "\ufb01nd / -delete", "\U0001d42b\U0001d426"):
        nfkc = unicodedata.normalize("NFKC", text)
        assert compat(text) == nfkc
    assert compat("r\u200bm") == "rm"


def test_expanding_text_still_meets_the_rules_after_it() -> None:
    padding = "\ufdfa" * 5000
    verdict = STRICT.evaluate(
        {
            "agent_id": "a",
            "action": "sql",
            "args": {"query": f"SELECT '{padding}'; DROP TABLE users"},
        }
    )
    assert verdict.rule == "sql:drop"
    verdict = STRICT.evaluate(
        {
            "agent_id": "a",
            "action": "file_read",
            "args": {"path": f"/tmp/{padding}/../../etc/shadow"},
        }
    )
    assert verdict.decision.value == "deny"


def test_url_unescaping_in_c_time_matches_unquote() -> None:
    import random
    from urllib.parse import unquote

    from agent_os.policies.analysis._normalise import unescape_url

    pieces = ["%2e", "%41", "%", "%\n", "% ", "=", "=\n", "%c3%a9", "%ZZ", "%4", "a", "/", "%25"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert unescape_url(text) == unquote(text, errors="replace"), text


def test_sql_comments_are_stripped_in_two_substitutions() -> None:
    from agent_os.policies.analysis._normalise import strip_sql_comments

    cases = {
        "DR/**/OP TABLE x": "DROP TABLE x",
        "SELECT 1 -- drop\nDROP": "SELECT 1 \nDROP",
        "/*!50000DROP*/ TABLE t": "DROP TABLE t",
        "a /* unterminated": "a ",
        "x -- y /* z\n w */ q": "x \n w */ q",
        "/* a -- b */ c": " c",
        "SELECT 1 " + "/**/" * 16000: "SELECT 1 ",
    }
    for text, expected in cases.items():
        assert strip_sql_comments(text) == expected
    verdict = STRICT.evaluate(
        {"agent_id": "a", "action": "sql", "args": {"query": "/**/" * 8000 + "DR/**/OP TABLE t"}}
    )
    assert verdict.rule == "sql:drop"
