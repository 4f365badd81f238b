"""Approvers for SIGSTOP: timeouts deny, decisions come from tasks, threads, callbacks."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent_os.kernel_worker._review import (
    Approver,
    AutoApprove,
    AutoDeny,
    CallbackApprover,
    DenyAfterTimeout,
    ReviewOutcome,
    ReviewRequest,
)
from agent_os.policies._types import Decision, Signal, Verdict

VERDICT = Verdict(
    decision=Decision.REVIEW,
    signal=Signal.SIGSTOP,
    rule="needs-review",
    reason="needs review",
    matched="deploy",
    policy="p",
    policy_hash="0" * 64,
    code="policy_violation",
)


def _request(request_id: str = "r1") -> ReviewRequest:
    return ReviewRequest(request_id, {"action": "tool_call", "args": {"x": "deploy"}}, VERDICT)


def test_request_action_is_read_only_copy() -> None:
    source = {"action": "tool_call", "args": {}}
    request = ReviewRequest("r", source, VERDICT)
    source["action"] = "changed"
    assert request.action["action"] == "tool_call"
    with pytest.raises(TypeError):
        request.action["action"] = "x"  # type: ignore[index]


async def test_no_decision_times_out_and_leaves_nothing_pending() -> None:
    approver = DenyAfterTimeout(timeout=0.01)
    assert await approver.review(_request()) is ReviewOutcome.TIMEOUT
    assert approver.pending() == []
    assert approver.decide("r1", True) is False  # too late: nothing to approve


async def test_decide_from_another_task_approves() -> None:
    approver = DenyAfterTimeout(timeout=5)
    review = asyncio.create_task(approver.review(_request("r1")))
    pending = await approver.next_request()
    assert pending.request_id == "r1"
    assert [r.request_id for r in approver.pending()] == ["r1"]
    assert approver.decide("r1", approve=True) is True
    assert await review is ReviewOutcome.APPROVED
    assert approver.pending() == []


async def test_decide_deny() -> None:
    approver = DenyAfterTimeout(timeout=5)
    review = asyncio.create_task(approver.review(_request("r2")))
    await approver.next_request()
    assert approver.decide("r2", approve=False) is True
    assert approver.decide("r2", approve=True) is False  # the first answer stands
    assert await review is ReviewOutcome.DENIED


async def test_decide_from_another_thread() -> None:
    approver = DenyAfterTimeout(timeout=5)
    review = asyncio.create_task(approver.review(_request("r3")))
    await approver.next_request()
    seen: list[str] = []

    def ui_thread() -> None:
        seen.append(threading.current_thread().name)
        approver.decide("r3", True)

    await asyncio.to_thread(ui_thread)
    assert await review is ReviewOutcome.APPROVED
    assert seen and seen[0] != threading.main_thread().name


async def test_decide_unknown_request_is_false() -> None:
    assert DenyAfterTimeout().decide("nope", True) is False


async def test_duplicate_request_id_is_denied_not_shared() -> None:
    approver = DenyAfterTimeout(timeout=5)
    first = asyncio.create_task(approver.review(_request("dup")))
    await approver.next_request()
    assert await approver.review(_request("dup")) is ReviewOutcome.DENIED
    approver.decide("dup", True)
    assert await first is ReviewOutcome.APPROVED


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf")])
def test_timeout_must_be_positive_and_finite(timeout: float) -> None:
    with pytest.raises(ValueError):
        DenyAfterTimeout(timeout)


async def test_callback_sync_and_async() -> None:
    async def async_no(request: ReviewRequest) -> bool:
        return False

    assert await CallbackApprover(lambda r: True).review(_request()) is ReviewOutcome.APPROVED
    assert await CallbackApprover(async_no).review(_request()) is ReviewOutcome.DENIED
    passthrough = CallbackApprover(lambda r: ReviewOutcome.TIMEOUT)
    assert await passthrough.review(_request()) is ReviewOutcome.TIMEOUT


async def test_callback_sees_the_request() -> None:
    seen: list[ReviewRequest] = []

    def look(request: ReviewRequest) -> bool:
        seen.append(request)
        return request.verdict.rule == "needs-review"

    assert await CallbackApprover(look).review(_request("r9")) is ReviewOutcome.APPROVED
    assert seen[0].request_id == "r9"


async def test_callback_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    def boom(request: ReviewRequest) -> bool:
        raise RuntimeError("reviewer crashed")

    assert await CallbackApprover(boom).review(_request()) is ReviewOutcome.DENIED
    assert "reviewer crashed" in caplog.text
    # Truthy is not approval: only True or APPROVED run the action.
    weird = CallbackApprover(lambda r: "yes")  # type: ignore[arg-type,return-value]
    assert await weird.review(_request()) is ReviewOutcome.DENIED


async def test_callback_timeout_denies() -> None:
    never = asyncio.Event()

    async def slow(request: ReviewRequest) -> bool:
        await never.wait()
        return True

    approver = CallbackApprover(slow, timeout=0.01)
    assert await approver.review(_request()) is ReviewOutcome.TIMEOUT


async def test_auto_approvers() -> None:
    assert await AutoApprove().review(_request()) is ReviewOutcome.APPROVED
    assert await AutoDeny().review(_request()) is ReviewOutcome.DENIED


def test_all_satisfy_the_protocol() -> None:
    for approver in (
        DenyAfterTimeout(),
        CallbackApprover(lambda r: True),
        AutoApprove(),
        AutoDeny(),
    ):
        assert isinstance(approver, Approver)
