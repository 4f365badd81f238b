"""Dashboards and alerts use only series the code really exports.

A real worker, an agent's client (one of them facing a rogue responder and no
worker), and a KernelSpace holding an action for review run on a memory bus;
their metrics are scraped over HTTP from the worker's health server, as
Prometheus would. The review console (the real Starlette app, a reviewer
deciding one held action in it) is scraped on its own ``/metrics``. Every
``agent_os_*`` name in ``deploy/grafana`` and ``deploy/prometheus`` must
appear in one of those scrapes, and the review queue's and console's series
in the console's alone.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from agent_os.adapters import KernelClient
from agent_os.bus import Delivery, connect, new_id
from agent_os.kernel_worker import AutoApprove, KernelSpace, Worker, load_policy
from agent_os.observability import HealthServer, Metrics, Readiness
from agent_os.review import ON_BEHALF, ReviewItem, SqliteReviewStore
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from tests.http_get import http_get

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
ALERTS = sorted((ROOT / "deploy" / "prometheus").glob("*.yaml"))
NAME = re.compile(r"\bagent_os_[a-z0-9_]+")


def _dashboard_exprs(path: Path) -> list[str]:
    board = json.loads(path.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def _alert_exprs(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


async def _scrape() -> str:
    url = f"memory://{new_id()}"
    worker_bus, agent_bus = await connect(url), await connect(url)
    metrics = Metrics.private()
    kernel, agent = AgentIdentity.create("k"), AgentIdentity.create("a")
    registry = TrustRegistry()
    registry.register(agent)
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy("strict"),
        metrics=metrics,
    )
    server = HealthServer(Readiness(), port=0, metrics_registry=metrics.registry)

    async def rogue(delivery: Delivery) -> None:  # answers first, with no valid verdict
        await agent_bus.publish(delivery.envelope.reply(b"not a verdict"))

    await agent_bus.subscribe("agentos.v1.unserved", rogue)
    try:
        await worker.start()
        await server.start()
        client = KernelClient(agent_bus, agent, [kernel.public()], metrics=metrics)
        assert (await client.check("file_read", {"path": "/srv/a"})).decision.value == "allow"
        assert (await client.check("sql", {"query": "DROP TABLE t"})).decision.value == "deny"
        lost = KernelClient(
            agent_bus, agent, [kernel.public()], subject="agentos.v1.unserved", metrics=metrics
        )
        verdict = await lost.check("file_read", {"path": "/srv/a"}, timeout=1.5)
        assert verdict.code == "timeout" and lost.dropped
        space = KernelSpace(
            {"name": "hold", "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP"}]},
            metrics=metrics,
            approver=AutoApprove(),
        )
        held = space.register(action="deploy")(lambda: None)
        await held()
        status, body = await http_get(server.port, "/metrics")
    finally:
        await server.close()
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
    assert status == 200
    return body


def _scrape_console(root: Path) -> str:
    from starlette.testclient import TestClient

    from agent_os.kernel_worker import Decision, Signal, Verdict
    from agent_os.review._console_app import ConsoleConfig, create_app

    registry = TrustRegistry()
    console = AgentIdentity.create("console-1", "console", [ON_BEHALF])
    registry.register(console, TrustLevel.REVIEWER)
    registry.register(AgentIdentity.create("alice"), TrustLevel.REVIEWER)
    store = SqliteReviewStore(root / "review.db")
    held = Verdict(Decision.REVIEW, Signal.SIGSTOP, "action:deploy", "needs a human", None,
                   "ops", "0" * 16, "policy_violation")  # fmt: skip
    for target in ("prod", "staging"):
        action = {"agent_id": "a", "action": "deploy", "request_id": f"r-{target}"}
        store.add(ReviewItem.hold(f"t-{target}", action, held, now=time.time(), timeout=600))
    token = "alice-console-token-0123456789"
    auth = {"Authorization": f"Bearer {token}"}
    config = ConsoleConfig(
        store=store,
        registry=registry,
        identity=console,
        tokens={token: "alice"},
        metrics=Metrics.private(),
    )
    try:
        with TestClient(create_app(config)) as client:
            page = client.get("/", headers=auth)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert page.status_code == 200 and csrf is not None
            form = {"csrf": csrf.group(1), "decision": "approve"}
            done = client.post("/item/t-prod/decide", data=form, headers=auth)
            assert done.status_code == 200
            scrape = client.get("/metrics")
    finally:
        store.close()
    assert scrape.status_code == 200
    return scrape.text


def _names(text: str) -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


@pytest.fixture(scope="module")
def console_exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return _names(_scrape_console(tmp_path_factory.mktemp("console")))


@pytest.fixture(scope="module")
def exported(console_exported: set[str]) -> set[str]:
    return _names(asyncio.run(_scrape())) | console_exported


def test_the_console_exports_the_review_series_itself(console_exported: set[str]) -> None:
    # What the review dashboard reads from a console; the outcomes its desk hands to
    # agents (agent_os_reviews_total) are counted by every desk, a worker's included.
    exprs = [e for path in DASHBOARDS + ALERTS for e in (
        _dashboard_exprs(path) if path.suffix == ".json" else _alert_exprs(path))]  # fmt: skip
    used = {n for e in exprs for n in NAME.findall(e)}
    console = {n for n in used if n.startswith(("agent_os_review_", "agent_os_console_"))}
    assert {"agent_os_review_decisions_total", "agent_os_console_requests_total"} <= console
    assert not sorted(console - console_exported)


@pytest.mark.parametrize("path", DASHBOARDS + ALERTS, ids=lambda p: p.name)
def test_every_metric_used_is_exported(path: Path, exported: set[str]) -> None:
    exprs = _dashboard_exprs(path) if path.suffix == ".json" else _alert_exprs(path)
    assert exprs
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used
    missing = sorted(used - exported)
    assert not missing, f"{path.name} uses series nobody exports: {missing}"


def test_the_dashboards_cover_what_operators_need() -> None:
    exprs = " ".join(e for path in DASHBOARDS for e in _dashboard_exprs(path))
    for needed in (
        "sum by (decision) (rate(agent_os_verdicts_total",  # verdict rate by decision
        'agent_os_violations_total{signal="SIGKILL"}',  # denies by rule
        "agent_os_worker_request_duration_seconds_bucket",  # latency in the worker
        "agent_os_client_verdict_duration_seconds_bucket",  # latency at the agent
        "agent_os_worker_requests_in_flight",  # saturation
        "agent_os_bus_errors_total",
        "agent_os_review_queue_depth",
        "agent_os_review_oldest_age_seconds",
        "sum by (outcome) (rate(agent_os_review_decisions_total",  # reviewers' decisions
        "agent_os_console_requests_total",  # the console's traffic and errors
    ):
        assert needed in exprs, needed
    for quantile in ("histogram_quantile(0.5,", "histogram_quantile(0.99,"):
        assert quantile in exprs


def test_dashboards_are_importable_grafana_json() -> None:
    uids = set()
    for path in DASHBOARDS:
        board: dict[str, Any] = json.loads(path.read_text())
        assert board["uid"] not in uids
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"


def test_alert_rules_are_well_formed() -> None:
    for path in ALERTS:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert re.fullmatch(r"AgentOS[A-Za-z]+", rule["alert"])
                assert rule["labels"]["severity"] in ("warning", "critical")
                assert rule["annotations"]["summary"]
                assert re.fullmatch(r"\d+[smh]", rule["for"])
