"""Prometheus metrics as middleware around a decide function."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agent_os.kernel_worker import KernelSpace
from agent_os.kernel_worker._review import ReviewOutcome
from agent_os.observability import (
    DURATION_BUCKETS,
    Metrics,
    MetricsError,
    instrumented,
    start_metrics_server,
)
from agent_os.policies._errors import PolicyViolation
from agent_os.policies._policy import Policy
from agent_os.policies._types import Pattern, Signal, Verdict

POLICY = Policy(
    "metrics-test",
    blocked_actions=["file_delete"],
    blocked_patterns=[
        Pattern("deploy", "needs review", signal=Signal.SIGSTOP),
        Pattern("sudo", "sudo use", signal=Signal.SIGWARN),
    ],
)


def _decide(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
    return POLICY.evaluate(action, capabilities=capabilities)


def _act(kind: str, text: str = "") -> dict[str, Any]:
    return {"agent_id": "a", "action": kind, "args": {"x": text}}


def test_instrumented_counts_every_decision() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    decide = instrumented(_decide, metrics)

    assert decide(_act("tool_call", "hi"), None).decision.value == "allow"
    decide(_act("file_delete"), None)
    decide(_act("file_delete"), None)
    decide(_act("tool_call", "deploy"), None)
    decide(_act("tool_call", "sudo ls"), None)

    value = registry.get_sample_value
    assert value("agent_os_verdicts_total", {"decision": "allow"}) == 1
    assert value("agent_os_verdicts_total", {"decision": "deny"}) == 2
    assert value("agent_os_sigkill_total", {"policy": "metrics-test"}) == 2
    kill = {"policy": "metrics-test", "rule": "action:file_delete", "signal": "SIGKILL"}
    assert value("agent_os_violations_total", kill) == 2
    stop = {"policy": "metrics-test", "rule": "needs-review", "signal": "SIGSTOP"}
    assert value("agent_os_violations_total", stop) == 1
    warn = {"policy": "metrics-test", "rule": "sudo-use", "signal": "SIGWARN"}
    assert value("agent_os_violations_total", warn) == 1
    assert value("agent_os_policy_check_duration_seconds_count") == 5
    assert value("agent_os_policy_check_duration_seconds_sum") > 0  # type: ignore[operator]


def test_exposition_has_names_and_microsecond_buckets() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.observe(_decide(_act("file_delete"), None), 3e-6)
    metrics.observe_review(ReviewOutcome.TIMEOUT)
    text = metrics.exposition().decode()
    for name in (
        "agent_os_verdicts_total",
        "agent_os_violations_total",
        "agent_os_sigkill_total",
        "agent_os_policy_check_duration_seconds_bucket",
        "agent_os_reviews_total",
    ):
        assert name in text
    assert 'le="1e-06"' in text and 'le="2.5e-06"' in text
    assert len(DURATION_BUCKETS) == 13
    value = metrics.registry.get_sample_value
    assert value("agent_os_policy_check_duration_seconds_bucket", {"le": "2.5e-06"}) == 0
    assert value("agent_os_policy_check_duration_seconds_bucket", {"le": "5e-06"}) == 1
    assert value("agent_os_reviews_total", {"outcome": "timeout"}) == 1


def test_fail_closed_deny_is_labelled_by_code() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.observe(Verdict.deny("bad_signature", "no"), 1e-5)
    labels = {"policy": "", "rule": "bad_signature", "signal": "SIGKILL"}
    assert metrics.registry.get_sample_value("agent_os_violations_total", labels) == 1


def test_metrics_on_one_registry_share_their_collectors() -> None:
    registry = CollectorRegistry()
    a, b = Metrics(registry), Metrics(registry)
    assert a.verdicts is b.verdicts
    a.observe(Verdict.deny("bad_signature", "no"), 1e-5)
    b.observe(Verdict.deny("bad_signature", "no"), 1e-5)
    assert registry.get_sample_value("agent_os_verdicts_total", {"decision": "deny"}) == 2
    other = Metrics(registry, namespace="other")  # another namespace: its own series
    assert other.verdicts is not a.verdicts


def test_names_taken_by_foreign_collectors_are_a_clear_error() -> None:
    from prometheus_client import Counter

    registry = CollectorRegistry()
    Counter("agent_os_verdicts_total", "someone else's", registry=registry)
    with pytest.raises(MetricsError) as info:
        Metrics(registry)
    assert info.value.code == "metrics_registered"


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_seed_kernel_space_metrics_show_in_generate_latest() -> None:
    # The seed's spelling, as a new user tries it: no registry passed anywhere.
    from prometheus_client import generate_latest

    kernel = KernelSpace(policy="strict", metrics=True)
    again = KernelSpace(policy="strict", metrics=True)  # a second kernel does not clash
    before = _sample("agent_os_sigkill_total", {"policy": "strict"})

    @kernel.register(action="sql")
    def query(sql: str) -> str:
        return sql

    with pytest.raises(PolicyViolation):
        await query("DROP TABLE users")
    with pytest.raises(PolicyViolation):
        await again.execute(query, "DELETE FROM users")
    text = generate_latest().decode()
    for name in (
        "agent_os_violations_total",
        "agent_os_policy_check_duration_seconds",
        "agent_os_sigkill_total",
    ):
        assert f"# TYPE {name} " in text, name
    assert 'agent_os_violations_total{policy="strict"' in text
    assert _sample("agent_os_sigkill_total", {"policy": "strict"}) == before + 2


def test_worker_series_have_their_labels() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.serving("strict", "abc123")
    metrics.bus_error("worker", "timeout")
    metrics.client_verdict(Verdict.deny("timeout", "no").decision, 0.002)
    metrics.review_queue(3, 12.5)
    metrics.capacity(64)
    value = metrics.registry.get_sample_value
    assert value("agent_os_policy_info", {"policy": "strict", "hash": "abc123"}) == 1
    assert value("agent_os_bus_errors_total", {"role": "worker", "code": "timeout"}) == 1
    assert value("agent_os_client_verdict_duration_seconds_count", {"decision": "deny"}) == 1
    assert value("agent_os_review_queue_depth") == 3
    assert value("agent_os_review_oldest_age_seconds") == 12.5
    assert value("agent_os_worker_concurrency_limit") == 64
    metrics.review_queue(0, 99.0)  # no item pending: no age
    assert value("agent_os_review_oldest_age_seconds") == 0
    metrics.retired("strict", "abc123")
    assert value("agent_os_policy_info", {"policy": "strict", "hash": "abc123"}) is None


def test_private_metrics_never_clash() -> None:
    a, b = Metrics.private(), Metrics.private()
    assert a.registry is not b.registry


def test_missing_prometheus_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MetricsError) as info:
        Metrics(CollectorRegistry())
    assert info.value.code == "missing_dependency"
    assert "pip install 'agent-os[observability]'" in str(info.value)


def test_metrics_server_serves_the_registry() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.observe(_decide(_act("file_delete"), None), 1e-5)
    server, thread = start_metrics_server(0, registry=metrics.registry)
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            body = resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert 'agent_os_sigkill_total{policy="metrics-test"} 1.0' in body


async def test_bus_errors_are_counted_by_side_and_code() -> None:
    from agent_os.adapters import KernelClient
    from agent_os.bus import connect, new_id
    from agent_os.kernel_worker import Worker, load_policy
    from agent_os.trust import AgentIdentity, TrustRegistry

    name = new_id()
    # The worker's bus refuses anything as large as a signed verdict: every answer fails.
    worker_bus = await connect(f"memory://{name}?max_payload=200")
    agent_bus = await connect(f"memory://{name}")
    metrics = Metrics(CollectorRegistry())
    kernel, agent = AgentIdentity.create("k"), AgentIdentity.create("a")
    registry = TrustRegistry()
    registry.register(agent)
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy("strict"),
        metrics=metrics,
        publish_audit=False,
    )
    await worker.start()
    try:
        client = KernelClient(agent_bus, agent, [kernel.public()], metrics=metrics)
        verdict = await client.check("file_read", {"path": "/srv/a"}, timeout=2.0)
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
    assert verdict.code == "timeout"  # fail closed
    value = metrics.registry.get_sample_value
    worker_errors = value(
        "agent_os_bus_errors_total", {"role": "worker", "code": "payload_too_large"}
    )
    assert worker_errors is not None and worker_errors >= 1
    assert value("agent_os_bus_errors_total", {"role": "client", "code": "timeout"}) == 1
    count = value("agent_os_client_verdict_duration_seconds_count", {"decision": "deny"})
    assert count == 1
