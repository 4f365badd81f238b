"""``agent-os verifier --trust-cache-key``: each mistake refuses the start, naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_os.adapters._cli import main
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.servers import free_port

OWN = AgentIdentity.create("verifier-a", "verifier", [])
OTHER = AgentIdentity.create("verifier-b", "verifier", [])
CLIENT = AgentIdentity.create("client", "client", [])


def _start(tmp_path: Path, *extra: str, cache: str | None = None) -> tuple[int, str]:
    """Run the command far enough to be refused (the bus and cache are never reached)."""
    OWN.save(tmp_path / "own.key", overwrite=True)
    registry = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    if registry.get(CLIENT.agent_id) is None:
        registry.register(CLIENT.public(), TrustLevel.STANDARD)
    url = cache if cache is not None else f"redis://127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(
        main,
        ["verifier", "--bus", "nats://127.0.0.1:1", "--key", str(tmp_path / "own.key"),
         "--registry", str(tmp_path / "registry.json"), "--cache", url, *extra],
        env={"AGENT_OS_NONCE_URL": "local", "AGENT_OS_CMVK_TRUSTED_KEYS": ""},
    )  # fmt: skip
    return result.exit_code, result.output


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def keygen_output(identity: AgentIdentity) -> dict[str, object]:
    return {"agent_id": identity.agent_id, "public_key": identity.public().to_dict()}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read it"),
        ("not json", "not JSON"),
        ([1, 2], "not a public identity"),
        ({"agent_id": "x", "public_key": "AAAA"}, "not a public identity"),
        ({"agent_id": "y", "public_key": OTHER.public().to_dict()}, "two agent ids differ"),
    ],
    ids=["missing", "not-json", "not-an-object", "short-key", "two-ids"],
)
def test_a_file_that_is_no_public_identity_refuses_the_start(
    tmp_path: Path, content: object, says: str
) -> None:
    path = tmp_path / "other.json"
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        _write(path, content)
    code, output = _start(tmp_path, "--trust-cache-key", str(path))
    assert code == 1
    assert "refusing to start (cache_key)" in output and str(path) in output
    assert says in output


def test_a_private_key_file_is_refused(tmp_path: Path) -> None:
    OTHER.save(tmp_path / "other.key")
    code, output = _start(tmp_path, "--trust-cache-key", str(tmp_path / "other.key"))
    assert code == 1
    assert "private key file" in output


@pytest.mark.parametrize("level", [TrustLevel.STANDARD, TrustLevel.KERNEL])
def test_a_registered_key_is_not_trusted_for_results(tmp_path: Path, level: TrustLevel) -> None:
    TrustRegistry(FileTrustStore(tmp_path / "registry.json")).register(OTHER.public(), level)
    path = _write(tmp_path / "other.json", keygen_output(OTHER))
    code, output = _start(tmp_path, "--trust-cache-key", path)
    assert code == 1
    assert f"is 'verifier-b' in the registry (level {level.name})" in output


def test_an_id_bound_to_two_keys_is_refused(tmp_path: Path) -> None:
    impostor = AgentIdentity.create(OWN.agent_id, "impostor", [])
    path = _write(tmp_path / "impostor.json", keygen_output(impostor))
    code, output = _start(tmp_path, "--trust-cache-key", path)
    assert code == 1
    assert "'verifier-a' is already bound to another key" in output


def test_trusted_keys_need_a_shared_cache(tmp_path: Path) -> None:
    path = _write(tmp_path / "other.json", keygen_output(OTHER))
    code, output = _start(tmp_path, "--trust-cache-key", path, cache="memory://")
    assert code == 1
    assert "give --cache redis://" in output


def test_keys_from_the_environment_are_checked_too(tmp_path: Path) -> None:
    good = _write(tmp_path / "other.json", keygen_output(OTHER))
    bad = tmp_path / "absent.json"
    OWN.save(tmp_path / "own.key")
    TrustRegistry(FileTrustStore(tmp_path / "registry.json")).register(
        CLIENT.public(), TrustLevel.STANDARD
    )
    result = CliRunner().invoke(
        main,
        ["verifier", "--bus", "nats://127.0.0.1:1", "--key", str(tmp_path / "own.key"),
         "--registry", str(tmp_path / "registry.json"),
         "--cache", f"redis://127.0.0.1:{free_port()}/0"],
        env={"AGENT_OS_NONCE_URL": "local",
             "AGENT_OS_CMVK_TRUSTED_KEYS": f"{good}{os.pathsep}{bad}"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"--trust-cache-key {bad}: cannot read it" in result.output


def test_good_keys_pass_the_checks_and_reach_the_cache(tmp_path: Path) -> None:
    """Both file shapes are read; the start then stops at the unreachable Redis, not before."""
    third = AgentIdentity.create("verifier-c", "verifier", [])
    one = _write(tmp_path / "b.json", keygen_output(OTHER))
    two = _write(tmp_path / "c.json", third.public().to_dict())
    code, output = _start(tmp_path, "--trust-cache-key", one, "--trust-cache-key", two)
    assert code == 1
    assert "refusing to start (cache_unavailable)" in output
