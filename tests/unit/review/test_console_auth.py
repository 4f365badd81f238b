"""Console sessions, CSRF tokens and token files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent_os.review._console_auth import Sessions, load_tokens
from agent_os.trust import AgentIdentity


def test_session_round_trips_and_survives_a_restart() -> None:
    console = AgentIdentity.create("console-1")
    cookie = Sessions(console).issue("alice")
    assert Sessions(console).reviewer(cookie) == "alice"  # a new process, same key


def test_forged_stale_or_foreign_sessions_are_refused() -> None:
    console = AgentIdentity.create("console-1")
    sessions = Sessions(console)
    cookie = sessions.issue("alice")
    name, expiry, mac = cookie.split("|")
    assert sessions.reviewer(f"mallory|{expiry}|{mac}") is None
    assert sessions.reviewer(f"{name}|{int(expiry) + 10**6}|{mac}") is None
    assert sessions.reviewer(sessions.issue("alice", now=time.time() - 86400)) is None
    assert Sessions(AgentIdentity.create("console-2")).reviewer(cookie) is None
    for junk in ("", "alice", "a|b", "a|b|c|d"):
        assert sessions.reviewer(junk) is None


def test_csrf_token_is_bound_to_its_cookie() -> None:
    sessions = Sessions(AgentIdentity.create("console-1"))
    nonce = sessions.new_nonce()
    token = sessions.csrf_token(nonce)
    assert sessions.csrf_ok(nonce, token)
    assert not sessions.csrf_ok(sessions.new_nonce(), token)
    assert not sessions.csrf_ok(nonce, None) and not sessions.csrf_ok(None, token)


def test_token_file_rules(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("# reviewers\nalice alice-token-0123456789\nbob bob-token-0123456789  # ops\n")
    path.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        load_tokens(path)
    path.chmod(0o600)
    assert load_tokens(path) == {"alice-token-0123456789": "alice", "bob-token-0123456789": "bob"}
    path.write_text("alice short\n")
    with pytest.raises(ValueError, match="shorter than 16"):
        load_tokens(path)
    path.write_text("alice\n")
    with pytest.raises(ValueError, match="REVIEWER_ID TOKEN"):
        load_tokens(path)
