"""Benchmark: the governed round trip over each bus against the raw client's.

For every backend, in one run against the same server:

* raw: the broker's own client doing request/reply over the same delivery
  path our worker uses (see ``_raw.py``), with the same payload size;
* governed: ``KernelClient.check`` → bus → ``Worker`` (verify signature,
  decide, sign verdict) → bus → verify verdict, one request at a time;
* throughput: one ``agent-os worker`` process, signatures on, fed pre-signed
  requests by many agents in flight from this process; verdicts per second,
  and the worker's own CPU time per verdict (user + system, from /proc) with
  the share of a core it used: a worker near 1.0 core is CPU-bound, and
  1e6 / cpu_us is what it would do with a core to itself. For NATS, the same
  load on a raw nats-py responder process (pull, reply, ack; no work) gives
  the floor: what the client library alone costs per message.

Servers are started on free loopback ports from the pip-installed binaries
(the same code the tests use), or taken from ``--url BACKEND=URL``.

Usage::

    python benchmarks/bus_roundtrip.py                    # all backends
    python benchmarks/bus_roundtrip.py --backends nats,redis --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import _raw  # noqa: E402

from agent_os.adapters import KernelClient  # noqa: E402
from agent_os.bus import connect  # noqa: E402
from agent_os.kernel_worker import (  # noqa: E402
    ACTION_SUBJECT,
    Policy,
    Worker,
    action_content,
    action_request,
    load_policy,
)
from agent_os.trust import (  # noqa: E402
    AgentIdentity,
    FileTrustStore,
    PublicIdentity,
    SignedMessage,
    TrustLevel,
    TrustRegistry,
)
from tests.servers import Servers  # noqa: E402

RAW: dict[str, list[tuple[str, Callable[[str, bytes, int], Awaitable[list[float]]]]]] = {
    "nats": [("jetstream", _raw.nats_jetstream), ("core", _raw.nats_core)],
    "redis": [("streams", _raw.redis_streams)],
    "kafka": [("group", _raw.kafka)],
    "sqs": [("queue", _raw.sqs)],
}
#: Round trips per backend: slow brokers get fewer so the run stays short.
ROUNDS = {"memory": 3000, "nats": 2000, "redis": 2000, "kafka": 300, "sqs": 60}
URL_OPTIONS = {"kafka": "?session_timeout_ms=6000&heartbeat_interval_ms=1000"}
ACTION = ("file_read", {"path": "/srv/app/data/report-2024-q3.csv", "encoding": "utf-8"})


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_us": round(_pct(samples, 0.50), 1), "p99_us": round(_pct(samples, 0.99), 1)}


async def governed(
    url: str, n: int, spent: dict[str, list[float]] | None = None
) -> tuple[list[float], int]:
    """``n`` governed round trips, one at a time: their times and the request's size.

    With ``spent``, each round trip's time inside Ed25519 and inside the policy
    is appended to ``spent["ed25519"]`` / ``spent["policy"]`` (see ``_stopwatch``).
    """
    kernel = AgentIdentity.create("bench-kernel")
    agent = AgentIdentity.create("bench-agent")
    registry = TrustRegistry()
    registry.register(agent.public())
    wbus, abus = await connect(url), await connect(url)
    worker = Worker(wbus, identity=kernel, registry=registry, policies=load_policy("strict"))
    await worker.start()
    client = KernelClient(abus, agent, [kernel.public()], timeout=30)
    size = len((await action_request(abus, agent, action_content(*ACTION), timeout=30)).body)
    for _ in range(min(50, n)):  # warm-up: connections, group joins, caches
        await client.check(*ACTION)
    out = []
    clock = {"ed25519": 0.0, "policy": 0.0}
    with _stopwatch(clock) if spent is not None else contextlib.nullcontext():
        for _ in range(n):
            before = dict(clock)
            t = time.perf_counter()
            verdict = await client.check(*ACTION)
            out.append(time.perf_counter() - t)
            if not verdict.allowed:
                raise RuntimeError(f"benign action denied: {verdict}")
            if spent is not None:
                for key, total in clock.items():
                    spent.setdefault(key, []).append(total - before[key])
    await worker.shutdown()
    await abus.close()
    await wbus.close()
    return out, size


@contextlib.contextmanager
def _stopwatch(clock: dict[str, float]) -> Iterator[None]:
    """Add the seconds this process spends in Ed25519 and in ``Policy.evaluate`` to ``clock``.

    Wraps the signing, verifying and evaluating methods while active: it is for
    a pass of its own, apart from the timed one (the wrappers cost about a
    microsecond per round trip). Its figures are what those steps cost inside a
    real round trip, cold caches and all, rather than in a tight loop.
    """
    patched = [
        (AgentIdentity, "_sign_raw", "ed25519"),
        (PublicIdentity, "_verify_raw", "ed25519"),
        (Policy, "evaluate", "policy"),
    ]
    originals = [getattr(cls, name) for cls, name, _ in patched]

    def timed(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                clock[key] += time.perf_counter() - start

        return run

    for (cls, name, key), fn in zip(patched, originals, strict=True):
        setattr(cls, name, timed(fn, key))
    try:
        yield
    finally:
        for (cls, name, _), fn in zip(patched, originals, strict=True):
            setattr(cls, name, fn)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(url: str, seconds: float, in_flight: int) -> dict[str, float]:
    """Verdicts per second from one worker process, signatures on, and its CPU cost."""
    tmp = Path(tempfile.mkdtemp(prefix="agentos-bench-"))
    kernel = AgentIdentity.create("bench-kernel")
    kernel.save(tmp / "kernel.key")
    agents = [AgentIdentity.create(f"bench-agent-{i}") for i in range(16)]
    registry = TrustRegistry(FileTrustStore(tmp / "registry.json"))
    for a in agents:
        registry.register(a.public())
    registry.register(kernel.public(), TrustLevel.KERNEL)  # a worker refuses a key agents don't pin
    worker = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "agent-os"), "worker", "--bus", url,
        "--policy", "strict", "--key", str(tmp / "kernel.key"),
        "--registry", str(tmp / "registry.json"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        # One worker: where the bus has no shared nonce store (Kafka, SQS) it says so.
        env={**os.environ, "AGENT_OS_SINGLE_REPLICA": "true"},
    )  # fmt: skip
    bus = await connect(url)
    try:
        probe = KernelClient(bus, agents[0], [kernel.public()], timeout=2)
        up = time.monotonic() + 60
        while not (verdict := await probe.check(*ACTION)).allowed:  # wait until it answers
            if verdict.code not in ("no_responders", "timeout") or time.monotonic() > up:
                raise RuntimeError(f"worker did not allow the benchmark action: {verdict}")
            await asyncio.sleep(0.1)
        # Sign up front: the figure is the worker's capacity, not this process's.
        budget = int(seconds * 20000)
        content = action_content(*ACTION)
        requests = [
            await action_request(bus, agents[i % 16], content, timeout=seconds + 60)
            for i in range(budget)
        ]
        done = 0
        stop = time.perf_counter() + seconds
        it = iter(requests)

        async def agent_loop() -> None:
            nonlocal done
            for request in it:
                if time.perf_counter() >= stop:
                    return
                await bus.request(request, 30)
                done += 1

        cpu_before = _cpu_seconds(worker.pid)
        start = time.perf_counter()
        await asyncio.gather(*(agent_loop() for _ in range(in_flight)))
        elapsed = time.perf_counter() - start
        cpu_after = _cpu_seconds(worker.pid)
        out: dict[str, float] = {"verdicts_per_s": round(done / elapsed)}
        if cpu_before is not None and cpu_after is not None and done:
            out["worker_cpu_us_per_verdict"] = round((cpu_after - cpu_before) / done * 1e6, 1)
            out["worker_cores"] = round((cpu_after - cpu_before) / elapsed, 2)
        return out
    finally:
        await bus.close()
        worker.terminate()
        await asyncio.wait_for(worker.wait(), 30)


def _with_query(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        **crypto_cost(),
    }


def crypto_cost(n: int = 2000) -> dict[str, float]:
    """What one verdict's Ed25519 work costs here: verify the request, sign the verdict."""
    agent = AgentIdentity.create("bench-agent")
    body = SignedMessage.create(agent, "agentos.kernel", action_content(*ACTION)).signed_bytes
    signature = agent.sign(body)
    public = agent.public()
    start = time.perf_counter()
    for _ in range(n):
        agent.sign(body)
    signed = time.perf_counter()
    for _ in range(n):
        public.verify(body, signature)
    verified = time.perf_counter()
    return {
        "ed25519_sign_us": round((signed - start) / n * 1e6, 1),
        "ed25519_verify_us": round((verified - signed) / n * 1e6, 1),
    }


async def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    n = max(10, int(ROUNDS[name] * args.scale))
    gov, size = await governed(url, n)
    result: dict[str, Any] = {"url": url, "rounds": n, "payload_bytes": size}
    result["governed_p50_us"] = _summary(gov)["p50_us"]
    result["governed_p99_us"] = _summary(gov)["p99_us"]
    # Where the governed time goes: a second pass with stopwatches on Ed25519 and the policy.
    spent: dict[str, list[float]] = {}
    await governed(url, max(10, n // 2), spent)
    for key, per_round in spent.items():
        result[f"{key}_in_round_trip_us"] = round(statistics.median(per_round) * 1e6, 1)
    payload = os.urandom(size)
    for i, (path, fn) in enumerate(RAW.get(name, [])):
        raw = await fn(url, payload, n)
        stats = _summary(raw)
        prefix = "raw" if i == 0 else f"raw_{path}"
        result[f"{prefix}_path"] = path
        result[f"{prefix}_p50_us"] = stats["p50_us"]
        result[f"{prefix}_p99_us"] = stats["p99_us"]
        result[f"ratio_p50{'' if i == 0 else '_vs_' + path}"] = round(
            result["governed_p50_us"] / stats["p50_us"], 2
        )
        if i == 0:
            # The ratio if nothing but the raw trip and Ed25519 took any time.
            crypto = result["ed25519_in_round_trip_us"]
            result["ratio_p50_crypto_floor"] = round(1 + crypto / stats["p50_us"], 2)
    if not args.no_throughput and name != "memory":
        secs = args.seconds if name in ("nats", "redis", "memory") else args.seconds / 2
        result.update(await throughput(url, secs, args.in_flight))
        if name == "nats":  # the floor: a do-nothing responder on the same path, same load
            floor = await _raw.nats_jetstream_load(url, payload, secs, args.in_flight, _cpu_seconds)
            result.update(floor)
    if name == "nats":
        # The fast path: workers as a core queue group (no JetStream, no crash survival),
        # against core request/reply. The durable path's stream would still keep the
        # subject's messages, so it goes first.
        await _raw.nats_drop_stream_of(url, ACTION_SUBJECT)
        fast = _with_query(url, f"core_prefixes={ACTION_SUBJECT}")
        gov_fast, _ = await governed(fast, n)
        result["governed_fast_p50_us"] = _summary(gov_fast)["p50_us"]
        result["governed_fast_p99_us"] = _summary(gov_fast)["p99_us"]
        result["ratio_p50_fast_vs_core"] = round(
            result["governed_fast_p50_us"] / result["raw_core_p50_us"], 2
        )
        if not args.no_throughput:
            fast_load = await throughput(fast, secs, args.in_flight)
            result["fast_verdicts_per_s"] = fast_load["verdicts_per_s"]
            if "worker_cpu_us_per_verdict" in fast_load:
                result["fast_worker_cpu_us_per_verdict"] = fast_load["worker_cpu_us_per_verdict"]
                result["fast_worker_cores"] = fast_load["worker_cores"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="memory,nats,redis,kafka,sqs")
    parser.add_argument("--url", action="append", default=[], help="BACKEND=URL (no server)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply round counts")
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput window")
    parser.add_argument("--in-flight", type=int, default=128, help="agents in flight")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--backend-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    urls = dict(u.split("=", 1) for u in args.url)
    servers = Servers(Path(tempfile.mkdtemp(prefix="agentos-servers-")))
    report: dict[str, Any] = {"environment": environment()}
    try:
        for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if name == "memory":
                url = "memory://bench"
            else:
                url = urls.get(name) or servers.get(name).url + URL_OPTIONS.get(name, "")
            try:
                report[name] = asyncio.run(
                    asyncio.wait_for(run_backend(name, url, args), args.backend_timeout)
                )
            except TimeoutError:
                report[name] = {"error": f"no result within {args.backend_timeout} s"}
            if not args.json:
                print(f"{name}: {json.dumps(report[name])}", file=sys.stderr, flush=True)
    finally:
        servers.stop_all()
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print_table(report)
    return 0


def _print_table(report: dict[str, Any]) -> None:
    env = report["environment"]
    print(f"Python {env['python']} on {env['platform']}, {env['cpus']} CPUs")
    print(f"Ed25519 here (PyNaCl): sign {env['ed25519_sign_us']} µs, "
          f"verify {env['ed25519_verify_us']} µs\n")  # fmt: skip
    cols = (
        "backend",
        "raw path",
        "raw p50",
        "raw p99",
        "gov p50",
        "gov p99",
        "ratio",
        "verdicts/s",
        "worker cpu/verdict",
        "worker cores",
    )
    rows = [cols]
    for name, r in report.items():
        if name == "environment":
            continue
        if "error" in r:
            rows.append((name, r["error"], *[""] * (len(cols) - 2)))
            continue
        rows.append((
            name, r.get("raw_path", "-"), _f(r.get("raw_p50_us")), _f(r.get("raw_p99_us")),
            _f(r["governed_p50_us"]), _f(r["governed_p99_us"]),
            f"{r['ratio_p50']:.2f}x" if "ratio_p50" in r else "-",
            str(r.get("verdicts_per_s", "-")), _f(r.get("worker_cpu_us_per_verdict")),
            str(r.get("worker_cores", "-")),
        ))  # fmt: skip
        if "raw_core_p50_us" in r and "governed_fast_p50_us" in r:
            rows.append(("", "core", _f(r["raw_core_p50_us"]), _f(r["raw_core_p99_us"]),
                         _f(r["governed_fast_p50_us"]), _f(r["governed_fast_p99_us"]),
                         f"{r['ratio_p50_fast_vs_core']:.2f}x",
                         str(r.get("fast_verdicts_per_s", "-")),
                         _f(r.get("fast_worker_cpu_us_per_verdict")),
                         str(r.get("fast_worker_cores", "-"))))  # fmt: skip
        if "raw_msgs_per_s" in r:
            floor = (str(r["raw_msgs_per_s"]), _f(r.get("raw_cpu_us_per_msg")))
            rows.append(("", "raw echo", "", "", "", "", "", *floor, str(r.get("raw_cores", "-"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(cols))]
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print("\nTimes in µs; ratio = governed p50 / raw p50 on the same server in this run.")
    print("worker cores near 1.0: the worker was CPU-bound; 1e6 / cpu per verdict is its rate")
    print("on a core of its own (here it shares 2 CPUs with this load generator and the broker).")
    print("raw echo: the same load on a raw client responder doing no work (the library's floor).")
    print("nats core row: workers as a core queue group (core_prefixes), vs core request/reply.")
    print("\nInside one governed round trip (median of a second pass with stopwatches on):")
    for name, r in report.items():
        if name == "environment" or "ed25519_in_round_trip_us" not in r:
            continue
        line = (f"  {name}: Ed25519 (2 signs, 2 verifies) {_f(r['ed25519_in_round_trip_us'])} µs, "
                f"policy {_f(r['policy_in_round_trip_us'])} µs")  # fmt: skip
        if "ratio_p50_crypto_floor" in r:
            line += f"; raw + Ed25519 alone would be {r['ratio_p50_crypto_floor']:.2f}x"
        print(line)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


if __name__ == "__main__":
    sys.exit(main())
