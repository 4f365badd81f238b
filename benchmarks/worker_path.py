"""Benchmark: one kernel worker's own cost per verdict, with no broker in the way.

The worker subscribes to an in-process stand-in bus that keeps the handler
and drops what is published; the benchmark feeds that handler pre-signed
requests (unique nonces, one registered agent, the strict policy) and times
it. A verdict therefore costs exactly what the worker does between a
delivery and its reply: parse and verify the signed request, the replay
check, the policy, the signed verdict, the audit event (built by the audit
publisher after each batch, inside the timing). Times are the process's CPU
time per verdict, so waiting for the publisher costs nothing.

The Ed25519 verify and sign of the same run are printed next to it: the rest
is our own Python, the part a broker-bound worker can still shed (see the
README's benchmark section for the 5,000 verdicts/s arithmetic).

On a machine whose speed drifts, compare commits by instructions instead:
``valgrind --tool=callgrind python benchmarks/worker_path.py --batches 2``
counts the same work the same way every time.

Usage::

    python benchmarks/worker_path.py            # human-readable
    python benchmarks/worker_path.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).parent))

from bus_roundtrip import ACTION, crypto_cost

from agent_os.bus import Bus, Delivery, Envelope, SubscribeOptions
from agent_os.bus._delivery import FanoutDelivery  # attempt 1, settling is a no-op
from agent_os.kernel_worker import Worker, action_content, action_request, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry

#: The stand-in bus's one reply address, signed into every request as a client does.
REPLY = "_INBOX.bench.1"


class _StandInBus:
    """Keeps the worker's handler; publishing goes nowhere."""

    url = "stand-in://"
    max_payload = 1 << 20

    def __init__(self) -> None:
        self.handler: Callable[[Delivery], Awaitable[None]] | None = None

    async def publish(self, envelope: Envelope) -> None:
        return None

    async def reply_address(self, envelope: Envelope) -> str:
        return REPLY

    def is_reply_address(self, address: str) -> bool:
        return address.startswith("_INBOX.") and len(address) > len("_INBOX.")

    async def subscribe(
        self,
        subject: str,
        handler: Callable[[Delivery], Awaitable[None]],
        *,
        group: str | None = None,
        options: SubscribeOptions | None = None,
    ) -> _StandInBus:
        if group is not None:
            self.handler = handler
        return self

    async def unsubscribe(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def measure(batches: int, per_batch: int) -> dict[str, Any]:
    kernel = AgentIdentity.create("bench-kernel")
    agent = AgentIdentity.create("bench-agent")
    registry = TrustRegistry()
    registry.register(agent.public())
    bus = _StandInBus()
    as_bus = cast(Bus, bus)  # the few methods a worker and action_request call
    worker = Worker(
        as_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy("strict"),
        control_subject=None,
    )
    await worker.start()
    assert bus.handler is not None
    handle = bus.handler
    content = action_content(*ACTION)

    async def requests(n: int) -> list[FanoutDelivery]:
        return [
            FanoutDelivery(await action_request(as_bus, agent, content, timeout=600))
            for _ in range(n)
        ]

    for delivery in await requests(200):  # warm-up
        await handle(delivery)
    per_verdict: list[float] = []
    for _ in range(batches):
        batch = await requests(per_batch)
        gc.collect()
        start = time.process_time()  # CPU time: the wait below costs nothing
        for delivery in batch:
            await handle(delivery)
        await asyncio.sleep(0.05)  # the audit publisher builds this batch's events
        per_verdict.append((time.process_time() - start) / per_batch * 1e6)
    answered = worker.verdicts
    await worker.shutdown()
    if worker.unbound_requests or worker.redirected_replies or worker.bad_reply_addresses:
        raise RuntimeError("the benchmark's requests were not answered as a client's are")
    return {"per_verdict_us": per_verdict, "verdicts": answered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--per-batch", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    before = crypto_cost()  # before and after: this machine's speed drifts
    result = asyncio.run(measure(args.batches, args.per_batch))
    after = crypto_cost()
    crypto = {k: round((before[k] + after[k]) / 2, 1) for k in before}
    samples = result["per_verdict_us"]
    p50 = statistics.median(samples)
    ed25519 = crypto["ed25519_sign_us"] + crypto["ed25519_verify_us"]
    report = {
        "python": platform.python_version(),
        "worker_path_p50_us": round(p50, 1),
        "worker_path_min_us": round(min(samples), 1),
        "ed25519_verify_plus_sign_us": round(ed25519, 1),
        "ours_p50_us": round(p50 - ed25519, 1),
        "verdicts": result["verdicts"],
        **crypto,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"Python {report['python']}; {args.batches} batches of {args.per_batch} verdicts")
    print(f"worker path per verdict: p50 {p50:.1f} µs (best batch {min(samples):.1f} µs)")
    print(f"  of which Ed25519 verify + sign, same run: {ed25519:.1f} µs")
    print(f"  our own Python: {p50 - ed25519:.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
