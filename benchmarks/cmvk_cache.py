"""Benchmark: what the CMVK result cache costs a verifier worker, in process and in Redis.

1. Pool throughput: one ``VerifierWorker`` on a real NATS server (started
   here on a free port, as the tests do), three models that answer at once,
   a client in the same process keeping 64 signed requests in flight, every
   prompt new (each lookup misses, each result is kept under its question and
   its request). The worker's cache is its own memory (the default) or a
   Redis server (started here too), the two alternating round by round.
   Verifications per second, and CPU per verification of the whole process
   (client and worker: the figure that carries across machines).
2. The Redis cache's own cost per call, one client, one call at a time: a put
   (sign, one script) and a get (one MGET, verify).

Usage::

    python benchmarks/cmvk_cache.py [--verifications 2000] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_os.bus import connect  # noqa: E402
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry  # noqa: E402
from agent_os.verifier import (  # noqa: E402
    Cache,
    ConsensusResult,
    ConsensusVerifier,
    DefaultJudge,
    ModelResult,
    RedisResultCache,
    VerifierWorker,
)
from tests.servers import nats as nats_server  # noqa: E402
from tests.servers import redis as redis_server  # noqa: E402
from tests.unit.verifier.vendor_server import Instant  # noqa: E402

MODELS = {
    "instant:a": Instant("instant:a", "It was completed in 1889."),
    "instant:b": Instant("instant:b", "1889"),
    "instant:c": Instant("instant:c", "1925"),
}


async def pool_round(nats_url: str, cache: Cache | None, total: int) -> tuple[float, float]:
    """Verifications per second and µs of CPU per verification, one round."""
    agent = AgentIdentity.create("bench-client", "client", [])
    key = AgentIdentity.create("bench-verifier", "verifier", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    worker_bus, client_bus = await connect(nats_url), await connect(nats_url)
    worker = VerifierWorker(
        worker_bus, key, registry, judge=DefaultJudge.offline(), providers=MODELS, cache=cache
    )
    await worker.start()
    verifier = ConsensusVerifier(
        models=list(MODELS), bus=client_bus, identity=agent,
        verifier_keys=[key.public()], timeout=60,
    )  # fmt: skip
    limit = asyncio.Semaphore(64)
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        async with limit:
            result = await verifier.verify_consensus(f"Eiffel Tower year? {run} #{i}")
            assert result.dissenting_models == ("instant:c",) and not result.cached

    await asyncio.gather(*(one(i) for i in range(200)))  # warm up
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(200, 200 + total)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert worker.verifications == 200 + total
    await worker.shutdown()
    await worker_bus.close()
    await client_bus.close()
    return total / elapsed, cpu / total * 1e6


def _result() -> ConsensusResult:
    answers = tuple(ModelResult(m, "It was completed in 1889.", 0.1, 11, 3) for m in MODELS)
    return ConsensusResult(
        "flagged", 2 / 3, 0.8, 2, "1889", ("a", "b"), ("c",), (), 0.64, (("a", "b"), ("c",)),
        answers,
    )  # fmt: skip


async def redis_calls(redis_url: str, n: int) -> dict[str, float]:
    """µs per put and per get of the Redis cache, one call at a time."""
    cache = RedisResultCache(
        redis_url, AgentIdentity.create("b", "b", []), prefix=f"bench:{uuid.uuid4().hex}:"
    )
    result = _result()
    started = time.perf_counter()
    for i in range(n):
        await cache.put([f"r{i}", f"q{i}"], result)
    put = (time.perf_counter() - started) / n * 1e6
    started = time.perf_counter()
    for i in range(n):
        assert await cache.get(f"r{i}", f"q{i}") is not None
    get = (time.perf_counter() - started) / n * 1e6
    await cache.aclose()
    return {"put_us": put, "get_us": get}


async def measure(total: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    runs: dict[str, list[tuple[float, float]]] = {"memory": [], "redis": []}
    with tempfile.TemporaryDirectory() as tmp:
        nats, redis = nats_server.start(Path(tmp)), redis_server.start(Path(tmp))
        try:
            for _ in range(rounds):
                runs["memory"].append(await pool_round(nats.url, None, total))
                key = AgentIdentity.create("bench-verifier", "verifier", [])
                shared = RedisResultCache(redis.url, key, prefix=f"bench:{uuid.uuid4().hex}:")
                runs["redis"].append(await pool_round(nats.url, shared, total))
                await shared.aclose()
            calls = [await redis_calls(redis.url, 1000) for _ in range(rounds)]
        finally:
            nats.stop()
            redis.stop()
    for name, found in runs.items():
        out[name] = {
            "per_second": [round(r[0]) for r in found],
            "cpu_us_per_verification": [round(r[1]) for r in found],
        }
    out["redis_calls"] = {
        key: round(statistics.median(c[key] for c in calls)) for key in ("put_us", "get_us")
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verifications", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = asyncio.run(measure(args.verifications, args.rounds))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"python {out['python']} on {out['machine']}")
    for name in ("memory", "redis"):
        r = out[name]
        print(
            f"pool over NATS, cache in {name}: {r['per_second']} verifications/s, "
            f"{r['cpu_us_per_verification']} us CPU per verification (client + worker)"
        )
    c = out["redis_calls"]
    print(f"redis cache, one call at a time: put {c['put_us']} us, get {c['get_us']} us (p50)")


if __name__ == "__main__":
    main()
