"""KernelSpace: governed calls are judged before they run, and every decision is audited."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agent_os.audit._events import AuditEvent, MemoryAuditLog, args_digest
from agent_os.kernel_worker._kernel_space import KernelSpace
from agent_os.kernel_worker._review import (
    AutoApprove,
    CallbackApprover,
    DenyAfterTimeout,
    ReviewOutcome,
    ReviewRequest,
)
from agent_os.observability._metrics import Metrics
from agent_os.policies._errors import PolicyError, PolicyViolation
from agent_os.policies._policy import Policy
from agent_os.policies._types import Decision, Pattern, Signal, Verdict

SECRET = "AKIAABCDEFGHIJKLMNOP"

POLICY = Policy(
    "ks-test",
    blocked_actions=["file_delete"],
    blocked_patterns=[
        Pattern("rm -rf", "destructive command"),
        Pattern("AKIA[0-9A-Z]{16}", "aws key"),
        Pattern("deploy", "needs review", signal=Signal.SIGSTOP),
        Pattern("sudo", "sudo use", signal=Signal.SIGWARN),
    ],
    required_capabilities={"payments": ["pay"]},
)


def _kernel(**kwargs: Any) -> KernelSpace:
    return KernelSpace(POLICY, **kwargs)


def _events(kernel: KernelSpace) -> list[AuditEvent]:
    log = kernel.audit_log
    assert isinstance(log, MemoryAuditLog)
    return log.events


async def test_sigkill_blocks_before_the_function_runs() -> None:
    kernel = _kernel()
    ran: list[str] = []

    @kernel.register(action="shell_exec")
    def shell(cmd: str) -> str:
        ran.append(cmd)
        return "done"

    with pytest.raises(PolicyViolation) as info:
        await shell("rm -rf /")
    assert ran == []
    assert info.value.code == "policy_violation"
    assert isinstance(info.value, PolicyError)
    assert info.value.verdict.signal is Signal.SIGKILL
    assert info.value.verdict.rule == "destructive-command"
    assert "destructive command" in str(info.value)

    assert await shell("ls") == "done"
    assert ran == ["ls"]


async def test_blocked_action_type_and_async_function() -> None:
    kernel = _kernel()
    deleted: list[str] = []

    @kernel.register(action="file_delete")
    async def delete(path: str) -> None:
        deleted.append(path)

    with pytest.raises(PolicyViolation):
        await delete("/tmp/x")
    assert deleted == []
    event = _events(kernel)[-1]
    # The declared type is the action; the function's name is still the tool rules' name.
    assert (event.action, event.tool, event.rule) == ("file_delete", "delete", "action:file_delete")


async def test_bare_register_is_a_tool_call_named_after_the_function() -> None:
    kernel = _kernel()

    @kernel.register
    async def search(query: str, limit: int = 10) -> list[str]:
        return [query] * limit

    assert await search("cats", limit=2) == ["cats", "cats"]
    assert search.__name__ == "search"
    event = _events(kernel)[-1]
    assert (event.action, event.tool, event.decision) == ("tool_call", "search", "allow")
    # Arguments are bound by name, defaults included.
    assert event.args_digest == args_digest({"limit": 2, "query": "cats"})


async def test_keyword_and_positional_calls_judge_the_same_args() -> None:
    kernel = _kernel()

    @kernel.register(action="shell_exec")
    def shell(cmd: str, *, cwd: str = "/") -> str:
        return cmd

    with pytest.raises(PolicyViolation):
        await shell(cmd="rm -rf /home")
    with pytest.raises(TypeError):
        await shell("a", "b")  # type: ignore[call-arg]  # fails as it would unguarded


async def test_sigwarn_runs_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    kernel = _kernel()
    ran: list[str] = []

    @kernel.register(action="shell_exec")
    def shell(cmd: str) -> str:
        ran.append(cmd)
        return "ok"

    with caplog.at_level(logging.WARNING, logger="agent_os.kernel"):
        assert await shell("sudo ls") == "ok"
    assert ran == ["sudo ls"]
    warnings = [r for r in caplog.records if r.name == "agent_os.kernel"]
    assert len(warnings) == 1
    assert "SIGWARN" in warnings[0].getMessage()
    assert "sudo-use" in warnings[0].getMessage()
    assert _events(kernel)[-1].signal == "SIGWARN"


async def test_sigstop_approved_by_callback_runs() -> None:
    seen: list[ReviewRequest] = []

    def reviewer(request: ReviewRequest) -> bool:
        seen.append(request)
        return True

    kernel = _kernel(approver=CallbackApprover(reviewer))
    ran: list[str] = []

    @kernel.register(action="shell_exec")
    async def shell(cmd: str) -> str:
        ran.append(cmd)
        return "deployed"

    assert await shell("deploy prod") == "deployed"
    assert ran == ["deploy prod"]
    assert seen[0].verdict.signal is Signal.SIGSTOP
    assert seen[0].action["args"] == {"cmd": "deploy prod"}
    held, outcome = _events(kernel)
    assert (held.decision, held.review) == ("review", None)
    assert (outcome.decision, outcome.review) == ("review", "approved")
    assert held.request_id == outcome.request_id == seen[0].request_id


async def test_sigstop_denied_by_async_callback_does_not_run() -> None:
    async def reviewer(request: ReviewRequest) -> ReviewOutcome:
        return ReviewOutcome.DENIED

    kernel = _kernel(approver=CallbackApprover(reviewer))
    ran: list[str] = []

    @kernel.register(action="shell_exec")
    def shell(cmd: str) -> None:
        ran.append(cmd)

    with pytest.raises(PolicyViolation) as info:
        await shell("deploy prod")
    assert info.value.code == "review_denied"
    assert info.value.verdict.decision is Decision.REVIEW
    assert ran == []
    assert _events(kernel)[-1].review == "denied"


async def test_sigstop_timeout_denies() -> None:
    kernel = _kernel(approver=DenyAfterTimeout(timeout=0.01))
    ran: list[str] = []

    @kernel.register(action="shell_exec")
    def shell(cmd: str) -> None:
        ran.append(cmd)

    with pytest.raises(PolicyViolation) as info:
        await shell("deploy prod")
    assert info.value.code == "review_timeout"
    assert ran == []
    assert _events(kernel)[-1].review == "timeout"


async def test_sigstop_approved_by_decide_from_another_task() -> None:
    approver = DenyAfterTimeout(timeout=5)
    kernel = _kernel(approver=approver)

    @kernel.register(action="shell_exec")
    async def shell(cmd: str) -> str:
        return f"ran {cmd}"

    call = asyncio.create_task(shell("deploy prod"))
    request = await approver.next_request()
    assert request.action["args"] == {"cmd": "deploy prod"}
    assert not call.done()
    approver.decide(request.request_id, approve=True)
    assert await call == "ran deploy prod"


async def test_default_approver_is_deny_after_timeout() -> None:
    kernel = _kernel()
    assert isinstance(kernel.approver, DenyAfterTimeout)
    assert kernel.approver.timeout == 30.0


async def test_broken_approver_fails_closed() -> None:
    class Broken:
        async def review(self, request: ReviewRequest) -> ReviewOutcome:
            raise RuntimeError("ui down")

    kernel = _kernel(approver=Broken())
    with pytest.raises(PolicyViolation) as info:
        await kernel.execute(lambda cmd: cmd, "deploy")
    assert info.value.code == "review_denied"


async def test_audit_has_digest_and_no_raw_secret() -> None:
    kernel = _kernel()

    @kernel.register(action="http_request")
    def post(url: str, body: dict[str, str]) -> None: ...

    with pytest.raises(PolicyViolation):
        await post("https://example.com", {"key": SECRET})
    event = _events(kernel)[-1]
    assert event.args_digest == args_digest({"body": {"key": SECRET}, "url": "https://example.com"})
    assert SECRET not in event.to_json().decode()
    assert event.agent_id == "local"
    assert event.policy == "ks-test" and event.policy_hash == POLICY.content_hash


async def test_every_decision_is_audited() -> None:
    kernel = _kernel(agent_id="agent-42")

    @kernel.register
    def echo(text: str) -> str:
        return text

    await echo("hello")
    await echo("sudo hi")
    with pytest.raises(PolicyViolation):
        await echo("rm -rf /")
    events = _events(kernel)
    assert [e.decision for e in events] == ["allow", "warn", "deny"]
    assert {e.agent_id for e in events} == {"agent-42"}
    assert len({e.request_id for e in events}) == 3


async def test_failing_audit_sink_stops_the_call() -> None:
    class Broken:
        def record(self, event: AuditEvent) -> None:
            raise OSError("disk full")

    kernel = _kernel(audit=Broken())
    ran: list[int] = []
    with pytest.raises(OSError, match="disk full"):
        await kernel.execute(ran.append, 1)
    assert ran == []


async def test_execute_plain_and_registered_functions() -> None:
    kernel = _kernel()
    seen: list[str] = []

    # A neutral name: a plain function called ``delete`` would be classified a file deletion.
    def archive(path: str) -> str:
        seen.append(path)
        return path

    assert await kernel.execute(archive, "/tmp/a") == "/tmp/a"
    assert _events(kernel)[-1].tool == "archive"

    kernel.register(action="file_delete")(archive)
    with pytest.raises(PolicyViolation):
        await kernel.execute(archive, "/tmp/b")  # the raw function keeps its registration
    assert seen == ["/tmp/a"]


async def test_execute_governed_wrapper_is_judged_once() -> None:
    kernel = _kernel()

    @kernel.register
    async def ping() -> str:
        return "pong"

    assert await kernel.execute(ping) == "pong"
    assert len(_events(kernel)) == 1


async def test_arg_map_renames_or_maps_args() -> None:
    kernel = _kernel()

    @kernel.register(action="sql", arg_map={"q": "query"})
    def run(q: str) -> str:
        return q

    await run("select 1")
    assert _events(kernel)[-1].args_digest == args_digest({"query": "select 1"})

    @kernel.register(action="sql", arg_map=lambda bound: {"text": bound["q"].upper()})
    def run2(q: str) -> str:
        return q

    await run2("select 1")
    assert _events(kernel)[-1].args_digest == args_digest({"text": "SELECT 1"})


async def test_non_json_args_are_judged_through_their_text(tmp_path: Path) -> None:
    kernel = _kernel()

    class Cmd:
        def __repr__(self) -> str:
            return "Cmd('rm -rf /')"

    @kernel.register(action="shell_exec")
    def run(cmd: object, where: Path, **extra: object) -> None: ...

    with pytest.raises(PolicyViolation):
        await run(Cmd(), tmp_path)
    with pytest.raises(PolicyViolation):  # **kwargs are flattened into args
        await run("ls", tmp_path, note="rm -rf /")
    await run("ls", tmp_path, n=float("nan"), data=b"\xff", tags={"a"})


async def test_methods_do_not_expose_self() -> None:
    kernel = _kernel()

    class Tool:
        @kernel.register
        def act(self, text: str) -> str:
            return text

    assert await Tool().act("hi") == "hi"
    assert _events(kernel)[-1].args_digest == args_digest({"text": "hi"})


async def test_capabilities_are_passed_to_the_policy() -> None:
    def pay(amount: int) -> int:
        return amount

    without = _kernel(capabilities=[])
    with pytest.raises(PolicyViolation):
        await without.register(action="payments")(pay)(5)
    granted = _kernel(capabilities=["pay"])
    assert granted.capabilities == frozenset({"pay"})
    assert await granted.register(action="payments")(pay)(5) == 5


async def test_sync_runs_inline_unless_asked_for_a_thread() -> None:
    threads: list[int] = []

    def where() -> None:
        threads.append(threading.get_ident())

    await _kernel().execute(where)
    await _kernel(run_sync_in_thread=True).execute(where)
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()


async def test_sync_callable_returning_awaitable_is_awaited() -> None:
    async def later(x: int) -> int:
        return x * 2

    assert await _kernel().execute(functools.partial(later, 21)) == 42


async def test_engine_exception_fails_closed() -> None:
    class Exploding(Policy):
        def evaluate(self, action: Any, *, capabilities: frozenset[str] | None = None) -> Verdict:
            raise RuntimeError("engine bug")

    kernel = KernelSpace(Exploding("x"))
    ran: list[int] = []
    with pytest.raises(PolicyViolation) as info:
        await kernel.execute(ran.append, 1)
    assert info.value.verdict.code == "internal_error"
    assert ran == []


async def test_metrics_share_the_default_registry() -> None:
    from prometheus_client import REGISTRY

    first, second = _kernel(metrics=True), _kernel(metrics=True)  # no registration clash
    assert first.metrics is not None and second.metrics is not None
    assert first.metrics.registry is REGISTRY and second.metrics.registry is REGISTRY

    def sigkills() -> float:
        return REGISTRY.get_sample_value("agent_os_sigkill_total", {"policy": "ks-test"}) or 0.0

    before = sigkills()

    @first.register(action="shell_exec")
    def shell(cmd: str) -> None: ...

    @second.register(action="shell_exec")
    def shell2(cmd: str) -> None: ...

    await shell("ls")
    with pytest.raises(PolicyViolation):
        await shell("rm -rf /")
    with pytest.raises(PolicyViolation):
        await shell2("rm -rf /")
    text = first.metrics.exposition().decode()
    assert "agent_os_violations_total" in text
    assert "agent_os_policy_check_duration_seconds_bucket" in text
    assert sigkills() == before + 2  # both kernels count into the one series


async def test_shared_metrics_object_and_review_counts() -> None:
    metrics = Metrics(CollectorRegistry())
    kernel = _kernel(metrics=metrics, approver=AutoApprove())
    assert kernel.metrics is metrics
    await kernel.execute(lambda cmd: cmd, "deploy")
    assert metrics.registry.get_sample_value("agent_os_reviews_total", {"outcome": "approved"}) == 1


def test_metrics_off_by_default() -> None:
    assert _kernel().metrics is None
    assert _kernel().policy is POLICY


async def test_default_strict_preset_blocks_the_seed_examples(tmp_path: Path) -> None:
    kernel = KernelSpace()
    assert kernel.policy.name == "strict"
    target = tmp_path / "out.txt"

    @kernel.register(action="file_write")
    def write(path: Path, content: str) -> None:
        path.write_text(content)

    @kernel.register(action="sql")
    def query(sql: str) -> str:
        return "rows"

    with pytest.raises(PolicyViolation):
        await write(target, "x")
    assert not target.exists()
    with pytest.raises(PolicyViolation):
        await query("DROP TABLE users")
    assert await query("SELECT * FROM users") == "rows"


def test_unknown_policy_name_is_refused() -> None:
    with pytest.raises(PolicyError) as info:
        KernelSpace("no-such-policy")
    assert info.value.code == "unknown_policy"


async def test_violation_verdict_carries_request_id_and_timing() -> None:
    kernel = _kernel()
    with pytest.raises(PolicyViolation) as info:
        await kernel.execute(lambda cmd: cmd, "rm -rf /")
    verdict = info.value.verdict
    assert verdict.request_id == _events(kernel)[-1].request_id
    assert verdict.elapsed_us is not None and verdict.elapsed_us >= 0


async def test_check_judges_and_audits_without_running_and_review_holds() -> None:
    approved: list[ReviewRequest] = []

    def approve(request: ReviewRequest) -> bool:
        approved.append(request)
        return True

    kernel = _kernel(approver=CallbackApprover(approve), agent_id="agent-7")
    action = {"action": "tool_call", "tool": "deployer", "args": {"target": "deploy prod"}}
    verdict = kernel.check(action)
    # SIGSTOP is returned, not held: the caller decides how to wait.
    assert verdict.decision is Decision.REVIEW and approved == []
    assert verdict.request_id is not None
    outcome = await kernel.review(action, verdict)
    assert outcome is ReviewOutcome.APPROVED
    assert approved[0].request_id == verdict.request_id
    assert approved[0].action["agent_id"] == "agent-7"
    events = _events(kernel)
    assert [e.request_id for e in events] == [verdict.request_id] * 2
    assert events[-1].review == "approved"

    denied = kernel.check({**action, "args": {"cmd": "rm -rf /"}, "agent_id": "other"})
    assert denied.decision is Decision.DENY and denied.request_id != verdict.request_id
    assert _events(kernel)[-1].agent_id == "other"


async def test_review_with_a_failing_approver_is_a_deny() -> None:
    def boom(request: ReviewRequest) -> bool:
        raise RuntimeError("approver down")

    kernel = _kernel(approver=CallbackApprover(boom))
    action = {"action": "tool_call", "tool": "deployer", "args": {"target": "deploy"}}
    verdict = kernel.check(action)
    assert await kernel.review(action, verdict) is ReviewOutcome.DENIED
