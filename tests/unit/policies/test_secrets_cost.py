"""The secret scan stays linear: rule sets that cannot multiply counters, bounded split joins.

Speed itself is shown by ``benchmarks/policy_check.py --adversarial``; these
tests pin the structure that keeps it linear, and that nothing is lost by it.
"""

from __future__ import annotations

from agent_os.policies.analysis._secrets import _fragments, scan_secrets
from agent_os.policies.analysis._secrets_rules import _SETS, RULES, _gated, anchored, match_set

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
    # Every rule and the four decoding members are in exactly one set.
    every = sorted(i for _, members, _ in _SETS for i in members)
    assert every == list(range(len(RULES) + 4))


def test_gated_sets_are_skipped_only_where_no_match_can_start() -> None:
    # Gated: every match starts with 23+ token characters or 8+ digits (FREE_GATE sees it).
    assert _gated(r"[0-9a-z]{32}-us[0-9]{1,2}")
    assert _gated(r"\d{8,10}:AA[0-9A-Za-z_-]{33}")
    assert not _gated(r"[0-9a-z]{12}-us")
    assert not _gated(r"AC[a-z0-9]{32}")
    for _, members, gated in _SETS:
        if gated:
            assert all(i < len(RULES) and _gated(RULES[i].regex) for i in members)
    # The gate opens for the secrets behind it.
    telegram = "bot 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    assert "secret:telegram-token" in {c for c, _ in scan_secrets({"m": telegram})}
    assert [i for i in match_set(b"an ordinary sentence, id 42") if i < len(RULES)] == []


def test_split_join_reads_only_the_ends_of_long_fragments() -> None:
    blob = "A1b2C3d4" * 8000  # 64 KB of token characters
    joined = "".join(_fragments([blob, blob, "ok-token"]))
    assert len(joined) < 3 * 1024
    # A secret split at the end of a long fragment is still whole at the join.
    args = {"a": blob + GITHUB[:20], "b": GITHUB[20:] + blob}
    assert "secret:github-token" in {check for check, _ in scan_secrets(args)}


def test_decoding_is_a_few_passes_not_one_per_run() -> None:
    import base64

    from agent_os.policies.analysis._secrets import _decodings

    runs = [base64.b64encode(f"harmless text number {i:04d}".encode()).decode() for i in range(500)]
    decoded = list(_decodings(" ".join(runs)))
    assert len(decoded) <= 4  # one per encoding, whatever the number of runs
    assert "harmless text number 0499" in "\n".join(decoded)
    # A key hidden among them is still found, in base64 and in base64url.
    hidden = base64.urlsafe_b64encode(f"token {GITHUB}".encode()).decode()
    assert "secret:github-token" in {c for c, _ in scan_secrets({"t": [*runs[:50], hidden]})}
