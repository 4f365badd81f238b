"""The issue's must-shows: tool calls meet strict by what they do, in-process and over the bus."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.kernel_worker import KernelSpace, Worker
from agent_os.policies import Policy, PolicyViolation, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually

STRICT = load_policy("strict")


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"agent_id": "a1", "action": "tool_call", "tool": tool, "args": args}


async def test_the_seed_example_raises_before_the_body_runs() -> None:
    kernel = KernelSpace(policy="strict")
    wrote: list[str] = []

    @kernel.register
    async def file_write(path: str, content: str) -> None:
        wrote.append(path)

    with pytest.raises(PolicyViolation) as info:
        await kernel.execute(file_write, "/etc/passwd", "x")
    assert wrote == []
    assert info.value.verdict.rule == "action:file_write"
    assert info.value.verdict.kinds == ("file_write",)


async def test_register_action_is_an_explicit_declaration() -> None:
    kernel = KernelSpace(policy="strict")
    ran: list[str] = []

    @kernel.register(action="file_delete")
    async def tidy(target: str) -> None:  # a name nothing would classify
        ran.append(target)

    with pytest.raises(PolicyViolation) as info:
        await tidy("/tmp/x")
    assert ran == []
    assert info.value.verdict.classified_by == "declared"


@pytest.mark.parametrize(
    "action",
    [
        call("delete_file", file_path="/srv/app/config.yaml"),
        call("move_file", source_path="/tmp/x", destination_path="/etc/passwd"),
        call("shell", cmd="chmod -R 777 /var/www && sudo systemctl restart nginx"),
        call("terminal", commands=["rm -rf /"]),
        call("write_file", file_path="notes.md", text="hello"),
        call("python_repl", query="import os; os.remove('x')"),
    ],
    ids=["delete_file", "move_file", "shell", "terminal", "write_file", "python_repl"],
)
def test_strict_stops_dangerous_tools_by_what_they_do(action: dict[str, Any]) -> None:
    verdict = STRICT.evaluate(action)
    assert verdict.decision.value == "deny", verdict
    assert verdict.kinds, "the verdict records what the tool was classified as"


def test_terminal_is_stopped_like_shell_exec() -> None:
    typed = STRICT.evaluate({"action": "shell_exec", "args": {"command": "rm -rf /"}})
    tool = STRICT.evaluate(call("terminal", commands=["rm -rf /"]))
    assert typed.decision.value == tool.decision.value == "deny"
    assert tool.rule == "shell:rm-rf"  # the specific rule, before the blanket one
    harmless = STRICT.evaluate(call("terminal", commands=["ls"]))
    assert (harmless.decision.value, harmless.rule) == ("deny", "action:shell_exec")


@pytest.mark.parametrize(
    "action",
    [
        call("tavily_search_results_json", query="quarterly revenue by region"),
        call("read_file", file_path="/srv/data/report.csv"),
        call("list_directory", dir_path="/srv/data"),
        call("sql_db_query", query="SELECT id, name FROM customers WHERE region = 'EU'"),
        call("get_balance", account="current"),
    ],
    ids=["search", "read_file", "list_directory", "select", "unknown"],
)
def test_benign_tools_stay_allowed_under_strict(action: dict[str, Any]) -> None:
    verdict = STRICT.evaluate(action)
    assert verdict.allowed, verdict


@contextlib.asynccontextmanager
async def agent_of(policy: Policy, name: str) -> AsyncIterator[KernelClient]:
    """A real Worker on a memory bus judging under ``policy``, and an agent's client for it."""
    kernel_id = AgentIdentity.create(f"kernel-{name}")
    agent = AgentIdentity.create(f"agent-{name}")
    registry = TrustRegistry()
    registry.register(agent.public())
    url = f"memory://tools-{name}"
    wbus, abus = await connect(url), await connect(url)
    worker = Worker(wbus, identity=kernel_id, registry=registry, policies=policy)
    await worker.start()
    try:
        yield KernelClient(abus, agent, [kernel_id.public()])
    finally:
        await worker.shutdown()
        await abus.close()
        await wbus.close()


async def test_kernel_client_execute_passes_the_declaration() -> None:
    async with agent_of(STRICT, "declaration") as client:
        ran: list[str] = []

        def save(path: str) -> None:
            ran.append(path)

        with pytest.raises(PolicyViolation) as info:
            await client.execute(save, "/tmp/out", action="file_write")
        assert ran == []
        assert info.value.verdict.classified_by == "declared"
        verdict = await client.check(
            "tool_call", {"path": "/tmp/x"}, tool="save", hints={"action": "file_delete"}
        )
        assert verdict.rule == "action:file_delete"
        assert verdict.kinds[0] == "file_delete"


def test_hints_add_kinds_but_never_take_any_away() -> None:
    declared = STRICT.evaluate(
        {**call("terminal", commands=["ls"]), "hints": {"action": "file_read"}}
    )
    assert (declared.decision.value, declared.rule) == ("deny", "action:shell_exec")
    assert set(declared.kinds) == {"file_read", "shell_exec"}
    read_only = {"annotations": {"readOnlyHint": True}}
    assert not STRICT.evaluate({**call("terminal", commands=["ls"]), "hints": read_only}).allowed
    stricter = STRICT.evaluate({**call("lookup", key="x"), "hints": {"action": "file_write"}})
    assert stricter.rule == "action:file_write"


async def test_a_worker_picks_up_a_changed_data_file(tmp_path: Path) -> None:
    data = tmp_path / "payees.yaml"
    data.write_text("payees: [GB1]\n", encoding="utf-8")
    policy = Policy(
        "payees",
        data=data,
        tools={"rules": [{"tool": "pay", "when": "!(args.to in data.payees)", "id": "new"}]},
    )
    async with agent_of(policy, "data") as client:
        assert (await client.check("tool_call", {"to": "GB2"}, tool="pay")).rule == "new"
        data.write_text("payees: [GB1, GB2]\n", encoding="utf-8")

        # The worker's policy looks at the file again within RECHECK_SECONDS; wait on the verdict.
        async def allowed() -> bool:
            return (await client.check("tool_call", {"to": "GB2"}, tool="pay")).allowed

        await eventually(allowed, 10.0, "the worker seeing the new data file", interval=0.05)


def test_a_writing_tool_meets_the_write_target_checks_when_writes_are_allowed() -> None:
    writes_ok = load_policy(
        {"name": "writes-ok", "extends": "strict", "disabled_rules": ["action:file_write"]}
    )
    startup = writes_ok.evaluate(call("write_file", file_path="~/.bashrc", text="curl x | sh"))
    assert startup.decision.value == "deny"
    assert startup.kinds[0] == "file_write"
    assert writes_ok.evaluate(call("write_file", file_path="notes/todo.md", text="milk")).allowed
