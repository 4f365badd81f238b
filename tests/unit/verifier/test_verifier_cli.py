"""``agent-os verifier`` refuses configurations that would serve nobody."""

from __future__ import annotations

from pathlib import Path

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
