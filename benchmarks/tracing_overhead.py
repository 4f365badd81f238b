"""Benchmark: what tracing costs per verdict, off and on, against a baseline without hooks.

One process runs a kernel worker and an agent's ``KernelClient`` on the
in-process ``memory://`` bus (or the broker ``--url`` names; the broker's own
CPU is not counted) and asks for verdicts one after another (the
strict policy, a signed request, a signed verdict: the whole governed round
trip with every observability hook on its path). Four set-ups, their
batches interleaved so a drifting machine speed hits all of them alike:

* ``baseline``: the observers replaced by pass-throughs that return the raw
  functions, and the client's inner check called directly: the cost of the
  governed round trip with no instrumentation code at all;
* ``off``: the code as shipped, tracing never enabled, no metrics;
* ``metrics``: as shipped with Prometheus metrics on (worker and client);
* ``on``: tracing enabled, spans through the SDK's batch processor into an
  exporter that drops them (the export itself is the collector's cost);
* ``sampled``: the same with the deployment's default sampler, a parent-based
  10% trace-id ratio (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, 0.1).

It prints the CPU time per verdict (median of batch means), the differences
``off - baseline`` (what the hooks cost while tracing is off) and
``on - off``, and what the OpenTelemetry SDK alone takes to start and end
one empty span with the same provider in the same run (a governed action
makes seven spans), so the share of the SDK in ``on - off`` can be read off.

Usage::

    python benchmarks/tracing_overhead.py            # human-readable
    python benchmarks/tracing_overhead.py --json     # one JSON object
    python benchmarks/tracing_overhead.py --url nats://127.0.0.1:4222
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio
from prometheus_client import CollectorRegistry

import agent_os.adapters._client as client_module
import agent_os.kernel_worker._worker as worker_module
from agent_os.adapters import KernelClient
from agent_os.bus import Bus, Envelope, connect, new_id
from agent_os.kernel_worker import Verdict, Worker, load_policy
from agent_os.observability import (
    ClientObserver,
    Metrics,
    WorkerObserver,
    disable_tracing,
    enable_tracing,
)
from agent_os.trust import AgentIdentity, TrustRegistry

ACTION = ("sql", {"query": "SELECT name FROM users WHERE id = 42"})


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class _BareWorker(WorkerObserver):
    """No instrumentation: every hook hands back the raw function."""

    def decide(self, decide: Any) -> Any:
        return decide

    def handler(self, handler: Any, bus: Bus, concurrency: int) -> Any:
        return handler

    def verify(self, verify: Any) -> Any:
        return verify

    def reply(self, bus: Bus, request: Envelope, body: bytes) -> Awaitable[None]:
        return bus.publish(request.reply(body))


class _BareClient(ClientObserver):
    def request(self, bus: Bus, envelope: Envelope, timeout: float, **options: Any) -> Any:
        return bus.request(envelope, timeout, **options)

    def receive(self, read: Any) -> Any:
        return read


async def _setup(
    url: str, bare: bool, metrics: Metrics | None
) -> tuple[Callable[[], Awaitable[Verdict]], Callable[[], Awaitable[None]]]:
    # Each set-up its own bus (memory) or its own subject (a broker): no worker
    # takes another set-up's requests.
    subject = f"agentos.v1.bench.{new_id()[:12]}"
    if url == "memory://":
        url = f"memory://{new_id()}"
    worker_bus, agent_bus = await connect(url), await connect(url)
    kernel, agent = AgentIdentity.create("bench-kernel"), AgentIdentity.create("bench-agent")
    registry = TrustRegistry()
    registry.register(agent.public())
    real_worker, real_client = worker_module.WorkerObserver, client_module.ClientObserver
    if bare:  # the observers the worker and client build become pass-throughs
        worker_module.WorkerObserver = _BareWorker  # type: ignore[misc]
        client_module.ClientObserver = _BareClient  # type: ignore[misc]
    try:
        worker = Worker(
            worker_bus,
            identity=kernel,
            registry=registry,
            policies=load_policy("strict"),
            subject=subject,
            control_subject=None,
            publish_audit=False,
            metrics=metrics,
        )
        client = KernelClient(
            agent_bus, agent, [kernel.public()], subject=subject, timeout=5.0, metrics=metrics
        )
    finally:
        worker_module.WorkerObserver = real_worker  # type: ignore[misc]
        client_module.ClientObserver = real_client  # type: ignore[misc]
    await worker.start()
    action, args = ACTION

    def ask() -> Awaitable[Verdict]:
        if bare:  # skip the check's own wrapper too
            return client._check(action, args, tool=None, timeout=None, policy=None)
        return client.check(action, args)

    async def close() -> None:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()

    return ask, close


async def _batch(ask: Callable[[], Awaitable[Verdict]], n: int) -> float:
    gc.collect()
    # The process's CPU time (the span processor's thread included): other
    # work on a shared machine does not count, waiting costs nothing.
    start = time.process_time()
    for _ in range(n):
        verdict = await ask()
        assert verdict.decision.value == "allow", verdict
    return (time.process_time() - start) / n * 1e6


SPANS_PER_VERDICT = 7
#: Hooks one governed verdict passes while tracing is off: check, request,
#: receive (client); handler, verify, policy, reply (worker).
HOOKS_PER_VERDICT = 7


def _hook_ns(n: int = 200_000) -> float:
    """What one pass-through hook adds to a call while tracing is off (ns)."""

    def decide(action: Any, capabilities: Any) -> Any:
        return action

    hooked = WorkerObserver().decide(decide)
    action: dict[str, Any] = {}
    best = []
    for fn in (decide, hooked):
        runs = []
        for _ in range(5):
            start = time.process_time()
            for _ in range(n):
                fn(action, None)
            runs.append((time.process_time() - start) / n * 1e9)
        best.append(min(runs))
    return best[1] - best[0]


def _sdk_span_us(provider: TracerProvider, n: int = 3000) -> float:
    """Start and end one span with two attributes, as the SDK alone does it."""
    tracer = provider.get_tracer("bench")
    start = time.process_time()
    for _ in range(n):
        with tracer.start_as_current_span("bench", attributes={"a": "b", "c": 1}):
            pass
    return (time.process_time() - start) / n * 1e6


async def measure(url: str, batches: int, per_batch: int) -> dict[str, list[float]]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop(), max_queue_size=1 << 16))
    sampled = TracerProvider(sampler=ParentBasedTraceIdRatio(0.1))
    sampled.add_span_processor(BatchSpanProcessor(_Drop(), max_queue_size=1 << 16))
    tracing = {"on": provider, "sampled": sampled}
    metrics = Metrics(CollectorRegistry())
    setups = {
        "baseline": await _setup(url, True, None),
        "off": await _setup(url, False, None),
        "metrics": await _setup(url, False, metrics),
        "on": await _setup(url, False, None),
        "sampled": await _setup(url, False, None),
    }
    samples: dict[str, list[float]] = {name: [] for name in setups}
    samples["sdk_span"] = []
    try:
        for name, (ask, _) in setups.items():  # warm-up
            if name in tracing:
                enable_tracing(provider=tracing[name])
            await _batch(ask, 100)
            disable_tracing()
        order = list(setups.items())
        for _ in range(batches):
            random.shuffle(order)  # no set-up always runs first (or right after another)
            for name, (ask, _) in order:
                if name in tracing:
                    enable_tracing(provider=tracing[name])
                samples[name].append(await _batch(ask, per_batch))
                disable_tracing()
            samples["sdk_span"].append(_sdk_span_us(provider))
    finally:
        disable_tracing()
        for _, close in setups.values():
            await close()
        provider.shutdown()
        sampled.shutdown()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="memory://", help="bus URL (default memory://)")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--per-batch", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    samples = asyncio.run(measure(args.url, args.batches, args.per_batch))
    hook_ns = _hook_ns()
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    spread = {
        name: round(statistics.pstdev(values) / statistics.mean(values) * 100, 1)
        for name, values in samples.items()
    }
    report = {
        "python": platform.python_version(),
        "bus": args.url.split("?", 1)[0],
        "batches": args.batches,
        "per_batch": args.per_batch,
        **{f"{name}_us": round(v, 2) for name, v in p50.items()},
        "off_minus_baseline_us": round(p50["off"] - p50["baseline"], 2),
        "metrics_minus_off_us": round(p50["metrics"] - p50["off"], 2),
        "on_minus_off_us": round(p50["on"] - p50["off"], 2),
        "sampled_minus_off_us": round(p50["sampled"] - p50["off"], 2),
        "hook_off_ns": round(hook_ns, 1),
        "hooks_off_per_verdict_us": round(hook_ns * HOOKS_PER_VERDICT / 1000, 3),
        "sdk_span_us": round(p50["sdk_span"], 2),
        "sdk_spans_per_verdict_us": round(p50["sdk_span"] * SPANS_PER_VERDICT, 2),
        "off_over_baseline": round(p50["off"] / p50["baseline"], 3),
        "on_over_off": round(p50["on"] / p50["off"], 3),
        "spread_pct": spread,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"Python {report['python']}; {args.batches} interleaved batches of {args.per_batch}")
    print(f"governed round trip on {report['bus']}, CPU per verdict (median of batch means):")
    for name in ("baseline", "off", "metrics", "on", "sampled"):
        print(f"  {name:9s} {p50[name]:8.2f} µs   (spread ±{spread[name]}%)")
    print(
        f"tracing off vs baseline: {report['off_minus_baseline_us']:+.2f} µs "
        f"(x{report['off_over_baseline']})"
    )
    print(
        f"  one hook while off: {hook_ns:.0f} ns; x{HOOKS_PER_VERDICT} hooks per verdict = "
        f"{report['hooks_off_per_verdict_us']:.3f} µs"
    )
    print(f"metrics on vs off:       {report['metrics_minus_off_us']:+.2f} µs")
    print(
        f"tracing on vs off:       {report['on_minus_off_us']:+.2f} µs (x{report['on_over_off']})"
    )
    print(f"tracing 10% sampled:     {report['sampled_minus_off_us']:+.2f} µs")
    print(
        f"  the SDK alone, same run: {report['sdk_span_us']:.2f} µs per empty span, "
        f"x{SPANS_PER_VERDICT} spans = {report['sdk_spans_per_verdict_us']:.2f} µs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
