"""A kernel worker whose reviews take a while: for the SIGTERM drain test.

Run as ``python slow_worker.py BUS_URL KEY_FILE REGISTRY_FILE DELAY``. Every
``file_read`` goes to SIGSTOP review; the approver prints ``held <id>`` and
approves after DELAY seconds. The worker runs with the CLI's signal handling
(``run(install_signal_handlers=True)``), prints ``ready`` once consuming,
``stopped`` after a clean shutdown, and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from agent_os.bus import connect
from agent_os.kernel_worker import ReviewOutcome, ReviewRequest, Worker, load_policy
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry

HOLD_POLICY = {"name": "hold", "blocked_actions": [{"action": "file_read", "signal": "SIGSTOP"}]}


class SlowApprover:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        print(f"held {request.request_id}", flush=True)
        await asyncio.sleep(self.delay)
        return ReviewOutcome.APPROVED


async def main(url: str, key: Path, registry: Path, delay: float) -> None:
    bus = await connect(url)
    try:
        worker = Worker(
            bus,
            identity=AgentIdentity.load(key),
            registry=TrustRegistry(FileTrustStore(registry)),
            policies=load_policy(HOLD_POLICY),
            approver=SlowApprover(delay),
        )
        await worker.start()
        print("ready", flush=True)
        await worker.run(install_signal_handlers=True)
    finally:
        await bus.close()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4])))
