"""Benchmark: from a reviewer's decision to the waiting agent's final verdict, per bus.

For each backend, in one run against the same server: a kernel worker with a
SQLite review store holds an action, the agent waits on it (``client.wait``),
and once the worker's desk holds the agent's poll a reviewer's signed
decision is taken (:func:`agent_os.review.take_decision`: verify the
signature, write the store, announce the ticket on the bus). Measured:

* decision → agent: from the start of ``take_decision`` to the agent holding
  the final verdict (what a reviewer's click costs until the agent can act);
* of which taking it: verify the signature, write SQLite (synchronous=FULL, so
  an fsync) and announce the ticket, before the bus carries anything;
* baseline: one raw bus request/reply round trip on the same server and run
  (a responder that echoes), so the ratio carries across machines.

Usage::

    python benchmarks/review_latency.py                      # nats and redis
    python benchmarks/review_latency.py --backends nats --rounds 200 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_os.adapters import KernelClient  # noqa: E402
from agent_os.bus import Delivery, Envelope, connect, new_id  # noqa: E402
from agent_os.kernel_worker import MemoryAuditLog, Worker, load_policy  # noqa: E402
from agent_os.review import (  # noqa: E402
    ON_BEHALF,
    ReviewQueue,
    SqliteReviewStore,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry  # noqa: E402
from tests.servers import Servers  # noqa: E402

POLICY = {
    "name": "ops",
    "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP", "reason": "needs a human"}],
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _baseline(url: str, rounds: int) -> list[float]:
    server, client = await connect(url), await connect(url)
    subject = f"bench.echo.{new_id()[:8]}"

    async def echo(delivery: Delivery) -> None:
        await client_reply(server, delivery)
        await delivery.ack()

    sub = await server.subscribe(subject, echo, group="echo")
    times: list[float] = []
    try:
        for _ in range(rounds + 5):
            started = time.perf_counter()
            await client.request(Envelope(subject=subject, body=b"x" * 200), 10)
            times.append(time.perf_counter() - started)
    finally:
        await sub.unsubscribe()
        await client.close()
        await server.close()
    return times[5:]


async def client_reply(bus: Any, delivery: Delivery) -> None:
    await bus.publish(delivery.envelope.reply(delivery.envelope.body))


async def run_backend(url: str, rounds: int, tmp: Path) -> dict[str, Any]:
    kernel = AgentIdentity.create("kernel-1")
    agent = AgentIdentity.create("agent-1")
    alice = AgentIdentity.create("alice")
    registry = TrustRegistry()
    registry.register(agent)
    registry.register(alice, TrustLevel.REVIEWER)
    registry.register(AgentIdentity.create("console-1", "", [ON_BEHALF]), TrustLevel.REVIEWER)
    store = SqliteReviewStore(tmp / f"{new_id()}.db")
    worker_bus, agent_bus, reviewer_bus = await connect(url), await connect(url), await connect(url)
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy(POLICY),
        audit=MemoryAuditLog(),
        review=ReviewQueue(store, registry=registry),
    )
    await worker.start()
    desk = worker._desk
    assert desk is not None
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=10)
    total: list[float] = []
    stored: list[float] = []
    try:
        for i in range(rounds + 5):
            pending = await client.check("deploy", {"n": i}, wait_review=False)
            assert pending.ticket is not None
            waiting = asyncio.create_task(client.wait(pending, timeout=60))
            # Decide only once the desk holds the agent's poll: the figure is the
            # decision's path, not the poll's setup (the desk has no event for it).
            while desk.waiting == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            signed = sign_decision(alice, pending.ticket, approve=True, comment="ok")
            started = time.perf_counter()
            await take_decision(store, registry, signed, bus=reviewer_bus)
            decided = time.perf_counter()
            final = await waiting
            done = time.perf_counter()
            assert final.allowed, final
            if i >= 5:  # warm-up rounds are left out
                total.append(done - started)
                stored.append(decided - started)
    finally:
        await worker.shutdown()
        store.close()
        for bus in (worker_bus, agent_bus, reviewer_bus):
            await bus.close()
    base = await _baseline(url, rounds)
    p50 = statistics.median(total)
    return {
        "rounds": rounds,
        "decision_to_agent_p50_ms": round(p50 * 1e3, 2),
        "decision_to_agent_p99_ms": round(_pct(total, 0.99) * 1e3, 2),
        "of_which_taking_p50_ms": round(statistics.median(stored) * 1e3, 2),
        "baseline_request_reply_p50_ms": round(statistics.median(base) * 1e3, 3),
        "ratio_to_baseline": round(p50 / statistics.median(base), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="nats,redis")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="agentos-review-bench-"))
    servers = Servers(tmp / "servers")
    results: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
    }
    try:
        for name in args.backends.split(","):
            url = servers.get(name).url
            results[name] = asyncio.run(run_backend(url, args.rounds, tmp))
    finally:
        servers.stop_all()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"review decision -> agent latency; python {results['python']}, {results['machine']}")
    print(f"{'bus':<8}{'p50 ms':>9}{'p99 ms':>9}{'taking p50':>11}{'raw rr p50':>12}{'ratio':>7}")
    for name in args.backends.split(","):
        r = results[name]
        print(
            f"{name:<8}{r['decision_to_agent_p50_ms']:>9}{r['decision_to_agent_p99_ms']:>9}"
            f"{r['of_which_taking_p50_ms']:>11}{r['baseline_request_reply_p50_ms']:>12}"
            f"{r['ratio_to_baseline']:>6}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
