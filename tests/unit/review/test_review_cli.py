"""``agent-os review``: list, show, approve and deny against a real SQLite review store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from agent_os.adapters._cli import main
from agent_os.bus import new_id
from agent_os.review import ReviewItem, SqliteReviewStore, Status
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.unit.review.review_cases import held

AGENT_OS = str(Path(sys.executable).parent / "agent-os")
HELD = held("shell:deploy")


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.store = tmp / "review.db"
        self.registry = tmp / "registry.json"
        self.alice_key = tmp / "alice.key"
        self.bob_key = tmp / "bob.key"
        self.agent_key = tmp / "agent.key"
        reg = TrustRegistry(FileTrustStore(self.registry))
        for name, key in (("alice", self.alice_key), ("bob", self.bob_key)):
            who = AgentIdentity.create(name, name.title())
            who.save(key)
            reg.register(who, TrustLevel.REVIEWER)
        agent = AgentIdentity.create("agent-1")
        agent.save(self.agent_key)
        reg.register(agent)
        SqliteReviewStore(self.store).close()

    def hold(self, *, timeout: float = 600, created: float | None = None) -> ReviewItem:
        action = {
            "agent_id": "agent-1",
            "action": "shell_exec",
            "tool": "deploy",
            "args": {"command": "deploy prod", "api_key": "sk-live-0123456789abcdef"},
            "request_id": new_id(),
        }
        item = ReviewItem.hold(new_id(), action, HELD, now=created or time.time(), timeout=timeout)
        with SqliteReviewStore(self.store) as store:
            return store.add(item)[0]

    def run(self, *args: str, key: Path | None = None) -> Result:
        extra = ["--registry", str(self.registry)] if args[0] in ("approve", "deny") else []
        if key is not None:
            extra += ["--key", str(key)]
        return CliRunner().invoke(main, ["review", *args, "--store", str(self.store), *extra])


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_list_shows_pending_items_redacted(setup: Setup) -> None:
    assert setup.run("list").output == ""
    item = setup.hold()
    done = setup.run("list")
    assert done.exit_code == 0, done.output
    assert item.ticket in done.output and "shell_exec/deploy" in done.output
    assert "shell:deploy" in done.output and "left 9m" in done.output
    rows = [json.loads(line) for line in setup.run("list", "--json").output.splitlines()]
    assert [r["ticket"] for r in rows] == [item.ticket]
    assert "sk-live" not in json.dumps(rows) and rows[0]["args"]["api_key"] == "****"


def test_show_by_prefix(setup: Setup) -> None:
    item = setup.hold()
    done = setup.run("show", item.ticket[:10])
    assert done.exit_code == 0, done.output
    assert item.ticket in done.output and "deploys need a human" in done.output
    assert setup.run("show", "nope-nope").exit_code == 1


def test_approve_then_a_second_decision_is_refused(setup: Setup) -> None:
    item = setup.hold()
    done = setup.run("approve", item.ticket, "--comment", "go", key=setup.alice_key)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["status"] == "approved"
    late = setup.run("deny", item.ticket, "--comment", "no", key=setup.bob_key)
    assert late.exit_code == 1
    assert "already approved by alice" in late.output
    with SqliteReviewStore(setup.store) as store:
        got = store.get(item.ticket)
    assert got is not None and got.status is Status.APPROVED and got.decided_by == "alice"
    shown = setup.run("show", item.ticket).output
    assert "approved by alice (signed by alice): go" in shown


def test_deny_needs_a_comment(setup: Setup) -> None:
    item = setup.hold()
    done = setup.run("deny", item.ticket, key=setup.alice_key)
    assert done.exit_code == 2 and "--comment" in done.output


def test_a_key_that_is_not_a_reviewer_is_refused(setup: Setup) -> None:
    item = setup.hold()
    done = setup.run("approve", item.ticket, key=setup.agent_key)
    assert done.exit_code == 1 and "not a reviewer" in done.output
    with SqliteReviewStore(setup.store) as store:
        assert store.get(item.ticket).status is Status.PENDING  # type: ignore[union-attr]


def test_decision_after_the_deadline_is_refused(setup: Setup) -> None:
    item = setup.hold(timeout=1, created=time.time() - 10)
    done = setup.run("approve", item.ticket, key=setup.alice_key)
    assert done.exit_code == 1 and "expired" in done.output


def test_entry_point_reads_settings_from_the_environment(setup: Setup) -> None:
    item = setup.hold()
    env = {
        **os.environ,
        "AGENT_OS_REVIEW_STORE": str(setup.store),
        "AGENT_OS_REGISTRY_FILE": str(setup.registry),
        "AGENT_OS_REVIEWER_KEY_FILE": str(setup.bob_key),
    }
    done = subprocess.run(
        [AGENT_OS, "review", "deny", item.ticket, "--comment", "not today"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "denied"


def test_missing_store_is_an_error(tmp_path: Path) -> None:
    done = CliRunner().invoke(main, ["review", "list", "--store", str(tmp_path / "none.db")])
    assert done.exit_code == 1 and "no review queue database" in done.output
