"""``agent-os trust``: add, list, revoke, rotate against a registry file."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from agent_os.adapters._cli import main
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry

AGENT_OS = str(Path(sys.executable).parent / "agent-os")


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["trust", *args])


def b64(identity: AgentIdentity) -> str:
    return base64.b64encode(identity.public_key).decode()


def test_add_and_list(tmp_path: Path) -> None:
    reg = tmp_path / "r.json"
    admin = AgentIdentity.create("admin-1", "ops")
    admin.save(tmp_path / "admin.key")
    agent = AgentIdentity.create("agent-1")
    done = cli("add", "admin-1", "--from-key", str(tmp_path / "admin.key"), "--level", "ADMIN",
               "--registry", str(reg))  # fmt: skip
    assert done.exit_code == 0, done.output
    done = cli("add", "agent-1", "--public-key", b64(agent), "--cap", "web", "--registry", str(reg))
    assert done.exit_code == 0, done.output
    registry = TrustRegistry(FileTrustStore(reg))
    assert registry.level("admin-1") is TrustLevel.ADMIN
    assert registry.get("agent-1").identity.capabilities == {"web"}  # type: ignore[union-attr]
    # The real entry point lists what the group wrote.
    listed = subprocess.run(
        [AGENT_OS, "trust", "list", "--registry", str(reg)], capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["admin-1", "ADMIN", admin.fingerprint]
    assert lines[1].split("\t")[1:] == ["STANDARD", agent.fingerprint, "active"]


def test_add_needs_exactly_one_key_source(tmp_path: Path) -> None:
    done = cli("add", "x", "--registry", str(tmp_path / "r.json"))
    assert done.exit_code == 2 and "exactly one" in done.output


def test_revoke_without_a_bus_updates_the_registry_only(tmp_path: Path) -> None:
    reg = tmp_path / "r.json"
    TrustRegistry(FileTrustStore(reg)).register(AgentIdentity.create("agent-1"))
    done = cli("revoke", "agent-1", "--reason", "left the company", "--registry", str(reg))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"agent_id": "agent-1", "revoked": True, "published": False}
    listed = cli("list", "--registry", str(reg), "--json")
    entry = json.loads(listed.output)
    assert entry["revoked"] is True and entry["revoked_reason"] == "left the company"


def test_revoke_unknown_agent_fails(tmp_path: Path) -> None:
    done = cli("revoke", "ghost", "--reason", "x", "--registry", str(tmp_path / "r.json"))
    assert done.exit_code == 1 and "not registered" in done.output


def test_bus_without_a_signing_key_is_a_usage_error(tmp_path: Path) -> None:
    reg = tmp_path / "r.json"
    TrustRegistry(FileTrustStore(reg)).register(AgentIdentity.create("agent-1"))
    done = cli("revoke", "agent-1", "--reason", "x", "--registry", str(reg), "--bus", "memory://")
    assert done.exit_code == 2 and "--key" in done.output
    assert TrustRegistry(FileTrustStore(reg)).level("agent-1") is TrustLevel.STANDARD


def test_rotate_replaces_the_key_and_refuses_garbage(tmp_path: Path) -> None:
    reg = tmp_path / "r.json"
    old = AgentIdentity.create("agent-1")
    TrustRegistry(FileTrustStore(reg)).register(old)
    new = AgentIdentity.create("agent-1")
    done = cli("rotate", "agent-1", "--public-key", b64(new), "--registry", str(reg))
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["fingerprint"] == new.fingerprint
    entry = TrustRegistry(FileTrustStore(reg)).get("agent-1")
    assert entry is not None and entry.key_history == (old.fingerprint,)
    back = cli("rotate", "agent-1", "--public-key", b64(old), "--registry", str(reg))
    assert back.exit_code == 1 and "retired" in back.output
    bad = cli("rotate", "agent-1", "--public-key", "!!!", "--registry", str(reg))
    assert bad.exit_code == 2


def test_warns_when_the_signer_is_not_an_admin(tmp_path: Path) -> None:
    reg = tmp_path / "r.json"
    TrustRegistry(FileTrustStore(reg)).register(AgentIdentity.create("agent-1"))
    AgentIdentity.create("someone").save(tmp_path / "k.key")
    done = CliRunner().invoke(
        main,
        ["trust", "revoke", "agent-1", "--reason", "x", "--registry", str(reg),
         "--bus", "memory://", "--key", str(tmp_path / "k.key")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "not an ADMIN" in done.output
