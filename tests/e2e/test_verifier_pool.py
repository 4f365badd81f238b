"""The CMVK worker pool over real NATS and Redis servers.

Two in-process workers are competing consumers of ``agentos.v1.cmvk``; the
models are three loopback servers, one per vendor dialect. The CLI worker
(``agent-os verifier``) is run as a process once per backend. A request
whose ack is lost after the answer is redelivered by the broker and answered
from the recorded result, without asking the models again; so is one whose
worker is killed (SIGKILL) between its answer and its ack, by another worker
that shares the Redis cache.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pool_support import PROMPT, SCRIPTS, Unsettled, pool_keys

from agent_os.bus import Bus, Delivery, connect
from agent_os.review import SqliteReviewStore
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from agent_os.verifier import (
    CallSettings,
    ConsensusVerifier,
    LexicalJudge,
    RedisResultCache,
    RemoteError,
    RemoteVerifier,
    VerifierWorker,
)
from tests.eventually import eventually
from tests.http_get import http_get
from tests.servers import Servers
from tests.unit.verifier.vendor_server import Held, three, vendor_server


@dataclass
class Pool:
    url: str
    client_bus: Bus
    agent: AgentIdentity
    verifier_key: AgentIdentity
    workers: list[VerifierWorker]
    models: list[str]


@pytest.fixture(params=["nats", "redis"])
def backend_url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.get(str(request.param)).url


@pytest.fixture
def models() -> Iterator[list[str]]:
    with vendor_server(SCRIPTS) as server:
        yield three(server)


@pytest.fixture
async def pool(backend_url: str, models: list[str]) -> AsyncIterator[Pool]:
    agent, key, registry = pool_keys("cmvk", ("cmvk",))
    buses = [await connect(backend_url) for _ in range(3)]
    workers = [
        VerifierWorker(bus, key, registry, judge=LexicalJudge(),
                       settings=CallSettings(timeout=10, retries=0))
        for bus in buses[1:]
    ]  # fmt: skip
    for w in workers:
        await w.start()
    try:
        yield Pool(backend_url, buses[0], agent, key, workers, models)
    finally:
        for w in workers:
            await w.shutdown()
        for bus in buses:
            await bus.close()


async def test_seed_spelling_runs_on_the_pool(pool: Pool) -> None:
    verifier = ConsensusVerifier(
        models=pool.models, bus=pool.client_bus, identity=pool.agent,
        verifier_keys=[pool.verifier_key.public()], timeout=20,
    )  # fmt: skip
    result = await verifier.verify_consensus(PROMPT, threshold=0.8)
    assert result.flagged
    assert result.dissenting_models == ("gemini:gemini-local",)
    assert result.majority_answer == "It was completed in 1889."


async def test_workers_compete_each_request_verified_once(pool: Pool) -> None:
    verifier = ConsensusVerifier(
        models=pool.models, bus=pool.client_bus, identity=pool.agent,
        verifier_keys=[pool.verifier_key.public()], timeout=20,
    )  # fmt: skip
    results = await asyncio.gather(
        *(verifier.verify_consensus(f"{PROMPT} #{i}") for i in range(12))
    )
    assert [r.dissenting_models for r in results] == [("gemini:gemini-local",)] * 12
    assert sum(w.verifications for w in pool.workers) == 12


async def test_result_from_an_unpinned_key_is_not_accepted(pool: Pool) -> None:
    other = AgentIdentity.create("other-verifier", "other", [])
    verifier = ConsensusVerifier(
        models=pool.models, bus=pool.client_bus, identity=pool.agent,
        verifier_keys=[other.public()], timeout=1.5,
    )  # fmt: skip
    with pytest.raises(RemoteError) as info:
        await verifier.verify_consensus(PROMPT)
    assert info.value.code == "timeout"


async def test_unregistered_client_gets_a_signed_refusal(pool: Pool) -> None:
    stranger = AgentIdentity.create("stranger", "stranger", [])
    verifier = ConsensusVerifier(
        models=pool.models, bus=pool.client_bus, identity=stranger,
        verifier_keys=[pool.verifier_key.public()], timeout=20,
    )  # fmt: skip
    with pytest.raises(RemoteError) as info:
        await verifier.verify_consensus(PROMPT)
    assert info.value.code == "unknown_agent"


def _files(tmp_path: Path, name: str) -> tuple[AgentIdentity, AgentIdentity, Path]:
    """``(client, verifier key, registry file)`` for an ``agent-os verifier`` process: the key
    saved to ``verifier.key``, the client registered in ``registry.json``."""
    agent = AgentIdentity.create(f"{name}-client", "client", [])
    key = AgentIdentity.create(f"{name}-verifier", "verifier", [])
    key.save(tmp_path / "verifier.key")
    registry_file = tmp_path / "registry.json"
    TrustRegistry(FileTrustStore(registry_file)).register(agent.public(), TrustLevel.STANDARD)
    return agent, key, registry_file


async def test_cli_worker(
    backend_url: str, models: list[str], tmp_path: Path, servers: Servers
) -> None:
    agent, key, _ = _files(tmp_path, "cmvk-cli")
    env = {**os.environ, "AGENT_OS_NONCE_URL": "local"}
    proc = subprocess.Popen(  # noqa: ASYNC220 (started once; its output read line by line)
        [str(Path(sys.executable).parent / "agent-os"), "verifier", "--bus", backend_url,
         "--key", str(tmp_path / "verifier.key"), "--registry", str(tmp_path / "registry.json"),
         "--cache", servers.get("redis").url, "--review-on-disagreement",
         "--review-store", str(tmp_path / "review.db"), "--metrics-port", "0"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        port = 0
        for line in proc.stderr:
            if "health and metrics on http://" in line:
                port = int(line.rsplit(":", 1)[1])
            if "consuming agentos.v1.cmvk" in line:
                break
        else:
            pytest.fail(f"verifier exited with {proc.wait()}")
        bus = await connect(backend_url)
        try:
            verifier = ConsensusVerifier(
                models=models, bus=bus, identity=agent, verifier_keys=[key.public()], timeout=20
            )
            # A question of this run's own: the shared cache may hold earlier runs' entries.
            prompt = f"{PROMPT} ({uuid.uuid4().hex[:8]})"
            result = await verifier.verify_consensus(prompt, threshold=0.8)
            again = await verifier.verify_consensus(prompt, threshold=0.8)
        finally:
            await bus.close()
        assert result.flagged and result.dissenting_models == ("gemini:gemini-local",)
        # The disagreement is held for review; asked again, the pool's cache answers, and
        # the second request's disagreement is an item of its own.
        assert result.review_ticket is not None and not result.cached
        assert again.cached and again.review_ticket not in (None, result.review_ticket)
        with SqliteReviewStore(tmp_path / "review.db") as store:
            items = [store.get(result.review_ticket), store.get(again.review_ticket)]
        for item in items:
            assert item is not None and item.agent_id == agent.agent_id
            assert item.args["dissenting_models"] == ["gemini:gemini-local"]
        status, metrics = await http_get(port, "/metrics")
        assert status == 200
        for series in (
            'agent_os_cmvk_verifications_total{outcome="flagged"} 1.0',
            "agent_os_cmvk_reviews_total 1.0",
            "agent_os_cmvk_cache_hits_total 1.0",
            "agent_os_cmvk_cache_refused_total 0.0",
        ):
            assert series in metrics
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=15)  # drains and closes stderr
        assert proc.returncode == 0, rest


class _AckLost:
    """A delivery whose ack never reaches the broker (the worker died after replying)."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    def __getattr__(self, name: str) -> Any:
        return getattr(self._delivery, name)

    async def ack(self) -> None:
        await self._delivery.nack("ack_lost")


class LosesItsFirstAck(VerifierWorker):
    """Answers every request; the ack of its first one is lost, so the broker redelivers it."""

    lost = False

    async def _handle(self, delivery: Delivery) -> None:
        if not self.lost:
            self.lost = True
            await super()._handle(_AckLost(delivery))  # type: ignore[arg-type]
            return
        await super()._handle(delivery)


@pytest.mark.parametrize("shared", [True, False], ids=["redis-cache", "in-memory"])
async def test_a_redelivered_request_does_not_ask_the_models_again(
    backend_url: str, servers: Servers, shared: bool
) -> None:
    agent, key, registry = pool_keys("cmvk-redelivery")
    redis_url = servers.get("redis").url
    prefix = f"test:cmvk:{uuid.uuid4().hex}:"
    caches = [RedisResultCache(redis_url, key, prefix=prefix) for _ in range(2)] if shared else []
    buses = [await connect(backend_url) for _ in range(3 if shared else 2)]
    settings = CallSettings(timeout=10, retries=0)
    # With a shared cache, two workers: the redelivery may reach either one.
    # Without one, a single worker: the record is in its memory.
    workers = [LosesItsFirstAck(buses[1], key, registry, judge=LexicalJudge(), settings=settings,
                                cache=caches[0] if shared else None)]  # fmt: skip
    if shared:
        workers.append(VerifierWorker(buses[2], key, registry, judge=LexicalJudge(),
                                      settings=settings, cache=caches[1]))  # fmt: skip
    with vendor_server(SCRIPTS) as server:
        for w in workers:
            await w.start()
        try:
            verifier = ConsensusVerifier(
                models=three(server), bus=buses[0], identity=agent,
                verifier_keys=[key.public()], timeout=20,
            )  # fmt: skip
            result = await verifier.verify_consensus(PROMPT, threshold=0.8)
            await eventually(
                lambda: sum(w.from_cache for w in workers) == 1, 20, "the redelivery answered"
            )
        finally:
            for w in workers:
                await w.shutdown()
            for bus in buses:
                await bus.close()
            for cache in caches:
                await cache.aclose()
    assert result.dissenting_models == ("gemini:gemini-local",)
    assert sum(w.verifications for w in workers) == 1
    assert [server.calls(m) for m in SCRIPTS] == [1, 1, 1]


async def test_a_request_answered_by_a_worker_killed_before_its_ack(
    backend_url: str, servers: Servers, tmp_path: Path
) -> None:
    from cmvk_crash_worker import OPTIONS, SETTINGS
    from e2e_support import read_lines

    from agent_os.kernel_worker._startup import plan_nonce_store

    agent, key, registry_file = _files(tmp_path, "cmvk-crash")
    redis_url = servers.get("redis").url
    subject = f"agentos.v1.cmvk-crash-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with vendor_server(SCRIPTS) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).parent / "cmvk_crash_worker.py"), backend_url,
            str(tmp_path / "verifier.key"), str(registry_file), redis_url, subject,
            stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        buses: list[Bus] = []
        survivor: VerifierWorker | None = None
        cache = RedisResultCache(redis_url, key)
        shared = plan_nonce_store(backend_url)
        try:
            await asyncio.wait_for(read_lines(proc, "ready", 1), 60)
            buses = [await connect(backend_url), await connect(backend_url)]
            client = RemoteVerifier(buses[0], agent, [key.public()], timeout=20, subject=subject)
            result = await client.verify(PROMPT, three(server), 0.8, 2)
            await asyncio.wait_for(read_lines(proc, "answered", 1), 20)
            proc.kill()
            await proc.wait()
            # Only now a second worker: the request can reach it only as a redelivery.
            survivor = VerifierWorker(
                buses[1], key, TrustRegistry(FileTrustStore(registry_file)),
                judge=LexicalJudge(), settings=SETTINGS, nonces=shared.store,
                options=OPTIONS, subject=subject, cache=cache,
            )  # fmt: skip
            await survivor.start()
            await eventually(lambda: survivor.from_cache == 1, 30, "the redelivery answered")
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if survivor is not None:
                await survivor.shutdown()
            for bus in buses:
                await bus.close()
            await cache.aclose()
            close = getattr(shared.store, "close", None)
            if close is not None:
                await close()
    assert result.dissenting_models == ("gemini:gemini-local",)
    assert survivor.verifications == 0
    assert [server.calls(m) for m in SCRIPTS] == [1, 1, 1]


class LosesItsFirstLease(VerifierWorker):
    """Its first delivery's lease is lost while the request is verified: the broker
    redelivers it to this worker at once, while the first copy still waits for the models."""

    lost = False

    async def _handle(self, delivery: Delivery) -> None:
        if self.lost:
            await super()._handle(delivery)
            return
        self.lost = True
        first = asyncio.create_task(super()._handle(Unsettled(delivery)))  # type: ignore[arg-type]
        await delivery.nack("lease_lost")
        await first


HELD = {model: [Held(answer)] for model, (answer,) in SCRIPTS.items()}


async def _one_worker(
    backend_url: str, worker_type: type[VerifierWorker] = VerifierWorker
) -> tuple[AgentIdentity, AgentIdentity, VerifierWorker, list[Bus]]:
    agent, key, registry = pool_keys("cmvk-dup")
    buses = [await connect(backend_url), await connect(backend_url)]
    worker = worker_type(buses[1], key, registry, judge=LexicalJudge(),
                         settings=CallSettings(timeout=20, retries=0))  # fmt: skip
    await worker.start()
    return agent, key, worker, buses


@pytest.mark.parametrize("same", ["request", "question"])
async def test_duplicates_handled_at_once_ask_the_models_once(backend_url: str, same: str) -> None:
    """A redelivery of a request still being verified (a lost lease), or another request
    with the same question, waits for the verification under way instead of asking again."""
    kind = LosesItsFirstLease if same == "request" else VerifierWorker
    agent, key, worker, buses = await _one_worker(backend_url, kind)
    asks = 1 if same == "request" else 2
    pending: list[asyncio.Future[Any]] = []
    with vendor_server(HELD) as server:
        try:
            verifier = ConsensusVerifier(
                models=three(server), bus=buses[0], identity=agent,
                verifier_keys=[key.public()], timeout=30,
            )  # fmt: skip
            pending = [asyncio.ensure_future(verifier.verify_consensus(PROMPT))
                       for _ in range(asks)]  # fmt: skip
            # The models answer only once the second delivery waits for the first's result.
            await eventually(lambda: worker.joined == 1, 20, "the duplicate joins the first")
            server.release.set()
            results = await asyncio.gather(*pending)
        finally:
            server.release.set()
            for ask in pending:
                ask.cancel()
            await worker.shutdown()
            for bus in buses:
                await bus.close()
    assert [r.dissenting_models for r in results] == [("gemini:gemini-local",)] * asks
    assert [server.calls(m) for m in SCRIPTS] == [1, 1, 1]
    assert (worker.verifications, worker.from_cache) == (1, 0)
    if same == "question":
        assert sorted(r.cached for r in results) == [False, True]
