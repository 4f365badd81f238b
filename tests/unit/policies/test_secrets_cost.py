"""The secret scan stays linear: rule sets that cannot multiply counters, bounded split joins.

Speed itself is shown by ``benchmarks/policy_check.py --adversarial``; these
tests pin the structure that keeps it linear, and that nothing is lost by it.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os.policies.analysis._secrets import _fragments, scan_secrets
from agent_os.policies.analysis._secrets_gate import has_run, min_run, runs
from agent_os.policies.analysis._secrets_rules import _SETS, RULES, anchored, match_set

GITHUB = "ghp_r81HCrlGW5qon7rIoDeT2v1lpjlgPBR0O4Na"


def test_free_running_rules_are_kept_apart() -> None:
    # A counter that can start at any character ([MNO][...]{23,27}, [0-9a-z]{32}) is free
    # running; one behind a literal prefix is anchored.
    assert not anchored(r"[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}")
    assert not anchored(r"[0-9a-z]{32}-us[0-9]{1,2}")
    assert not anchored(r"\d{8,10}:AA[0-9A-Za-z_-]{33}")
    assert anchored(r"(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}")
    assert anchored(r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]{0,3}[:=]([A-Za-z0-9/+]{40})")
    assert anchored(r"(?:^|[^0-9A-Za-z+/=_-])EAAA[0-9A-Za-z_-]{60}")
    for _, members, _ in _SETS:
        free = [i for i in members if i < len(RULES) and not anchored(RULES[i].regex)]
        assert len(free) <= 2, [RULES[i].id for i in free]
    # Every rule is in exactly one set; the three decoding triggers ride in the first.
    every = sorted(i for _, members, _ in _SETS for i in members)
    assert every == list(range(len(RULES) + 3))
    assert set(_SETS[0][1]) >= {len(RULES), len(RULES) + 1}


def test_gated_sets_are_skipped_only_where_no_match_can_start() -> None:
    # A set's gate is a run of token characters every match of every member holds.
    assert min_run(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}") == 20
    assert min_run(r"gh[pousr]_[A-Za-z0-9]{36,255}") == 40
    assert min_run(r"ATATT3[A-Za-z0-9_=-]{150,200}") == 6  # "=" is no run character
    assert min_run(r"(?i)xox(?:a|b|p)-(?:\d+-)+[a-z0-9]+") == 8
    assert min_run(r"BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY") == 7
    assert min_run(r"\d{8,10}:AA[0-9A-Za-z_-]{33}") == 35
    assert min_run(r"a.{0,3}b") == 1
    gates = [gate for _, _, gate in _SETS]
    assert gates == sorted(gates) and gates[0] == 0
    for _, members, gate in _SETS:
        assert all(min_run(RULES[i].regex) >= gate for i in members if i < len(RULES))
    # The gates open for the secrets behind them; prose meets the ungated set alone.
    telegram = "bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    assert "secret:telegram-token" in {c for c, _ in scan_secrets({"m": telegram})}
    assert "secret:github-token" in {c for c, _ in scan_secrets({"m": f"k={GITHUB}"})}
    assert [i for i in match_set(b"an ordinary sentence, id 42") if i < len(RULES)] == []
    # A case-folded match (Kelvin sign, long s) is not gated away; other non-ASCII ends a run.
    assert has_run(runs(("\u212a\u017f" * 5).encode()), 25)
    assert not has_run(runs(("\u30ab" * 30).encode()), 20)
    assert min_run("caf\u00e9" * 8) == 3
    assert not has_run(runs(b"short words only, nothing long here"), 20)


def _holds_its_run(regex: str, need: int) -> None:
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(example=st.from_regex(re.compile(regex, re.ASCII), fullmatch=True))
    def holds(example: str) -> None:
        assert has_run(runs(example.encode("utf-8", "surrogatepass")), need), (regex, example)

    holds()


def test_every_match_of_every_rule_holds_its_run() -> None:
    # Soundness of the gates: generated matches of each rule hold the run min_run claims.
    for rule in RULES:
        need = min_run(rule.regex)
        if need:
            _holds_its_run(rule.regex, need)


_OLD_DECODABLE = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}|%[0-9A-Fa-f]{2}")
_OLD_SPACED = re.compile(r"(?:[A-Za-z0-9_+/=.-] ){12,}[A-Za-z0-9_+/=.-]")
_OLD_HEX = re.compile(r"[0-9a-fA-F]{32,}")


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("aZ09+/_-=.% fF\u00e9\n"), max_size=80)
    | st.from_regex(_OLD_SPACED)
    | st.from_regex(_OLD_HEX)
)
def test_decoding_triggers_cover_the_regexes_they_replace(text: str) -> None:
    found = set(match_set(text.encode()))
    n = len(RULES)
    assert (n in found) == bool(_OLD_DECODABLE.search(text) or _OLD_SPACED.search(text))
    assert (n + 1 in found) == bool(_OLD_SPACED.search(text))
    assert (n + 2 in found) == bool(_OLD_HEX.search(text))


def test_split_join_reads_only_the_ends_of_long_fragments() -> None:
    blob = "A1b2C3d4" * 8000  # 64 KB of token characters
    joined = "".join(_fragments([blob, blob, "ok-token"]))
    assert len(joined) < 3 * 1024
    # A secret split at the end of a long fragment is still whole at the join.
    args = {"a": blob + GITHUB[:20], "b": GITHUB[20:] + blob}
    assert "secret:github-token" in {check for check, _ in scan_secrets(args)}


def test_decoding_is_a_few_passes_not_one_per_run() -> None:
    import base64

    from agent_os.policies.analysis._secrets_decode import decodings

    runs = [base64.b64encode(f"harmless text number {i:04d}".encode()).decode() for i in range(500)]
    decoded = [text for text, _ in decodings(" ".join(runs), True, True, False)]
    assert len(decoded) <= 4  # one per encoding, whatever the number of runs
    assert "harmless text number 0499" in "\n".join(decoded)
    # A key hidden among them is still found, in base64 and in base64url.
    hidden = base64.urlsafe_b64encode(f"token {GITHUB}".encode()).decode()
    assert "secret:github-token" in {c for c, _ in scan_secrets({"t": [*runs[:50], hidden]})}


def _regex_first(text: str) -> str | None:
    # The readings _first_word and _last_word replace on ASCII text.
    found = re.compile(r"[A-Za-z0-9_+/=-]{8,}").search(text, 0, 320)
    return None if found is None else found.group(0)


def _regex_last(text: str) -> str | None:
    found = re.compile(r"[A-Za-z0-9_+/=-]{8,}").search(text[-320:][::-1])
    return None if found is None else found.group(0)[::-1]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="aZ9_+/=-", min_size=1, max_size=40),
            st.text(alphabet=" .:;\t\n,'\"!?", min_size=1, max_size=3),
        ),
        max_size=60,
    ).map("".join)
)
def test_split_words_read_like_the_word_regex(text: str) -> None:
    from agent_os.policies.analysis._secrets import _first_word, _last_word

    assert _first_word(text) == _regex_first(text)
    assert _last_word(text) == _regex_last(text)
    wide = text + "\u00e9" + text  # non-ASCII text takes the regex path
    assert _first_word(wide) == _regex_first(wide)
    assert _last_word(wide) == _regex_last(wide)


def test_split_words_at_the_edges() -> None:
    from agent_os.policies.analysis._secrets import _first_word, _last_word

    word = "Tok3n_9Xq" * 40  # 360 token characters: cut at both bounds
    across = "x " * 30 + word[:18] + " y" * 30  # a word across the first and last 64
    for text in (word, "x " + word, word + " y", "ab " * 150 + word[:12] + " cd" * 150, across):
        assert _first_word(text) == _regex_first(text)
        assert _last_word(text) == _regex_last(text)
    assert _first_word("no long words here at all") is None
    assert _last_word("no long words here at all") is None


def _all_fragments(texts: list[str]) -> list[str]:
    # _fragments without its early exit (it returns [] when fewer than two are found):
    # a spaced text's first word when a fragment came before it, its last when a text
    # comes after it.
    out: list[str] = []
    for index, text in enumerate(texts):
        if len(text) < 4:
            continue
        if " " not in text:
            out.append(text)
            continue
        words = [
            word
            for word, wanted in (
                (_regex_first(text), bool(out)),
                (_regex_last(text), index < len(texts) - 1),
            )
            if wanted and word is not None
        ]
        if words:
            out.append("\n\x00\n".join(words))
    return out


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(["ab", "DROP TABLE users", "tok3n_abcdefg", "x ab" * 3, "a " + GITHUB]),
        max_size=6,
    )
)
def test_split_fragments_stop_when_two_cannot_be_found(texts: list[str]) -> None:
    found = _all_fragments(texts)
    assert _fragments(texts) == (found if len(found) > 1 else [])
