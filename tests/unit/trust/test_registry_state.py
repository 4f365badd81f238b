"""A registry reader's serial and revoked keys outlive the process (the state file)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agent_os.trust import AgentIdentity, FileTrustStore, TrustError, TrustRegistry

AGENT = AgentIdentity.from_seed("agent-1", b"\x01" * 32, "Agent", ["read"])
NOW = 1_700_000_000.0


def _files(tmp_path: Path) -> tuple[Path, Path, TrustRegistry]:
    path = tmp_path / "trust.json"
    writer = TrustRegistry(FileTrustStore(path))
    writer.register(AGENT)
    return path, tmp_path / "trust.json.state", writer


def test_a_restarted_reader_refuses_the_older_file(tmp_path: Path) -> None:
    path, state, writer = _files(tmp_path)
    old = path.read_bytes()
    writer.revoke("agent-1", "leaked", now=NOW)
    first = FileTrustStore(path, state=state)
    entry = first.get("agent-1")
    assert entry is not None and entry.revoked
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    assert json.loads(state.read_text())["serial"] == 2

    path.write_bytes(old)  # while no reader runs, the older file comes back
    restarted = FileTrustStore(path, state=state)
    with pytest.raises(TrustError, match="went back from serial 2 to 1") as caught:
        restarted.all()
    assert caught.value.code == "registry_rollback"
    with pytest.raises(TrustError):  # and keeps refusing it
        restarted.get("agent-1")
    assert FileTrustStore(path).get("agent-1") is not None  # without state: as before


def test_a_restarted_reader_keeps_a_revocation_a_newer_file_drops(tmp_path: Path) -> None:
    path, state, writer = _files(tmp_path)
    writer.revoke("agent-1", "leaked", now=NOW)
    FileTrustStore(path, state=state).all()
    data = json.loads(path.read_text())
    data["serial"] = 99  # a hand edit: same key, not revoked, a higher serial
    data["agents"][0]["revoked"] = False
    path.write_text(json.dumps(data))

    restarted = FileTrustStore(path, state=state)
    entry = restarted.get("agent-1")
    assert entry is not None and entry.revoked and entry.revoked_reason == "leaked"
    assert restarted.problem is None
    assert json.loads(state.read_text())["serial"] == 99


def test_a_running_reader_that_sees_an_older_file_fails_readiness(tmp_path: Path) -> None:
    path, state, writer = _files(tmp_path)
    old = path.read_bytes()
    writer.revoke("agent-1", "leaked", now=NOW)
    FileTrustStore(path, state=state).all()
    restarted = FileTrustStore(path, state=state)
    assert restarted.get("agent-1") is not None  # serial 2: fine
    path.write_bytes(old)
    entry = restarted.get("agent-1")
    assert entry is not None and entry.revoked
    assert restarted.problem is not None and "went back from serial 2 to 1" in restarted.problem


@pytest.mark.parametrize(
    "garbage", [b"{broken", b'{"version": 1}', b'{"version": 1, "serial": "2", "revoked": {}}', b""]
)
def test_an_unreadable_state_file_is_refused_not_forgotten(tmp_path: Path, garbage: bytes) -> None:
    path, state, _ = _files(tmp_path)
    state.write_bytes(garbage)
    with pytest.raises(TrustError, match="registry state") as caught:
        FileTrustStore(path, state=state)
    assert caught.value.code == "store_error"


def test_a_state_file_that_cannot_be_written_is_a_problem_until_it_can(tmp_path: Path) -> None:
    path, _, writer = _files(tmp_path)
    blocked = tmp_path / "state"
    blocked.mkdir()
    store = FileTrustStore(path, state=blocked / "trust.state")
    blocked.rmdir()
    blocked.write_bytes(b"")  # a file where the state's directory was (root ignores modes)
    assert store.get("agent-1") is not None
    assert store.problem is not None and "cannot be written" in store.problem
    blocked.unlink()
    blocked.mkdir()
    writer.revoke("agent-1", "leaked", now=NOW)
    entry = store.get("agent-1")
    assert entry is not None and entry.revoked and store.problem is None
    assert json.loads((blocked / "trust.state").read_text())["serial"] == 2


def test_a_revocation_the_file_cannot_take_outlives_a_restart(tmp_path: Path) -> None:
    """A read-only registry (a mounted ConfigMap): the state file still keeps the revocation."""
    path, state, _ = _files(tmp_path)
    store = FileTrustStore(path, state=state)
    lock = tmp_path / "trust.json.lock"
    lock.unlink()
    lock.mkdir()  # the store cannot lock, so cannot write, the file (root ignores modes)
    with pytest.raises(TrustError):
        TrustRegistry(store).revoke("agent-1", "leaked", now=NOW)
    entry = store.get("agent-1")
    assert entry is not None and entry.revoked  # held by this store at once
    assert json.loads(path.read_text())["agents"][0]["revoked"] is False  # not in the file

    restarted = FileTrustStore(path, state=state)
    entry = restarted.get("agent-1")
    assert entry is not None and entry.revoked and entry.revoked_reason == "leaked"
