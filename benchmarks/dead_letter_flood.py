"""Broker memory after a garbage flood: dead letters stay bounded.

    python benchmarks/dead_letter_flood.py                        # nats, redis, kafka, sqs
    python benchmarks/dead_letter_flood.py --backends nats,redis --messages 10000 --json

Per backend: start the server the tests use (fresh, on a free port), run one
kernel worker with default settings on the action subject, publish
``--messages`` bodies that are not signed requests (random bytes of
``--size``; every ``--large-every``-th one ``--large`` bytes), wait until the
worker has dead-lettered every one, then read the broker's memory: the
server process's resident set (VmRSS) before and after, and where the broker
says it, its own figure (Redis ``used_memory``; the NATS dead-letter stream's
bytes). A dead letter keeps at most ``DEAD_LETTER_BODY`` bytes of the body
plus a hash, so the dead-letter destination grows by about 1.5 KB per message
whatever the flood's size; the work stream itself is trimmed as it is acked
(Kafka on Tansu keeps its topics in memory: that figure includes the flood
itself).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent_os.bus import Bus, Envelope, connect  # noqa: E402
from agent_os.bus._dead_letter import DEAD_LETTER_BODY  # noqa: E402
from agent_os.kernel_worker import ACTION_SUBJECT, Worker, load_policy  # noqa: E402
from agent_os.trust import AgentIdentity, TrustRegistry  # noqa: E402
from tests.servers import Servers  # noqa: E402

URL_OPTIONS = {
    "kafka": "?session_timeout_ms=2000&heartbeat_interval_ms=300",
    "sqs": "&wait_time=1",
}


def rss_mb(pid: int) -> float:
    """Resident set of process ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def broker_figure(name: str, url: str, bus: Bus) -> dict[str, float]:
    """What the broker itself reports about its memory / dead-letter store."""
    if name == "redis":
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(url.split("?")[0])
        try:
            info = await client.info("memory")
            dlq = await client.xlen(f"agentos:{ACTION_SUBJECT}.dlq")
            return {"used_memory_mb": info["used_memory"] / 2**20, "dead_letters": float(dlq)}
        finally:
            await client.aclose()
    if name == "nats":
        stream = await bus.ensure_stream(f"{ACTION_SUBJECT}.dlq")  # type: ignore[attr-defined]
        info = await bus.js.stream_info(stream)  # type: ignore[attr-defined]
        return {
            "dead_letter_stream_mb": info.state.bytes / 2**20,
            "dead_letters": float(info.state.messages),
        }
    return {}


async def flood(name: str, url: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    worker_bus, sender = await connect(url), await connect(url)
    worker = Worker(
        worker_bus,
        identity=AgentIdentity.create("kernel-flood"),
        registry=TrustRegistry(),
        policies=load_policy("strict"),
        publish_audit=False,
        control_subject=None,
    )
    try:
        await worker.start()
        before = rss_mb(pid)
        started = time.monotonic()
        rng = os.urandom
        # The largest body the backend carries (SQS: 256 KB with its encoding), not more.
        large_size = min(args.large, sender.max_payload - 4096)
        sent = 0
        while sent < args.messages:
            batch = []
            for _ in range(min(100, args.messages - sent)):
                sent += 1
                size = (
                    large_size if args.large_every and sent % args.large_every == 0 else args.size
                )
                batch.append(sender.publish(Envelope(ACTION_SUBJECT, rng(size))))
            await asyncio.gather(*batch)
        while worker.verdicts < args.messages:
            if time.monotonic() - started > args.deadline:
                raise RuntimeError(f"{name}: {worker.verdicts} of {args.messages} handled in time")
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - started
        await asyncio.sleep(args.settle)  # let the broker apply trims and limits
        after = rss_mb(pid)
        figures = await broker_figure(name, url, worker_bus)
    finally:
        await worker.shutdown()
        await sender.close()
        await worker_bus.close()
    large = args.messages // args.large_every if args.large_every else 0
    flood_bytes = args.messages * args.size + large * (large_size - args.size)
    return {
        "backend": name,
        "messages": args.messages,
        "flood_mb": round(flood_bytes / 2**20, 1),
        "seconds": round(elapsed, 1),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        **{k: round(v, 1) for k, v in figures.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="nats,redis,kafka,sqs")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=16 * 1024)
    parser.add_argument("--large", type=int, default=512 * 1024)
    parser.add_argument("--large-every", type=int, default=100)
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before measuring")
    parser.add_argument("--deadline", type=float, default=900.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for name in [b.strip() for b in args.backends.split(",") if b.strip()]:
        servers = Servers(Path(tempfile.mkdtemp(prefix=f"agentos-flood-{name}-")))
        try:
            server = servers.get(name)
            assert server.proc is not None, "the flood needs a server this script started"
            url = server.url + URL_OPTIONS.get(name, "")
            rows.append(asyncio.run(flood(name, url, server.proc.pid, args)))
        finally:
            servers.stop_all()
        if not args.json:
            print(json.dumps(rows[-1]), flush=True)
    env = {"python": platform.python_version(), "machine": platform.machine(),
           "cpus": os.cpu_count(), "dead_letter_body": DEAD_LETTER_BODY}  # fmt: skip
    if args.json:
        print(json.dumps({"environment": env, "results": rows}))
    else:
        print(json.dumps({"environment": env}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
