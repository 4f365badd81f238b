"""Audit events: built from verdicts without raw arguments, strict JSON, sinks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agent_os.audit import AuditError
from agent_os.audit._events import (
    AuditEvent,
    AuditSink,
    FanoutAudit,
    JsonlAuditLog,
    MemoryAuditLog,
    args_digest,
)
from agent_os.kernel_worker._review import ReviewOutcome
from agent_os.policies._policy import Policy
from agent_os.policies._types import Pattern, Signal, Verdict

SECRET = "hunter2-correct-horse-battery"

POLICY = Policy(
    "audit-test",
    blocked_actions=["file_delete"],
    blocked_patterns=[Pattern("deploy", "needs review", signal=Signal.SIGSTOP)],
)


def _action(**args: object) -> dict[str, object]:
    return {"agent_id": "agent-7", "action": "tool_call", "tool": "login", "args": args}


def _event(review: str | None = None) -> AuditEvent:
    action = _action(user="bob", password=SECRET)
    return AuditEvent.from_verdict(action, POLICY.evaluate(action), now=1234.5, review=review)


def test_from_verdict_fills_fields_and_digests_args() -> None:
    action = {**_action(user="bob", password=SECRET), "request_id": "req-1"}
    verdict = POLICY.evaluate(action)
    event = AuditEvent.from_verdict(action, verdict, now=1234.5)

    assert event.ts == 1234.5
    assert (event.agent_id, event.action, event.tool) == ("agent-7", "tool_call", "login")
    assert event.request_id == "req-1"
    assert (event.decision, event.signal, event.code) == ("allow", None, "ok")
    assert event.policy == "audit-test"
    assert event.policy_hash == POLICY.content_hash
    assert event.review is None
    assert len(event.event_id) == 32
    canonical = json.dumps(
        {"password": SECRET, "user": "bob"}, separators=(",", ":"), sort_keys=True
    )
    assert event.args_digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_digest_ignores_key_order_but_not_values() -> None:
    assert args_digest({"a": 1, "b": [1, 2]}) == args_digest({"b": [1, 2], "a": 1})
    assert args_digest({"a": 1}) != args_digest({"a": 2})
    assert len(args_digest({"odd": object()})) == 64  # never fails on non-JSON values


def test_raw_secret_never_recorded(tmp_path: Path) -> None:
    event = _event()
    assert SECRET not in event.to_json().decode()
    assert SECRET not in repr(event)
    with JsonlAuditLog(tmp_path / "audit.jsonl") as log:
        log.record(event)
    assert SECRET not in (tmp_path / "audit.jsonl").read_text()


def test_signal_and_rule_recorded_for_deny() -> None:
    action = {"agent_id": "a", "action": "file_delete", "args": {"path": "/x"}}
    event = AuditEvent.from_verdict(action, POLICY.evaluate(action))
    assert (event.decision, event.signal, event.rule) == ("deny", "SIGKILL", "action:file_delete")
    assert event.code == "policy_violation"
    assert event.tool is None


def test_fail_closed_verdict_without_args() -> None:
    event = AuditEvent.from_verdict({"agent_id": "?", "action": "?"}, Verdict.deny("bad", "no"))
    assert (event.decision, event.code, event.rule, event.policy) == ("deny", "bad", None, "")
    assert event.args_digest == args_digest({})


def test_review_outcome_enum_is_stored_as_string() -> None:
    event = _event(review=ReviewOutcome.TIMEOUT)
    assert event.review == "timeout"
    assert json.loads(event.to_json())["review"] == "timeout"
    with pytest.raises(AuditError) as info:
        _event(review="maybe")
    assert info.value.code == "malformed_audit"


def test_json_round_trip_is_compact_and_exact() -> None:
    event = _event(review="approved")
    wire = event.to_json()
    assert isinstance(wire, bytes)
    assert b"\n" not in wire and b", " not in wire
    assert AuditEvent.from_json(wire) == event
    assert event.to_dict()["args_digest"] == event.args_digest


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: b"{not json",
        lambda d: b"[1, 2]",
        lambda d: {k: v for k, v in d.items() if k != "policy"},
        lambda d: {**d, "extra": 1},
        lambda d: {**d, "ts": "yesterday"},
        lambda d: {**d, "ts": True},
        lambda d: {**d, "args_digest": "abc"},
        lambda d: {**d, "review": "maybe"},
        lambda d: {**d, "tool": 3},
        lambda d: {**d, "event_id": ""},
        lambda d: b"\xff\xfe",
    ],
    ids=[
        "not-json",
        "not-object",
        "missing",
        "extra",
        "ts-str",
        "ts-bool",
        "digest",
        "review",
        "tool",
        "empty-id",
        "bad-utf8",
    ],
)
def test_from_json_is_strict(mutate: object) -> None:
    data = _event().to_dict()
    bad = mutate(data)  # type: ignore[operator]
    wire = bad if isinstance(bad, bytes) else json.dumps(bad).encode()
    with pytest.raises(AuditError) as info:
        AuditEvent.from_json(wire)
    assert info.value.code == "malformed_audit"


def test_review_field_may_be_absent_on_the_wire() -> None:
    data = _event().to_dict()
    del data["review"]
    assert AuditEvent.from_json(json.dumps(data)).review is None


def test_memory_log_is_bounded_and_keeps_newest() -> None:
    log = MemoryAuditLog(maxlen=3)
    events = [_event() for _ in range(5)]
    for event in events:
        log.record(event)
    assert log.events == events[2:]
    assert len(log) == 3
    assert list(log) == events[2:]
    log.clear()
    assert log.events == []
    with pytest.raises(ValueError):
        MemoryAuditLog(maxlen=0)


def test_jsonl_log_appends_lines_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first, second = _event(), _event(review="denied")
    with JsonlAuditLog(path) as log:
        log.record(first)
    with JsonlAuditLog(path) as log:  # reopening appends, never truncates
        log.record(second)
        assert log.path == path
    assert path.read_bytes().count(b"\n") == 2
    assert list(JsonlAuditLog.read(path)) == [first, second]


def test_jsonl_log_refuses_writes_after_close(tmp_path: Path) -> None:
    log = JsonlAuditLog(tmp_path / "a.jsonl")
    log.close()
    with pytest.raises(AuditError) as info:
        log.record(_event())
    assert info.value.code == "audit_closed"


def test_jsonl_read_rejects_a_corrupt_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(_event().to_json() + b"\n{garbage\n")
    with pytest.raises(AuditError):
        list(JsonlAuditLog.read(path))


class _Broken:
    def record(self, event: AuditEvent) -> None:
        raise OSError("disk full")


def test_fanout_records_everywhere_then_raises_first_failure() -> None:
    before, after = MemoryAuditLog(), MemoryAuditLog()
    fanout = FanoutAudit(before, _Broken(), after)
    event = _event()
    with pytest.raises(OSError, match="disk full"):
        fanout.record(event)
    assert before.events == [event]
    assert after.events == [event]
    assert len(fanout.sinks) == 3


def test_sinks_satisfy_the_protocol(tmp_path: Path) -> None:
    with JsonlAuditLog(tmp_path / "a.jsonl") as jsonl:
        for sink in (MemoryAuditLog(), jsonl, FanoutAudit()):
            assert isinstance(sink, AuditSink)
