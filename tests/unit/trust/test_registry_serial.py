"""A forged high serial cannot lock readers out of every later registry file.

An unsigned file may move the serial at most ``max_step`` at once; a mark no
genuine file can reach (accepted before that rule, or a genuine jump) is
lowered by ``agent-os trust reset-state``, which keeps every revocation and
which running readers sharing the state file adopt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_os.adapters._cli import main
from agent_os.kernel_worker._startup import StartupRefused, open_registry
from agent_os.trust import AgentIdentity, FileTrustStore, TrustError, TrustLevel, TrustRegistry

AGENT = AgentIdentity.from_seed("agent-1", b"\x01" * 32, "Agent", ["read"])
LEAKED = AgentIdentity.from_seed("agent-2", b"\x02" * 32, "Leaked", ["read"])
LATER = AgentIdentity.from_seed("agent-4", b"\x04" * 32, "Later", ["read"])
ADMIN = AgentIdentity.from_seed("admin-1", b"\x05" * 32, "Admin", [])
NOW = 1_700_000_000.0


def _registry(tmp_path: Path) -> tuple[Path, Path, TrustRegistry]:
    """A registry (serial 3) whose agent-2 is revoked, and where a reader keeps its state."""
    path = tmp_path / "registry.json"
    writer = TrustRegistry(FileTrustStore(path))
    writer.register(AGENT)
    writer.register(LEAKED)
    writer.revoke("agent-2", "leaked", now=NOW)
    return path, tmp_path / "registry.json.state", writer


def _forge(path: Path, serial: int) -> bytes:
    """Write the file again with ``serial`` and the revocation removed; the genuine bytes."""
    genuine = path.read_bytes()
    data = json.loads(genuine)
    data["serial"] = serial
    for agent in data["agents"]:
        agent["revoked"] = False
    path.write_text(json.dumps(data))
    return genuine


def _revoked(store: FileTrustStore, agent_id: str) -> bool:
    entry = store.get(agent_id)
    assert entry is not None
    return entry.revoked


def _reset(path: Path, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["trust", "reset-state", "--registry", str(path), *extra])
    assert result.exit_code == 0, result.output
    assert "reset from serial" in result.stderr
    return dict(json.loads(result.stdout))


def test_a_forged_serial_jump_is_refused_and_the_next_genuine_file_accepted(
    tmp_path: Path,
) -> None:
    path, state, writer = _registry(tmp_path)
    reader = FileTrustStore(path, state=state)
    reader.all()
    assert reader.serial == 3
    genuine = _forge(path, 999)

    assert _revoked(reader, "agent-2")  # still the genuine copy
    assert reader.serial == 3
    assert reader.problem is not None and "jumped from serial 3 to 999" in reader.problem
    assert "agent-os trust reset-state" in reader.problem
    assert json.loads(state.read_text())["serial"] == 3  # the forged serial is not a mark

    path.write_bytes(genuine)  # the operator restores the file and adds an agent: serial 4
    writer.register(LATER)
    assert reader.get("agent-4") is not None and reader.serial == 4
    assert reader.problem is None and _revoked(reader, "agent-2")
    restarted = FileTrustStore(path, state=state)  # and a restart starts
    assert restarted.get("agent-4") is not None and _revoked(restarted, "agent-2")


def test_a_restart_on_a_forged_jump_is_refused_by_name(tmp_path: Path) -> None:
    path, state, _ = _registry(tmp_path)
    FileTrustStore(path, state=state).all()
    _forge(path, 999)
    with pytest.raises(StartupRefused, match="jumped from serial 3 to 999") as caught:
        open_registry(path, recheck=0.0, state=state)
    assert caught.value.code == "registry_serial_jump"


def test_a_step_within_the_bound_moves_the_mark_but_not_a_revocation(tmp_path: Path) -> None:
    path, state, _ = _registry(tmp_path)
    reader = FileTrustStore(path, state=state, max_step=10)
    reader.all()
    _forge(path, 13)
    reader.all()
    assert reader.serial == 13 and reader.problem is None
    assert _revoked(reader, "agent-2")  # sticky whatever the file says
    _forge(path, 24)
    reader.all()
    assert reader.serial == 13 and reader.problem is not None


def test_a_signed_registry_may_jump(tmp_path: Path) -> None:
    path, state, writer = _registry(tmp_path)
    writer.register(ADMIN, TrustLevel.ADMIN)
    store = FileTrustStore(path)
    store.sign(ADMIN)
    reader = FileTrustStore(path, state=state, trusted_signers=[ADMIN.public()])
    reader.all()
    assert reader.serial == 5
    for _ in range(150):  # the admin's word: its serial is a mark however far it moves
        store.sign(ADMIN)
    reader.all()
    assert reader.serial == 155 and reader.problem is None
    assert json.loads(state.read_text())["serial"] == 155


def test_reset_state_recovers_readers_locked_by_a_serial_accepted_before(tmp_path: Path) -> None:
    """The lock-in as it was before the bound: a reader took serial 999 as its mark."""
    path, state, writer = _registry(tmp_path)
    running = FileTrustStore(path, state=state, max_step=10_000)
    running.all()
    genuine = _forge(path, 999)
    running.all()
    assert running.serial == 999 and _revoked(running, "agent-2")
    path.write_bytes(genuine)
    writer.register(LATER)  # serial 4: refused by the running reader and by a restart
    assert running.get("agent-4") is None
    assert running.problem is not None and "went back from serial 999 to 4" in running.problem
    assert "agent-os trust reset-state" in running.problem
    with pytest.raises(StartupRefused) as caught:
        open_registry(path, recheck=0.0, state=state)
    assert caught.value.code == "registry_rolled_back"

    assert _reset(path) == {"state": str(state), "from": 999, "to": 4}
    saved = json.loads(state.read_text())
    assert saved["serial"] == 4 and saved["reset"]["from"] == 999
    assert [r["agent_id"] for r in saved["revoked"].values()] == ["agent-2"]

    assert running.get("agent-4") is not None and running.problem is None  # adopted at once
    restarted = open_registry(path, recheck=0.0, state=state)
    assert restarted.get("agent-4") is not None
    assert restarted.level("agent-2") is TrustLevel.NONE  # the revocation survived the reset

    # The revocation stays sticky after the reset too: a file that un-revokes it is overruled.
    _forge(path, 5)
    assert _revoked(running, "agent-2")  # (the read also moved the mark to 5)
    assert running.serial == 5
    assert json.loads(state.read_text())["reset"] == saved["reset"]  # kept on later saves


def test_reset_state_without_a_state_file_says_so(tmp_path: Path) -> None:
    path, _, _ = _registry(tmp_path)
    result = CliRunner().invoke(main, ["trust", "reset-state", "--registry", str(path)])
    assert result.exit_code == 1
    assert "does not exist: nothing to reset" in result.output


def test_reset_state_takes_the_state_path_a_worker_is_given(tmp_path: Path) -> None:
    path, _, _ = _registry(tmp_path)
    state = tmp_path / "elsewhere.state"
    FileTrustStore(path, state=state, max_step=10_000).all()
    _forge(path, 999)
    FileTrustStore(path, state=state, max_step=10_000).all()
    path.write_text(json.dumps({**json.loads(path.read_text()), "serial": 7}))
    with pytest.raises(TrustError):
        FileTrustStore(path, state=state).all()
    assert _reset(path, "--state", str(state))["to"] == 7
    restarted = FileTrustStore(path, state=state)
    restarted.all()
    assert restarted.serial == 7


def test_reset_state_accepts_a_genuine_jump_a_running_reader_refused(tmp_path: Path) -> None:
    """More than max_step changes while no reader looked: refused, then accepted on purpose."""
    path, state, _ = _registry(tmp_path)
    running = FileTrustStore(path, state=state)
    running.all()
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "serial": 250}))
    running.all()
    assert running.serial == 3 and running.problem is not None
    assert _reset(path) == {"state": str(state), "from": 3, "to": 250}
    running.all()
    assert running.serial == 250 and running.problem is None
    assert _revoked(running, "agent-2")
