"""One agent cannot bury the review queue: caps on pending items, through a real worker.

A worker with a durable review queue capped at two pending items per agent
and three in all: an agent's third held action is denied ``review_backlog``
at once (not recorded, no ticket), another agent is still heard until the
store's cap denies ``review_queue_full``, a decision makes room again, and
the refusals are counted in ``agent_os_review_refused_total``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from review_support import ReviewSetup

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.kernel_worker import Decision
from agent_os.observability import Metrics
from agent_os.review import ReviewLimits, SqliteReviewStore
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry
from tests.servers import Servers, selected_backends


@pytest.fixture(params=selected_backends(("memory", "nats", "redis")))
def url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


def _refused(metrics: Metrics, code: str) -> float:
    value = metrics.registry.get_sample_value("agent_os_review_refused_total", {"code": code})
    return value or 0.0


async def test_caps_deny_further_holds_with_a_stable_code(tmp_path: Path, url: str) -> None:
    setup = ReviewSetup(tmp_path)
    other = AgentIdentity.create("agent-2")
    TrustRegistry(FileTrustStore(setup.registry_file)).register(other)
    metrics = Metrics.private()
    limits = ReviewLimits(per_agent=2, total=3)
    worker, worker_bus = await setup.worker(url, limits=limits, metrics=metrics)
    agent_bus = await connect(url)
    keys = [setup.kernel.public()]
    first = KernelClient(agent_bus, setup.agent, keys, timeout=10.0)
    second = KernelClient(agent_bus, other, keys, timeout=10.0)
    try:
        held = [await first.check("deploy", {"n": n}, wait_review=False) for n in range(2)]
        assert [v.decision for v in held] == [Decision.REVIEW, Decision.REVIEW]
        flood = await first.check("deploy", {"n": 2}, wait_review=False)
        assert flood.decision is Decision.DENY and flood.code == "review_backlog"
        assert flood.ticket is None and "agent-1" in flood.reason
        # Another agent is still heard, until the whole store is full.
        assert (await second.check("deploy", {}, wait_review=False)).decision is Decision.REVIEW
        full = await second.check("deploy", {"again": True}, wait_review=False)
        assert full.decision is Decision.DENY and full.code == "review_queue_full"
        # Actions that need no review are not affected.
        assert (await first.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        with SqliteReviewStore(setup.store_file) as store:
            assert len(store.pending()) == 3
        # A reviewer's decision makes room for the agent again.
        assert held[0].ticket is not None
        await setup.cli("deny", held[0].ticket, "--comment", "no")
        after = await first.check("deploy", {"n": 3}, wait_review=False)
        assert after.decision is Decision.REVIEW
        assert _refused(metrics, "review_backlog") == 1
        assert _refused(metrics, "review_queue_full") == 1
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
