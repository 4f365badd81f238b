"""Identities: signing, public halves and key files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from agent_os.trust import AgentIdentity, KeyFileError, PublicIdentity, TrustError

SEED = bytes(range(32))


def test_create_has_32_byte_key_and_short_fingerprint() -> None:
    a = AgentIdentity.create("agent-1", "Agent One", ["read", "write"])
    assert len(a.public_key) == 32
    assert a.capabilities == frozenset({"read", "write"})
    assert len(a.fingerprint) == 16
    int(a.fingerprint, 16)
    assert AgentIdentity.create("agent-1").public_key != a.public_key


def test_from_seed_is_deterministic() -> None:
    a = AgentIdentity.from_seed("a", SEED)
    b = AgentIdentity.from_seed("a", SEED)
    assert a.public_key == b.public_key
    assert a.sign(b"x") == b.sign(b"x")


def test_sign_and_verify() -> None:
    a = AgentIdentity.create("a")
    sig = a.sign(b"hello")
    assert len(sig) == 64
    assert a.public().verify(b"hello", sig)
    assert not a.public().verify(b"hellO", sig)
    assert not a.public().verify(b"hello", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not a.public().verify(b"hello", b"short")
    assert not AgentIdentity.create("b").public().verify(b"hello", sig)


def test_raw_sign_refuses_message_domain() -> None:
    a = AgentIdentity.create("a")
    with pytest.raises(TrustError) as err:
        a.sign(b"agentos.v1.msg\x00anything")
    assert err.value.code == "reserved_domain"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "-leading", "a/b", "é"])
def test_invalid_agent_ids_refused(bad: str) -> None:
    with pytest.raises(TrustError) as err:
        AgentIdentity.create(bad)
    assert err.value.code == "invalid_identity"


def test_single_string_capabilities_is_an_error() -> None:
    with pytest.raises(TypeError):
        AgentIdentity.create("a", capabilities="read")


def test_public_identity_dict_round_trip() -> None:
    pub = AgentIdentity.create("a", "A", ["x", "y"]).public()
    data = json.loads(json.dumps(pub.to_dict()))
    again = PublicIdentity.from_dict(data)
    assert again == pub
    assert again.verify(b"m", AgentIdentity.from_seed("a", SEED).sign(b"m")) is False


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"agent_id": "a", "public_key": "not base64!"},
        {"agent_id": "a", "public_key": "AAAA"},
        {"agent_id": "a", "public_key": "A" * 43 + "=", "capabilities": "x"},
    ],
)
def test_public_identity_from_bad_dict(data: dict[str, object]) -> None:
    with pytest.raises(TrustError) as err:
        PublicIdentity.from_dict(data)
    assert err.value.code == "invalid_identity"


def test_repr_does_not_leak_seed() -> None:
    a = AgentIdentity.from_seed("a", SEED)
    assert SEED.hex() not in repr(a)
    assert "AAECAwQF" not in repr(a)  # base64 of the seed's start


# -- key files ---------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    a = AgentIdentity.create("agent-1", "Agent One", ["read"])
    path = tmp_path / "agent.key"
    a.save(path)
    b = AgentIdentity.load(path)
    assert (b.agent_id, b.name, b.capabilities, b.public_key) == (
        a.agent_id,
        a.name,
        a.capabilities,
        a.public_key,
    )
    assert a.public().verify(b"x", b.sign(b"x"))
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_save_mode_is_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "agent.key"
        AgentIdentity.create("a").save(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "agent.key"
    AgentIdentity.create("a").save(path)
    first = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        AgentIdentity.create("b").save(path)
    assert path.read_bytes() == first
    second = AgentIdentity.create("b")
    second.save(path, overwrite=True)
    assert AgentIdentity.load(path).public_key == second.public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_load_refuses_group_or_world_access(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "agent.key"
    AgentIdentity.create("a").save(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as err:
        AgentIdentity.load(path)
    assert err.value.code == "key_file"
    assert str(path) in str(err.value)
    assert f"{mode:04o}" in str(err.value)


def test_load_accepts_0400(tmp_path: Path) -> None:
    path = tmp_path / "agent.key"
    AgentIdentity.create("a").save(path)
    path.chmod(0o400)
    assert AgentIdentity.load(path).agent_id == "a"


def test_load_refuses_non_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyFileError, match="not a regular file"):
        AgentIdentity.load(fifo)
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(KeyFileError):
        AgentIdentity.load(d)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot open"):
        AgentIdentity.load(tmp_path / "nope")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"agent_id": "a"}', "lacks field"),
        ('{"seed": "AAAA"}', "lacks field"),
        ('{"agent_id": "a", "seed": "!!"}', "not base64"),
        ('{"agent_id": "a", "seed": "AAAA"}', "seed must be 32 bytes"),
        ('{"agent_id": "bad id", "seed": "' + "A" * 43 + '="}', "invalid agent id"),
        ('{"version": 9, "agent_id": "a", "seed": "AAAA"}', "unsupported version"),
    ],
)
def test_load_clear_errors_for_bad_content(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "agent.key"
    _write_private(path, text)
    with pytest.raises(KeyFileError, match=message) as err:
        AgentIdentity.load(path)
    assert str(path) in str(err.value)


def test_load_refuses_mismatched_public_key(tmp_path: Path) -> None:
    path = tmp_path / "agent.key"
    AgentIdentity.create("a").save(path)
    data = json.loads(path.read_text())
    data["public_key"] = json.loads(_saved(tmp_path, AgentIdentity.create("b")))["public_key"]
    path.unlink()
    _write_private(path, json.dumps(data))
    with pytest.raises(KeyFileError, match="does not match"):
        AgentIdentity.load(path)


def _saved(tmp_path: Path, identity: AgentIdentity) -> str:
    other = tmp_path / "other.key"
    identity.save(other)
    return other.read_text()
