"""Health endpoints and the readiness registry, with a real worker on a memory bus."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from agent_os.bus import connect, new_id
from agent_os.kernel_worker import Worker, load_policy
from agent_os.observability import HealthServer, Metrics, Readiness
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.http_get import http_get


async def test_readiness_fails_closed() -> None:
    readiness = Readiness(timeout=0.2)
    assert not await readiness.ready()  # nothing registered: not ready

    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    def raises() -> bool:
        raise RuntimeError("store down")

    async def async_fine() -> None:  # None: ready
        await asyncio.sleep(0)

    readiness.add("fine", lambda: True)
    readiness.add("async_fine", async_fine)
    assert await readiness.ready()
    readiness.add("hangs", hangs)
    readiness.add("raises", raises)
    readiness.add("says_why", lambda: "nonce store unreachable")
    readiness.add("false", lambda: False)
    report = await readiness.report()
    assert report["fine"] == "ok" and report["async_fine"] == "ok"
    assert report["hangs"].startswith("timed out")
    assert "store down" in report["raises"]
    assert report["says_why"] == "nonce store unreachable"
    assert report["false"] == "not ready"
    assert not await readiness.ready()
    for name in ("hangs", "raises", "says_why", "false"):
        readiness.remove(name)
    assert await readiness.ready()


async def test_worker_is_ready_only_while_consuming() -> None:
    bus = await connect(f"memory://{new_id()}")
    kernel, agent = AgentIdentity.create("k", "k"), AgentIdentity.create("a", "a")
    registry = TrustRegistry()
    registry.register(agent)
    metrics = Metrics(CollectorRegistry())
    worker = Worker(
        bus, identity=kernel, registry=registry, policies=load_policy("strict"), metrics=metrics
    )
    server = HealthServer(Readiness(), port=0, metrics_registry=metrics.registry)
    server.readiness.add_all(worker.health_checks())
    async with server:
        status, body = await http_get(server.port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["bus"] == "not consuming"
        await worker.start()
        status, body = await http_get(server.port, "/readyz")
        assert status == 200, body
        report = json.loads(body)
        assert report["ready"] is True
        assert {"bus", "policy", "registry"} <= set(report["checks"])
        assert set(report["checks"].values()) == {"ok"}
        assert (await http_get(server.port, "/healthz"))[0] == 200
        status, text = await http_get(server.port, "/metrics")
        assert status == 200
        strict = load_policy("strict")
        assert f'agent_os_policy_info{{hash="{strict.content_hash}",policy="strict"}} 1.0' in text
        assert "agent_os_worker_concurrency_limit 64.0" in text
        assert (await http_get(server.port, "/nope"))[0] == 404
        assert (await http_get(server.port, "/healthz", "POST"))[0] == 405
        registry.revoke("a", "gone")  # nobody left to serve
        status, body = await http_get(server.port, "/readyz")
        assert status == 503 and "no agent" in json.loads(body)["checks"]["registry"]
        await worker.shutdown()
        status, body = await http_get(server.port, "/readyz")
        assert status == 503
    assert metrics.registry.get_sample_value("agent_os_worker_concurrency_limit") == 0
    await bus.close()


@pytest.mark.parametrize("junk", [b"\r\n\r\n", b"GET\r\n\r\n", b"x" * 9000 + b"\r\n\r\n"])
async def test_junk_requests_get_an_error_not_a_crash(junk: bytes) -> None:
    async with HealthServer(port=0, metrics=False) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(junk)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert raw.startswith(b"HTTP/1.1 4")
        assert (await http_get(server.port, "/healthz"))[0] == 200


async def test_the_review_queue_is_read_at_each_scrape(tmp_path: Path) -> None:
    from agent_os.policies import load_policy as policy_from
    from agent_os.review import ReviewQueue, SqliteReviewStore

    store = SqliteReviewStore(tmp_path / "review.db")
    queue = ReviewQueue(store, registry=TrustRegistry())
    metrics = Metrics(CollectorRegistry())
    metrics.watch_review_queue(lambda: [i.created_at for i in store.pending()], max_age=0.0)
    held = policy_from(
        {"name": "hold", "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP"}]}
    )
    action = {"agent_id": "a", "action": "deploy", "args": {}, "request_id": "r1"}
    verdict = held.evaluate(action)
    assert verdict.decision.value == "review"
    async with HealthServer(port=0, metrics_registry=metrics.registry) as server:
        assert "agent_os_review_queue_depth 0.0" in (await http_get(server.port, "/metrics"))[1]
        await queue.hold(action, verdict)
        await queue.hold({**action, "request_id": "r2"}, verdict)
        text = (await http_get(server.port, "/metrics"))[1]
        assert "agent_os_review_queue_depth 2.0" in text
        oldest = metrics.registry.get_sample_value("agent_os_review_oldest_age_seconds")
        assert oldest is not None and oldest >= 0.0
        store.close()  # a store that fails keeps the last figures rather than breaking /metrics
        status, text = await http_get(server.port, "/metrics")
        assert status == 200 and "agent_os_review_queue_depth 2.0" in text
