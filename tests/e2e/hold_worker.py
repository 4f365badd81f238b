"""A kernel worker that takes requests and never answers them (until killed).

Run as ``python hold_worker.py BUS_URL KEY_FILE REGISTRY_FILE ACK_WAIT``
(``ACK_WAIT`` ``default`` keeps the bus's default subscribe options; a fifth
argument ``shared`` records nonces in the bus's shared store, as
``agent-os worker`` does).
Every request goes to human review with an approver that never decides, so
the worker holds each delivery unacknowledged; it prints ``held <id>`` for
each one. The crash tests kill it with SIGKILL and expect another worker to
answer everything it held.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent_os.bus import SubscribeOptions, connect
from agent_os.kernel_worker import (
    ReviewOutcome,
    ReviewRequest,
    Worker,
    load_policy,
)
from agent_os.kernel_worker._startup import plan_nonce_store
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry

HOLD_POLICY = {"name": "hold", "blocked_actions": [{"action": "file_read", "signal": "SIGSTOP"}]}


class NeverDecides:
    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        print(f"held {request.request_id}", flush=True)
        await asyncio.Event().wait()
        return ReviewOutcome.TIMEOUT  # pragma: no cover - never reached


async def main(url: str, key: Path, registry: Path, ack_wait: str, nonces: str) -> None:
    bus = await connect(url)
    worker = Worker(
        bus,
        identity=AgentIdentity.load(key),
        registry=TrustRegistry(FileTrustStore(registry)),
        policies=load_policy(HOLD_POLICY),
        options=None if ack_wait == "default" else SubscribeOptions(ack_wait=float(ack_wait)),
        nonces=plan_nonce_store(url).store if nonces == "shared" else None,
        approver=NeverDecides(),
    )
    await worker.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    shared = sys.argv[5] if len(sys.argv) > 5 else ""
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], shared))
