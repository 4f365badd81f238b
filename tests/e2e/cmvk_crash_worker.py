"""A CMVK worker that dies between its answer and its ack.

Run as ``python cmvk_crash_worker.py BUS_URL KEY_FILE REGISTRY_FILE CACHE_URL SUBJECT``
(a subject of the test's own: a group's consumer settings, ``ack_wait`` among
them, are the first worker's, and this test needs a short one).
It answers each request (the result kept in the shared cache first, as every
worker does), prints ``answered <request id>`` and then holds the delivery
unacknowledged, its lease renewed, until the test kills it with SIGKILL: the
broker then redelivers the request to another worker.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from agent_os.bus import Envelope, SubscribeOptions, connect
from agent_os.kernel_worker._startup import plan_nonce_store
from agent_os.trust import AgentIdentity, FileTrustStore, SignedMessage, TrustRegistry
from agent_os.verifier import CallSettings, LexicalJudge, RedisResultCache, VerifierWorker

#: Shared by this worker and the test's: one consumer's settings for the whole group.
OPTIONS = SubscribeOptions(ack_wait=1.0, concurrency=8)
SETTINGS = CallSettings(timeout=10, retries=0)


class AnswersThenHangs(VerifierWorker):
    async def _reply(
        self, envelope: Envelope, message: SignedMessage, content: dict[str, Any]
    ) -> None:
        await super()._reply(envelope, message, content)
        print(f"answered {message.id}", flush=True)
        await asyncio.Event().wait()


async def main(url: str, key: Path, registry: Path, cache_url: str, subject: str) -> None:
    bus = await connect(url)
    identity = AgentIdentity.load(key)
    worker = AnswersThenHangs(
        bus,
        identity,
        TrustRegistry(FileTrustStore(registry)),
        judge=LexicalJudge(),
        settings=SETTINGS,
        nonces=plan_nonce_store(url).store,
        options=OPTIONS,
        subject=subject,
        cache=RedisResultCache(cache_url, identity),
    )
    await worker.start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:6]))
