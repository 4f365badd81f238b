"""The integrations core: tool calls judged by a local or remote kernel, failing closed."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.integrations import (
    LoopBlocked,
    ToolCall,
    ToolGovernor,
    UnsupportedObject,
    annotations_of,
)
from agent_os.kernel_worker import (
    CallbackApprover,
    Decision,
    DenyAfterTimeout,
    KernelSpace,
    MemoryAuditLog,
    PolicyViolation,
    ReviewOutcome,
    ReviewRequest,
)
from agent_os.trust import AgentIdentity
from tests.integrations.support import (
    DANGEROUS,
    DELETE,
    HARMLESS,
    HELD,
    LoopThread,
    integration_policy,
    remote_kernel,
    unreachable_kernel,
)


def _call(spec: tuple[str, dict[str, Any]], **kw: Any) -> ToolCall:
    return ToolCall(spec[0], spec[1], **kw)


class Body:
    """A tool body that records whether it ran."""

    def __init__(self, value: str = "ran") -> None:
        self.calls = 0
        self.value = value

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def test_the_action_carries_name_args_agent_and_hints() -> None:
    gov = ToolGovernor(agent_id="analyst", actions={"terminal": "shell_exec"})
    call = ToolCall(
        "terminal",
        {"commands": "ls", "nested": {"n": [1, 2]}},
        tool_class="ShellTool",
        annotations={"destructiveHint": True, "readOnlyHint": False, "other": 1},
    )
    assert gov.action(call) == {
        "action": "tool_call",
        "tool": "terminal",
        "args": {"commands": "ls", "nested": {"n": [1, 2]}},
        "agent_id": "analyst",
        "hints": {
            "class": "ShellTool",
            "annotations": {"readOnlyHint": False, "destructiveHint": True},
            "action": "shell_exec",
        },
    }
    assert "hints" not in gov.action(ToolCall("search", {}))


def test_annotations_from_objects_and_mappings() -> None:
    class Ann:
        readOnlyHint = True
        destructiveHint = None

    class Model(BaseModel):
        read_only_hint: bool | None = Field(None, alias="readOnlyHint")
        destructive_hint: bool | None = Field(None, alias="destructiveHint")

    assert annotations_of(Ann()) == {"readOnlyHint": True}
    assert annotations_of(Model(destructiveHint=True)) == {"destructiveHint": True}
    assert annotations_of({"destructiveHint": True, "x": 1}) == {"destructiveHint": True}
    assert annotations_of(None) is None and annotations_of({}) is None


def test_local_default_is_strict_and_a_deny_never_runs_the_body() -> None:
    gov = ToolGovernor()
    assert gov.local and gov.kernel_space is not None
    assert gov.kernel_space.policy.name == "strict"
    body = Body()
    text = gov.run(_call(DANGEROUS), body)
    assert body.calls == 0
    assert isinstance(text, str) and "'terminal' was blocked" in text and "did not run" in text
    assert gov.run(_call(HARMLESS), body) == "ran" and body.calls == 1


async def test_async_deny_raises_when_configured_and_allow_returns_the_value() -> None:
    gov = ToolGovernor(integration_policy(), on_deny="raise")
    body = Body()
    with pytest.raises(PolicyViolation) as info:
        await gov.arun(_call(DANGEROUS), body)
    assert info.value.verdict.decision is Decision.DENY and body.calls == 0

    async def async_body() -> str:
        return "async value"

    assert await gov.arun(_call(HARMLESS), async_body) == "async value"


def test_every_decision_is_audited_with_the_agent_id() -> None:
    audit = MemoryAuditLog()
    gov = ToolGovernor(KernelSpace(integration_policy(), audit=audit), agent_id="agent-9")
    gov.decide(_call(DANGEROUS))
    gov.decide(_call(HARMLESS))
    assert [(e.agent_id, e.tool, e.decision) for e in audit.events] == [
        ("agent-9", "terminal", "deny"),
        ("agent-9", "search", "allow"),
    ]


def _approver(answers: list[bool], seen: list[ReviewRequest]) -> CallbackApprover:
    def decide(request: ReviewRequest) -> bool:
        seen.append(request)
        return answers.pop(0)

    return CallbackApprover(decide)


def test_sigstop_runs_only_after_approval_sync() -> None:
    seen: list[ReviewRequest] = []
    gov = ToolGovernor(integration_policy(), approver=_approver([False, True], seen))
    body = Body()
    denied = gov.run(_call(HELD), body)
    assert body.calls == 0 and isinstance(denied, str) and "review_denied" in denied
    assert gov.run(_call(HELD), body) == "ran" and body.calls == 1
    assert [r.action["tool"] for r in seen] == ["release", "release"]


async def test_sigstop_waits_for_a_reviewer_async() -> None:
    approver = DenyAfterTimeout(timeout=10)
    gov = ToolGovernor(KernelSpace(integration_policy(), approver=approver))
    body = Body()
    task = asyncio.create_task(gov.arun(_call(HELD), body))
    request = await approver.next_request()
    assert body.calls == 0 and request.action["tool"] == "release"
    approver.decide(request.request_id, True)
    assert await task == "ran" and body.calls == 1


class ThreadReviewer:
    """An approver answered from another thread (a human at a console)."""

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[ReviewRequest, Callable[[bool], None]]] = queue.Queue()

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self.requests.put((request, lambda ok: loop.call_soon_threadsafe(answer.set_result, ok)))
        return ReviewOutcome.APPROVED if await answer else ReviewOutcome.DENIED


def test_sync_sigstop_held_while_a_reviewer_in_another_thread_answers() -> None:
    reviewer = ThreadReviewer()
    gov = ToolGovernor(integration_policy(), approver=reviewer)
    body = Body()
    seen: list[str] = []

    def human() -> None:
        request, decide = reviewer.requests.get(timeout=10)
        seen.append(request.action["tool"])
        assert body.calls == 0  # held: the body has not run yet
        decide(True)

    thread = threading.Thread(target=human)
    thread.start()
    assert gov.run(_call(HELD), body) == "ran"
    thread.join(10)
    assert seen == ["release"] and body.calls == 1


def test_resolved_answers_from_outside_the_kernel_are_audited() -> None:
    audit = MemoryAuditLog()
    gov = ToolGovernor(KernelSpace(integration_policy(), audit=audit))
    call = _call(HELD)
    verdict = gov.judge(call)
    assert verdict.decision is Decision.REVIEW
    assert gov.resolve(call, verdict, True).allowed
    denied = gov.resolve(call, verdict, "yes")  # type: ignore[arg-type]
    assert not denied.allowed and denied.code == "review_denied"
    assert [e.review for e in audit.events if e.review] == ["approved", "denied"]


class Exploding:
    def __repr__(self) -> str:
        raise RuntimeError("cannot be shown")


def test_an_exception_inside_the_integration_is_a_deny() -> None:
    gov = ToolGovernor()
    body = Body()
    result = gov.run(ToolCall("search", {"q": Exploding()}), body)
    assert body.calls == 0 and isinstance(result, str) and "integration_error" in result


async def test_an_approver_that_fails_is_a_deny() -> None:
    def broken(request: ReviewRequest) -> bool:
        raise RuntimeError("reviewer service down")

    gov = ToolGovernor(integration_policy(), approver=CallbackApprover(broken))
    body = Body()
    assert "review_denied" in str(await gov.arun(_call(HELD), body))
    assert body.calls == 0


async def test_remote_kernel_allows_and_denies() -> None:
    async with remote_kernel() as remote:
        gov = ToolGovernor(remote.client)
        assert not gov.local and gov.agent_id == remote.agent.agent_id
        body = Body()
        assert await gov.arun(_call(HARMLESS), body) == "ran"
        denied = await gov.adecide(_call(DANGEROUS))
        assert denied.decision is Decision.DENY and denied.kernel_id is not None
        assert body.calls == 1
        assert [e.tool for e in remote.audit.events] == ["search", "terminal"]


async def test_remote_sigstop_without_a_review_store_is_a_deny() -> None:
    async with remote_kernel() as remote:
        body = Body()
        held = await ToolGovernor(remote.client).arun(_call(HELD), body)
        assert body.calls == 0 and "review_unavailable" in str(held)


@pytest.mark.parametrize("approve", [True, False])
async def test_remote_sigstop_waits_for_the_durable_review(tmp_path: Path, approve: bool) -> None:
    async with remote_kernel(review=tmp_path) as remote:
        body = Body()
        task = asyncio.create_task(ToolGovernor(remote.client).arun(_call(HELD), body))
        (item,) = await remote.held()
        assert item.tool == "release" and body.calls == 0 and not task.done()
        await remote.decide(approve)
        result = await task
    assert (result == "ran", body.calls) == ((True, 1) if approve else (False, 0))


async def test_remote_held_call_needs_the_kernels_reviewer_not_only_the_agent(
    tmp_path: Path,
) -> None:
    async with remote_kernel(review=tmp_path) as remote:
        client = remote.client
        gov = ToolGovernor(client)
        ticket = await client.check("tool_call", HELD[1], tool=HELD[0], wait_review=False)
        assert ticket.decision is Decision.REVIEW
        # The agent's own "no" is final; its "yes" still waits for a reviewer.
        assert (await gov.aresolve(_call(HELD), ticket, False)).code == "review_denied"
        waiting = asyncio.create_task(gov.aresolve(_call(HELD), ticket, True))
        await remote.decide(False)
        assert not (await waiting).allowed


def test_an_approver_for_a_remote_kernel_is_refused() -> None:
    async def refused() -> None:
        async with remote_kernel() as remote:
            with pytest.raises(ValueError, match="reviewers"):
                ToolGovernor(remote.client, approver=DenyAfterTimeout())

    asyncio.run(refused())


async def test_unreachable_kernel_denies() -> None:
    async with unreachable_kernel() as client:
        gov = ToolGovernor(client)
        body = Body()
        result = await gov.arun(_call(HARMLESS), body)
        assert body.calls == 0 and "was blocked" in str(result)
        assert not (await gov.adecide(_call(HARMLESS))).allowed


def test_sync_callers_reach_a_remote_kernel_on_its_own_loop() -> None:
    loop = LoopThread()
    try:
        remote_cm = remote_kernel()
        remote = loop.run(remote_cm.__aenter__())
        gov = ToolGovernor(remote.client, loop=loop.loop)
        body = Body()
        assert gov.run(_call(HARMLESS), body) == "ran"
        assert isinstance(gov.run(_call(DANGEROUS), body), str) and body.calls == 1
        # The same governor from another thread's event loop.
        assert asyncio.run(gov.arun(_call(HARMLESS), body)) == "ran" and body.calls == 2
        loop.run(remote_cm.__aexit__(None, None, None))
    finally:
        loop.close()


async def test_a_sync_call_on_the_remote_kernels_own_loop_is_a_deny() -> None:
    async with remote_kernel() as remote:
        gov = ToolGovernor(remote.client)  # captures this running loop
        verdict = gov.judge(_call(HARMLESS))
        assert not verdict.allowed and LoopBlocked.__name__ in verdict.reason


def test_constructor_rejects_what_it_cannot_use() -> None:
    with pytest.raises(TypeError):
        ToolGovernor(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ToolGovernor(on_deny="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ToolGovernor(KernelSpace(), approver=DenyAfterTimeout())
    assert issubclass(UnsupportedObject, TypeError)


def test_a_missing_framework_names_its_extra() -> None:
    # A fresh interpreter where langchain cannot be imported.
    code = (
        "import sys; sys.modules['langchain'] = None\n"
        "import agent_os.integrations as i\n"
        "try:\n    i.LangChainKernel\nexcept i.MissingExtra as e:\n    print(e.code, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("missing_extra") and "agent-os[langchain]" in out.stdout


def test_every_lazy_name_has_its_module() -> None:
    import agent_os.integrations as integrations

    package = integrations.__file__.rsplit("/", 1)[0]
    for name, (module, _extra, _package) in integrations._LAZY.items():
        assert name in integrations.__all__
        assert (Path(package) / f"{module.lstrip('.')}.py").is_file(), name


@pytest.mark.parametrize("where", ["local", "remote"])
async def test_hints_reach_the_kernel_and_classify_the_call(where: str) -> None:
    plain = ToolCall("frobnicate", {"target": "/srv/data"})
    destructive = ToolCall(
        "frobnicate", {"target": "/srv/data"}, annotations={"destructiveHint": True}
    )
    declared = ToolCall("frobnicate", {"target": "/srv/data"})
    async with remote_kernel() as remote:
        kernel: Any = integration_policy() if where == "local" else remote.client
        gov = ToolGovernor(kernel, actions={"frobnicate": "file_delete"})
        assert (await ToolGovernor(kernel).adecide(plain)).allowed
        assert not (await ToolGovernor(kernel).adecide(destructive)).allowed
        verdict = await gov.adecide(declared)
        assert not verdict.allowed and "deleting files" in verdict.reason


def test_delete_file_is_dangerous_by_classification() -> None:
    body = Body()
    assert "deleting files" in str(ToolGovernor().run(_call(DELETE), body))
    assert body.calls == 0


async def test_remote_judge_returns_the_ticket_and_hold_waits_for_it(tmp_path: Path) -> None:
    async with remote_kernel(review=tmp_path) as remote:
        gov = ToolGovernor(remote.client)
        ticket = await gov.ajudge(_call(HELD))
        assert ticket.decision is Decision.REVIEW  # not waited on: the framework may ask first
        holding = asyncio.create_task(gov.ahold(_call(HELD), ticket))
        await remote.decide(True)
        assert (await holding).allowed


async def test_a_verdict_that_does_not_verify_is_a_deny() -> None:
    # The worker answers, but with a key this agent never pinned: no verdict is accepted.
    async with remote_kernel() as remote:
        bus = await connect(remote.url)
        try:
            stranger = AgentIdentity.create("kernel-nobody-pinned")
            client = KernelClient(bus, remote.agent, [stranger.public()], timeout=0.5)
            body = Body()
            result = await ToolGovernor(client).arun(_call(HARMLESS), body)
        finally:
            await bus.close()
    assert body.calls == 0 and "was blocked" in str(result)
    assert [e.tool for e in remote.audit.events] == ["search"]  # judged, yet not believed
    assert client.dropped  # the unverifiable verdict was seen and dropped
