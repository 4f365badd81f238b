"""Nonce and trust stores."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agent_os.trust import (
    AgentIdentity,
    FileTrustStore,
    MemoryNonceStore,
    MemoryTrustStore,
    NonceStore,
    SignedMessage,
    TrustEntry,
    TrustError,
    TrustLevel,
    TrustRegistry,
    TrustStore,
)

NOW = 1_700_000_000.0
AGENT = AgentIdentity.from_seed("agent-1", b"\x01" * 32, "Agent", ["read"])


def test_stores_satisfy_their_protocols(tmp_path: Path) -> None:
    assert isinstance(MemoryNonceStore(), NonceStore)
    assert isinstance(MemoryTrustStore(), TrustStore)
    assert isinstance(FileTrustStore(tmp_path / "t.json"), TrustStore)


def test_nonce_seen_until_expiry() -> None:
    store = MemoryNonceStore()
    assert store.check_and_add("a", "n1", expires_at=NOW + 10, now=NOW)
    assert not store.check_and_add("a", "n1", expires_at=NOW + 10, now=NOW + 10)
    assert store.check_and_add("b", "n1", expires_at=NOW + 10, now=NOW)  # per sender
    assert store.check_and_add("a", "n1", expires_at=NOW + 30, now=NOW + 10.5)
    assert len(store) == 1  # the expired ones were pruned


def test_full_nonce_store_fails_closed_then_recovers() -> None:
    store = MemoryNonceStore(max_entries=3)
    for i in range(3):
        assert store.check_and_add("a", f"n{i}", expires_at=NOW + 10, now=NOW)
    assert not store.check_and_add("a", "fresh", expires_at=NOW + 10, now=NOW)
    assert store.refused == 1
    assert len(store) == 3
    # Once the old nonces expire there is room again.
    assert store.check_and_add("a", "fresh", expires_at=NOW + 30, now=NOW + 11)
    assert len(store) == 1


def test_memory_trust_store() -> None:
    store = MemoryTrustStore()
    entry = TrustEntry(identity=AGENT.public())
    store.put(entry)
    assert store.get("agent-1") == entry
    assert store.get("x") is None
    assert store.all() == [entry]


def test_trust_entry_dict_round_trip() -> None:
    entry = TrustEntry(
        identity=AGENT.public(),
        level=TrustLevel.HIGH,
        revoked=True,
        revoked_reason="r",
        revoked_at=NOW,
        key_history=("abcd",),
    )
    assert TrustEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry
    with pytest.raises(TrustError):
        TrustEntry.from_dict({**entry.to_dict(), "level": "SUPREME"})
    with pytest.raises(TrustError):
        TrustEntry.from_dict({**entry.to_dict(), "key_history": "abcd"})


def test_file_store_round_trip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    store = FileTrustStore(path)
    assert store.all() == []
    entry = TrustEntry(identity=AGENT.public(), level=TrustLevel.HIGH)
    store.put(entry)
    assert FileTrustStore(path).get("agent-1") == entry
    assert oct(path.stat().st_mode & 0o777) == oct(0o644 & ~_umask())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trust.json", "trust.json.lock"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_revocation_seen_by_second_registry(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    writer = TrustRegistry(FileTrustStore(path))
    reader = TrustRegistry(FileTrustStore(path))
    writer.register(AGENT)
    msg = SignedMessage.create(AGENT, "kernel", {"x": 1}, now=NOW)
    assert reader.verify(msg, now=NOW).valid
    writer.revoke("agent-1", "compromised", now=NOW)
    assert reader.verify(msg, now=NOW).reason == "revoked"
    assert reader.level("agent-1") is TrustLevel.NONE


def test_rotation_seen_by_second_registry_and_writes_merge(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    one = TrustRegistry(FileTrustStore(path))
    two = TrustRegistry(FileTrustStore(path))
    one.register(AGENT)
    other = AgentIdentity.create("agent-2")
    two.register(other)  # must not drop agent-1, written by the other instance
    assert {e.agent_id for e in one.store.all()} == {"agent-1", "agent-2"}
    new = AgentIdentity.create("agent-1")
    two.rotate("agent-1", new.public_key)
    assert one.verify(SignedMessage.create(new, "k", b"", now=NOW), now=NOW).valid
    assert one.verify(SignedMessage.create(AGENT, "k", b"", now=NOW), now=NOW).reason == (
        "bad_signature"
    )


def test_many_quick_writes_are_all_seen(tmp_path: Path) -> None:
    # Same-size rewrites within one file-clock tick, with inode numbers reused,
    # can leave (inode, mtime, size) unchanged; the reader must still see them.
    path = tmp_path / "trust.json"
    writer, reader = FileTrustStore(path), FileTrustStore(path)
    for i in range(30):
        for name in (f"a{i % 10}", f"b{i % 10}"):
            identity = AgentIdentity.from_seed("agent-1", b"\x01" * 32, name)
            writer.put(TrustEntry(identity=identity.public()))
        entry = reader.get("agent-1")
        assert entry is not None and entry.identity.name == f"b{i % 10}"


def test_in_place_rewrite_with_same_stamp_is_seen(tmp_path: Path) -> None:
    # Inode, size and mtime all unchanged (an in-place edit within one tick of
    # the file clock): a young file is re-read anyway.
    path = tmp_path / "trust.json"
    identity = AgentIdentity.from_seed("agent-1", b"\x01" * 32, "a1")
    FileTrustStore(path).put(TrustEntry(identity=identity.public()))
    stamp = time.time_ns() + 10_000_000_000  # "young" however slow this machine is
    os.utime(path, ns=(stamp, stamp))
    reader = FileTrustStore(path)
    entry = reader.get("agent-1")
    assert entry is not None and entry.identity.name == "a1"
    text = path.read_text()
    with path.open("r+") as f:
        f.write(text.replace('"a1"', '"b1"'))
    os.utime(path, ns=(stamp, stamp))
    entry = reader.get("agent-1")
    assert entry is not None and entry.identity.name == "b1"


def test_corrupt_file_store_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text("{broken")
    with pytest.raises(TrustError) as err:
        FileTrustStore(path).get("agent-1")
    assert err.value.code == "store_error"
    path.write_text(json.dumps({"agents": [{"agent_id": "a"}]}))
    with pytest.raises(TrustError) as err:
        FileTrustStore(path).all()
    assert err.value.code == "store_error"


def test_recheck_bounds_how_often_the_file_is_looked_at(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    writer = TrustRegistry(FileTrustStore(path))
    reader = TrustRegistry(FileTrustStore(path, recheck=0.2))
    writer.register(AGENT)
    msg = SignedMessage.create(AGENT, "kernel", {"x": 1}, now=NOW)
    assert reader.verify(msg, now=NOW).valid
    writer.revoke("agent-1", "compromised", now=NOW)
    # Within the interval the reader keeps what it read; after it, the revocation holds.
    assert reader.verify(msg, now=NOW).valid
    time.sleep(0.25)
    assert reader.verify(msg, now=NOW).reason == "revoked"


def test_recheck_never_lets_a_write_drop_an_unseen_update(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    one = FileTrustStore(path, recheck=3600)
    two = FileTrustStore(path, recheck=3600)
    assert one.get("agent-1") is None  # one has looked; it will not look again for an hour
    two.put(TrustEntry(identity=AGENT.public()))
    other = AgentIdentity.create("agent-2")
    one.put(TrustEntry(identity=other.public()))
    assert {e.agent_id for e in FileTrustStore(path).all()} == {"agent-1", "agent-2"}


def test_recheck_keeps_failing_while_the_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text("{broken")
    store = FileTrustStore(path, recheck=3600)
    for _ in range(2):
        with pytest.raises(TrustError):
            store.get("agent-1")
    with pytest.raises(ValueError):
        FileTrustStore(path, recheck=-1)


# -- registry integrity: serials, sticky revocation, last good copy, signatures -------------


def _registered(path: Path, *agents: AgentIdentity) -> TrustRegistry:
    registry = TrustRegistry(FileTrustStore(path))
    for agent in agents:
        registry.register(agent)
    return registry


def test_every_write_raises_the_serial(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    registry = _registered(path, AGENT)
    assert json.loads(path.read_text())["serial"] == 1
    registry.revoke("agent-1", "leaked")
    assert json.loads(path.read_text())["serial"] == 2
    assert FileTrustStore(path).serial == -1  # nothing read yet
    reader = FileTrustStore(path)
    reader.all()
    assert reader.serial == 2


def test_an_older_file_coming_back_does_not_undo_a_revocation(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    writer = _registered(path, AGENT)
    old = path.read_bytes()
    reader = TrustRegistry(FileTrustStore(path))
    msg = SignedMessage.create(AGENT, "kernel", {"x": 1}, now=NOW)
    assert reader.verify(msg, now=NOW).valid
    writer.revoke("agent-1", "leaked", now=NOW)
    assert reader.verify(msg, now=NOW).reason == "revoked"
    path.write_bytes(old)  # a restored backup: serial 1 after serial 2
    assert reader.verify(msg, now=NOW).reason == "revoked"
    store = reader.store
    assert isinstance(store, FileTrustStore)
    assert store.problem is not None and "went back from serial 2 to 1" in store.problem


def test_revocation_is_sticky_even_in_a_newer_file(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    writer = _registered(path, AGENT)
    reader = TrustRegistry(FileTrustStore(path))
    writer.revoke("agent-1", "leaked", now=NOW)
    assert reader.get("agent-1") is not None and reader.level("agent-1") is TrustLevel.NONE
    # Someone edits the file by hand: same key, not revoked, a higher serial.
    data = json.loads(path.read_text())
    data["serial"] = 99
    data["agents"][0]["revoked"] = False
    path.write_text(json.dumps(data))
    entry = reader.get("agent-1")
    assert entry is not None and entry.revoked and entry.revoked_reason == "leaked"
    # A new key for the same id is a new registration, not the revoked key.
    fresh = AgentIdentity.create("agent-1")
    data["agents"][0].update(fresh.public().to_dict())
    data["serial"] = 100
    path.write_text(json.dumps(data))
    entry = reader.get("agent-1")
    assert entry is not None and not entry.revoked


@pytest.mark.parametrize(
    "damage", [b"{broken", b'{"agents": [{"agent_id": "a"}]}', b'{"agents":[],"agents":[]}', None]
)
def test_a_broken_or_missing_file_keeps_the_last_good_copy(
    tmp_path: Path, damage: bytes | None
) -> None:
    path = tmp_path / "trust.json"
    _registered(path, AGENT)
    good = path.read_bytes()
    store = FileTrustStore(path)
    assert store.get("agent-1") is not None and store.problem is None
    if damage is None:
        path.unlink()
    else:
        path.write_bytes(damage)
    entry = store.get("agent-1")  # no exception, no empty registry
    assert entry is not None and not entry.revoked
    assert store.problem is not None
    path.write_bytes(good)
    assert store.get("agent-1") is not None and store.problem is None


def test_signed_registry_documents(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    admin = AgentIdentity.create("admin-1")
    rogue = AgentIdentity.create("admin-1")  # same id, another key
    TrustRegistry(FileTrustStore(path, signer=admin)).register(AGENT)
    reader = FileTrustStore(path, trusted_signers=[admin.public()])
    assert reader.get("agent-1") is not None
    assert json.loads(path.read_text())["signature"]["by"] == "admin-1"
    # An unsigned file, a file signed by another key and an edited signed file are refused.
    for signer in (None, rogue):
        other = tmp_path / f"other-{signer is None}.json"
        TrustRegistry(FileTrustStore(other, signer=signer)).register(AGENT)
        with pytest.raises(TrustError, match=r"not signed|bad signature"):
            FileTrustStore(other, trusted_signers=[admin.public()]).all()
    data = json.loads(path.read_text())
    data["agents"][0]["level"] = "ADMIN"
    path.write_text(json.dumps(data))
    with pytest.raises(TrustError, match="bad signature"):
        FileTrustStore(path, trusted_signers=[admin.public()]).all()
    entry = reader.get("agent-1")  # the running reader keeps its last good copy
    assert entry is not None and entry.level is TrustLevel.STANDARD
    assert reader.problem is not None and "bad signature" in reader.problem
