"""The review console's /metrics, scraped from the real Starlette app.

Two held actions wait in a real SQLite store; a reviewer (bearer token)
approves one in the console and tries again, and asks for a page that does
not exist. The scrape shows the queue, the decisions by outcome and the
requests by route template (never a raw path or a ticket).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from review_cases import held
from starlette.testclient import TestClient

from agent_os.observability import Metrics
from agent_os.review import ON_BEHALF, ReviewItem, SqliteReviewStore
from agent_os.review._console_app import ConsoleConfig, create_app
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry

TOKEN = "alice-console-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _hold(store: SqliteReviewStore, target: str, age: float) -> ReviewItem:
    action = {"agent_id": "agent-1", "action": "deploy", "args": {"target": target}}
    item = ReviewItem.hold(
        f"ticket-{target}",
        {**action, "request_id": f"req-{target}"},
        held(),
        now=time.time() - age,
        timeout=3600,
    )
    stored, _ = store.add(item)
    return stored


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[TestClient, Metrics, list[ReviewItem]]]:
    registry = TrustRegistry()
    identity = AgentIdentity.create("console-1", "console", [ON_BEHALF])
    registry.register(identity, TrustLevel.REVIEWER)
    registry.register(AgentIdentity.create("alice"), TrustLevel.REVIEWER)
    store = SqliteReviewStore(tmp_path / "review.db")
    items = [_hold(store, "prod", age=120.0), _hold(store, "staging", age=5.0)]
    metrics = Metrics.private()
    config = ConsoleConfig(
        store=store, registry=registry, identity=identity, tokens={TOKEN: "alice"}, metrics=metrics
    )
    with TestClient(create_app(config)) as client:
        yield client, metrics, items
    store.close()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_scrape_shows_queue_decisions_and_requests(
    console: tuple[TestClient, Metrics, list[ReviewItem]],
) -> None:
    client, _, (prod, _staging) = console
    page = client.get("/", headers=AUTH)
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "decision": "approve", "comment": "window open"}
    decide = f"/item/{prod.ticket}/decide"
    first = client.post(decide, data=form, headers=AUTH, follow_redirects=False)
    assert first.status_code == 303
    again = client.post(decide, data=form, headers=AUTH, follow_redirects=False)
    assert again.status_code == 409
    assert client.get("/no/such/page", headers=AUTH).status_code == 404
    assert client.get("/history").status_code == 401  # no login: the page is refused

    scrape = client.get("/metrics")  # no login needed: counts only
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    samples = _samples(scrape.text)
    # One item is left; the oldest pending one was held 5 s ago (the 2-minute one is decided).
    assert _value(samples, "agent_os_review_queue_depth") == 1
    assert 5.0 <= _value(samples, "agent_os_review_oldest_age_seconds") < 120.0
    assert _value(samples, "agent_os_review_decisions_total", outcome="approved") == 1
    assert _value(samples, "agent_os_review_decisions_total", outcome="refused") == 1
    requests = "agent_os_console_requests_total"
    assert _value(samples, requests, method="GET", route="/", status="200") == 1
    assert (
        _value(samples, requests, method="POST", route="/item/{ticket}/decide", status="303") == 1
    )
    assert (
        _value(samples, requests, method="POST", route="/item/{ticket}/decide", status="409") == 1
    )
    assert _value(samples, requests, method="GET", route="unmatched", status="404") == 1
    assert _value(samples, requests, method="GET", route="/history", status="401") == 1
    # Tickets never become labels.
    assert prod.ticket not in scrape.text


def test_without_metrics_the_console_serves_no_metrics_page(tmp_path: Path) -> None:
    registry = TrustRegistry()
    identity = AgentIdentity.create("console-1", "console", [ON_BEHALF])
    store = SqliteReviewStore(tmp_path / "review.db")
    config = ConsoleConfig(store=store, registry=registry, identity=identity, tokens={})
    with TestClient(create_app(config)) as client:
        # Not a metrics page: the login-guarded app has no such route.
        assert client.get("/metrics").status_code == 404
    store.close()
