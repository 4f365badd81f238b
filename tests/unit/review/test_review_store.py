"""The review store on SQLite and a real PostgreSQL: items, decisions, first decision wins."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_os.bus import new_id
from agent_os.policies import Decision
from agent_os.review import (
    ON_BEHALF,
    DecisionRefused,
    ReviewItem,
    ReviewLimits,
    ReviewQueueFull,
    ReviewRules,
    ReviewStore,
    ReviewStoreError,
    SqliteReviewStore,
    Status,
    final_verdict,
    open_review_store,
    sign_decision,
    verify_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from tests.servers import Servers
from tests.unit.review.review_cases import held

HELD = held("sql:drop", "destructive SQL needs review")
SECRET = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReviewStore]:
    if request.param == "sqlite":
        s: ReviewStore = SqliteReviewStore(tmp_path / "review.db")
    else:
        servers: Servers = request.getfixturevalue("servers")
        s = open_review_store(fresh_database(servers.get("postgres").url))
    yield s
    s.close()


def fresh_database(url: str) -> str:
    """A new, empty database on the test server (each test sees only its own items)."""
    import psycopg

    name = f"review_{new_id()[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


class People:
    def __init__(self) -> None:
        self.registry = TrustRegistry()
        self.alice = AgentIdentity.create("alice", "Alice")
        self.bob = AgentIdentity.create("bob", "Bob")
        self.console = AgentIdentity.create("console-1", "console", [ON_BEHALF])
        self.mallory = AgentIdentity.create("mallory", "not a reviewer")
        for who in (self.alice, self.bob, self.console):
            self.registry.register(who, TrustLevel.REVIEWER)
        self.registry.register(self.mallory)


@pytest.fixture
def people() -> People:
    return People()


def hold(
    store: ReviewStore, *, timeout: float = 60.0, approvals: int = 1, now: float | None = None
) -> ReviewItem:
    action = {
        "agent_id": "agent-1",
        "action": "sql",
        "tool": "db",
        "args": {"query": f"DROP TABLE users -- key {SECRET}", "password": "hunter2"},
        "request_id": new_id(),
    }
    item = ReviewItem.hold(
        new_id(),
        action,
        HELD,
        now=time.time() if now is None else now,
        timeout=timeout,
        approvals=approvals,
    )
    stored, created = store.add(item)
    assert created
    return stored


def decide(
    people: People,
    store: ReviewStore,
    ticket: str,
    who: AgentIdentity,
    approve: bool = True,
    **kw: object,
) -> ReviewItem:
    signed = sign_decision(who, ticket, approve=approve, comment="ok" if approve else "no", **kw)  # type: ignore[arg-type]
    return store.decide(verify_decision(people.registry, signed))


def test_item_round_trips_with_secrets_redacted(store: ReviewStore) -> None:
    item = hold(store)
    got = store.get(item.ticket)
    assert got is not None and got.status is Status.PENDING
    assert got.verdict == HELD and got.agent_id == "agent-1" and got.tool == "db"
    shown = str(got.args)
    assert SECRET not in shown and "hunter2" not in shown
    assert "AKIA" in shown and "DROP TABLE users" in shown
    assert [i.ticket for i in store.pending()] == [item.ticket]


def test_same_request_recorded_twice_is_one_item(store: ReviewStore) -> None:
    item = hold(store)
    again = ReviewItem.hold(
        new_id(),
        {"agent_id": "agent-1", "action": "sql", "args": {}, "request_id": item.request_id},
        HELD,
        now=time.time(),
        timeout=60,
    )
    stored, created = store.add(again)
    assert not created and stored.ticket == item.ticket


def test_first_decision_wins(store: ReviewStore, people: People) -> None:
    item = hold(store)
    settled = decide(people, store, item.ticket, people.alice, approve=False)
    assert settled.status is Status.DENIED and settled.decided_by == "alice"
    with pytest.raises(DecisionRefused) as info:
        decide(people, store, item.ticket, people.bob, approve=True)
    assert info.value.code == "already_decided"
    assert "already denied by alice" in str(info.value)
    assert store.get(item.ticket).status is Status.DENIED  # type: ignore[union-attr]


def test_concurrent_deciders_one_wins(store: ReviewStore, people: People) -> None:
    item = hold(store)
    outcomes: list[str] = []

    def run(who: AgentIdentity, approve: bool) -> None:
        try:
            decide(people, store, item.ticket, who, approve=approve)
            outcomes.append("won")
        except DecisionRefused as exc:
            outcomes.append(exc.code)

    threads = [
        threading.Thread(target=run, args=(w, a))
        for w, a in ((people.alice, True), (people.bob, False))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_decided", "won"]


def test_two_approvals_need_two_distinct_reviewers(store: ReviewStore, people: People) -> None:
    item = hold(store, approvals=2)
    once = decide(people, store, item.ticket, people.alice)
    assert once.status is Status.PENDING and once.approvers() == ["alice"]
    with pytest.raises(DecisionRefused) as info:
        decide(people, store, item.ticket, people.alice)
    assert info.value.code == "same_reviewer"
    # The console signing on alice's behalf is still alice.
    with pytest.raises(DecisionRefused):
        decide(people, store, item.ticket, people.console, reviewer="alice")
    twice = decide(people, store, item.ticket, people.bob)
    assert twice.status is Status.APPROVED and twice.decided_by == "alice, bob"
    verdict = final_verdict(twice, people.registry, time.time())
    assert verdict.decision is Decision.ALLOW and verdict.code == "review_approved"


def test_decision_after_deadline_is_refused_and_expires(store: ReviewStore, people: People) -> None:
    item = hold(store, timeout=1.0, now=time.time() - 5)
    with pytest.raises(DecisionRefused) as info:
        decide(people, store, item.ticket, people.alice)
    assert info.value.code == "expired"
    got = store.get(item.ticket)
    assert got is not None and got.status is Status.EXPIRED
    verdict = final_verdict(got, people.registry, time.time())
    assert verdict.decision is Decision.DENY and verdict.code == "review_timeout"


def test_expire_marks_overdue_items(store: ReviewStore) -> None:
    old = hold(store, timeout=1.0, now=time.time() - 5)
    fresh = hold(store)
    assert [i.ticket for i in store.expire()] == [old.ticket]
    assert store.get(fresh.ticket).status is Status.PENDING  # type: ignore[union-attr]
    assert [i.ticket for i in store.history()] == [old.ticket]


def test_only_reviewers_decide(people: People) -> None:
    stranger = AgentIdentity.create("stranger", "unknown key")
    for signer, code in ((people.mallory, "not_reviewer"), (stranger, "not_reviewer")):
        with pytest.raises(DecisionRefused) as info:
            verify_decision(people.registry, sign_decision(signer, "t", approve=True))
        assert info.value.code == code
    # A reviewer may not sign for someone else; only a console key may.
    with pytest.raises(DecisionRefused) as info:
        verify_decision(
            people.registry, sign_decision(people.alice, "t", approve=True, reviewer="bob")
        )
    assert info.value.code == "not_on_behalf"
    with pytest.raises(DecisionRefused) as info:
        verify_decision(
            people.registry, sign_decision(people.console, "t", approve=True, reviewer="mallory")
        )
    assert info.value.code == "not_reviewer"
    on_behalf = verify_decision(
        people.registry, sign_decision(people.console, "t", approve=True, reviewer="bob")
    )
    assert (on_behalf.reviewer, on_behalf.signer) == ("bob", "console-1")


def test_tampered_decision_signature_is_refused(people: People) -> None:
    signed = bytearray(sign_decision(people.alice, "t", approve=True))
    signed[-3] ^= 1
    with pytest.raises(DecisionRefused) as info:
        verify_decision(people.registry, bytes(signed))
    assert info.value.code in ("bad_signature", "malformed_decision")


def test_deny_needs_a_comment(people: People) -> None:
    with pytest.raises(DecisionRefused) as info:
        verify_decision(
            people.registry, sign_decision(people.alice, "t", approve=False, comment=" ")
        )
    assert info.value.code == "malformed_decision"


def test_approval_written_without_a_reviewer_key_is_not_an_allow(
    store: ReviewStore, people: People
) -> None:
    item = hold(store)
    # Someone with write access to the database forges a decision signed by a non-reviewer.
    forged = verify_decision(
        _registry_trusting(people.mallory), sign_decision(people.mallory, item.ticket, approve=True)
    )
    settled = store.decide(forged)
    assert settled.status is Status.APPROVED
    verdict = final_verdict(settled, people.registry, time.time())
    assert verdict.decision is Decision.DENY and verdict.code == "review_unverified"


def _registry_trusting(who: AgentIdentity) -> TrustRegistry:
    registry = TrustRegistry()
    registry.register(who, TrustLevel.REVIEWER)
    return registry


def test_revoked_reviewer_approval_no_longer_counts(store: ReviewStore, people: People) -> None:
    item = hold(store)
    settled = decide(people, store, item.ticket, people.alice)
    people.registry.revoke("alice", "key leaked")
    verdict = final_verdict(settled, people.registry, time.time())
    assert verdict.code == "review_unverified"


def test_reader_refuses_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(ReviewStoreError) as info:
        SqliteReviewStore(tmp_path / "none.db", create=False)
    assert info.value.code == "review_store_missing"


def test_rules_give_timeout_and_approvals() -> None:
    rules = ReviewRules.from_mapping(
        {"timeout": "10m", "rules": {"sql:*": {"approvals": 2, "timeout": "1h"}}}
    )
    assert rules.terms("sql:drop") == (3600.0, 2)
    assert rules.terms("shell:rm") == (600.0, 1)
    assert ReviewRules().terms(None) == (900.0, 1)
    with pytest.raises(ValueError):
        ReviewRules.from_mapping({"rules": {"x": {"approvals": 0}}})
    with pytest.raises(ValueError):
        ReviewRules.from_mapping({"timout": 5})


def test_rules_load_from_a_file_or_its_review_section(tmp_path: Path) -> None:
    alone = tmp_path / "review.yaml"
    alone.write_text("timeout: 90s\nrules:\n  'action:deploy': {approvals: 2}\n")
    assert ReviewRules.load(alone).terms("action:deploy") == (90.0, 2)
    beside = tmp_path / "policy.yaml"
    beside.write_text("policies: []\nreview:\n  rules:\n    'sql:*': {timeout: 1h}\n")
    assert ReviewRules.load(beside).terms("sql:drop") == (3600.0, 1)


def _held_by(
    agent: str, request_id: str | None = None, *, timeout: float = 60.0, now: float | None = None
) -> ReviewItem:
    action = {"agent_id": agent, "action": "sql", "args": {}, "request_id": request_id or new_id()}
    return ReviewItem.hold(
        new_id(), action, HELD, now=time.time() if now is None else now, timeout=timeout
    )


def test_caps_count_pending_items_per_agent_and_in_all(store: ReviewStore, people: People) -> None:
    limits = ReviewLimits(per_agent=2, total=3)
    first, _ = store.add(_held_by("agent-1"), limits)
    store.add(_held_by("agent-1"), limits)
    with pytest.raises(ReviewQueueFull) as backlog:
        store.add(_held_by("agent-1"), limits)
    assert backlog.value.code == "review_backlog" and "agent-1" in str(backlog.value)
    # A redelivery of a recorded request is no new item: it is not refused.
    again, created = store.add(_held_by("agent-1", first.request_id), limits)
    assert not created and again.ticket == first.ticket
    store.add(_held_by("agent-2"), limits)
    with pytest.raises(ReviewQueueFull) as full:
        store.add(_held_by("agent-3"), limits)
    assert full.value.code == "review_queue_full"
    assert len(store.pending()) == 3
    # A decided item and one past its deadline no longer count.
    decide(people, store, first.ticket, people.alice, approve=False)
    store.add(_held_by("agent-1"), limits)
    assert len(store.pending()) == 3


def test_items_past_their_deadline_do_not_count(store: ReviewStore) -> None:
    limits = ReviewLimits(per_agent=1, total=None)
    store.add(_held_by("agent-1", timeout=0.001), limits)
    late = time.time() + 1
    store.add(_held_by("agent-1", now=late), limits)
    assert len(store.pending(late)) == 1


def test_no_cap_is_an_explicit_choice() -> None:
    assert ReviewLimits() == ReviewLimits(per_agent=20, total=10_000)
    assert ReviewLimits.from_settings(0, 0) == ReviewLimits(None, None)
    with pytest.raises(ValueError, match="per_agent"):
        ReviewLimits(per_agent=-1)
