"""``agent-os verifier`` refuses configurations that would serve nobody."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_os.adapters._cli import main


def test_needs_a_shared_bus() -> None:
    for args in (["verifier"], ["verifier", "--bus", "memory://x"]):
        result = CliRunner().invoke(main, args, env={"AGENT_OS_BUS_URL": ""})
        assert result.exit_code == 2
        assert "needs --bus URL" in result.output


def test_needs_key_and_registry() -> None:
    result = CliRunner().invoke(main, ["verifier", "--bus", "nats://127.0.0.1:1"])
    assert result.exit_code == 2
    assert "--key and --registry" in result.output


def test_missing_registry_is_refused(tmp_path: Path) -> None:
    from agent_os.trust import AgentIdentity

    AgentIdentity.create("v", "v", []).save(tmp_path / "v.key")
    result = CliRunner().invoke(
        main,
        ["verifier", "--bus", "nats://127.0.0.1:1", "--key", str(tmp_path / "v.key"),
         "--registry", str(tmp_path / "absent.json")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "registry_missing" in result.output


def _files(tmp_path: Path) -> list[str]:
    from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry

    AgentIdentity.create("v", "v", []).save(tmp_path / "v.key")
    client = AgentIdentity.create("c", "c", [])
    TrustRegistry(FileTrustStore(tmp_path / "registry.json")).register(
        client.public(), TrustLevel.STANDARD
    )
    return ["--key", str(tmp_path / "v.key"), "--registry", str(tmp_path / "registry.json")]


def test_review_on_disagreement_needs_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["verifier", "--bus", "nats://127.0.0.1:1", *_files(tmp_path), "--review-on-disagreement"],
        env={"AGENT_OS_REVIEW_STORE": ""},
    )
    assert result.exit_code == 2
    assert "--review-on-disagreement needs --review-store" in result.output


@pytest.mark.parametrize(
    ("cache", "code"),
    [("memcached://u:secret@h:1", "cache_config"), ("redis://:secret@127.0.0.1:{port}/0",
                                                    "cache_unavailable")],
)  # fmt: skip
def test_a_cache_that_cannot_work_refuses_the_start(tmp_path: Path, cache: str, code: str) -> None:
    from tests.servers import free_port

    result = CliRunner().invoke(
        main,
        ["verifier", "--bus", "nats://127.0.0.1:1", *_files(tmp_path),
         "--cache", cache.format(port=free_port())],
        env={"AGENT_OS_NONCE_URL": "local"},
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"refusing to start ({code})" in result.output
    assert "secret" not in result.output
