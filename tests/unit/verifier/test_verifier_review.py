"""A disagreement opens a review item (SIGSTOP) in the real review store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_os.adapters import QueueReview
from agent_os.bus import connect
from agent_os.policies import Decision, Signal
from agent_os.review import ReviewQueue, SqliteReviewStore, Status
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from agent_os.verifier import (
    ConfigurationError,
    ConsensusVerifier,
    Disagreement,
    LexicalJudge,
    ResultCache,
    ReviewSink,
    VerifierError,
    VerifierWorker,
)
from agent_os.verifier._provider import Answer
from tests.eventually import eventually
from tests.unit.verifier.vendor_server import Hang, Instant, three, vendor_server

PROMPT = "In which year was the Eiffel Tower completed?"
SPLIT = {"gpt-local": ["1889"], "claude-local": ["1889."], "gemini-local": ["1925"]}
AGREE = {"gpt-local": ["1889"], "claude-local": ["1889."], "gemini-local": ["in 1889"]}


async def verified(scripts: dict[str, list[Any]], sink: ReviewSink, **options: Any) -> Any:
    """``PROMPT`` verified by the three loopback models answering ``scripts``."""
    with vendor_server(scripts) as server:
        verifier = ConsensusVerifier(
            models=three(server), judge=LexicalJudge(), review_on_disagreement=sink, **options
        )
        async with verifier:
            return await verifier.verify_consensus(PROMPT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteReviewStore]:
    with SqliteReviewStore(tmp_path / "review.db") as opened:
        yield opened


@pytest.fixture
def sink(store: SqliteReviewStore) -> QueueReview:
    return QueueReview(ReviewQueue(store, registry=TrustRegistry()))


async def test_a_disagreement_opens_a_review_item(
    store: SqliteReviewStore, sink: QueueReview
) -> None:
    assert isinstance(sink, ReviewSink)
    agent = AgentIdentity.create("review-asker", "asker", [])
    result = await verified(SPLIT, sink, identity=agent)
    assert result.outcome == "flagged" and result.pending_review
    assert result.review_ticket is not None
    item = store.get(result.review_ticket)
    assert item is not None
    assert (item.status, item.action, item.agent_id) == (Status.PENDING, "cmvk_disagreement",
                                                         agent.agent_id)  # fmt: skip
    assert (item.verdict.decision, item.verdict.signal) == (Decision.REVIEW, Signal.SIGSTOP)
    assert item.rule == "cmvk:disagreement"
    assert "gemini:gemini-local" in item.reason
    assert item.args["prompt"] == PROMPT
    assert item.args["answers"] == {
        "openai:gpt-local": "1889",
        "anthropic:claude-local": "1889.",
        "gemini:gemini-local": "1925",
    }
    assert item.args["clusters"] == [
        ["openai:gpt-local", "anthropic:claude-local"],
        ["gemini:gemini-local"],
    ]
    assert item.args["dissenting_models"] == ["gemini:gemini-local"]
    assert item.args["majority_answer"] == "1889"


async def test_metrics_count_the_reviews_opened(sink: QueueReview) -> None:
    from prometheus_client import CollectorRegistry

    from agent_os.verifier import Metrics

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for scripts in (SPLIT, AGREE):
        await verified(scripts, sink, metrics=metrics)
    value = registry.get_sample_value
    assert value("agent_os_cmvk_reviews_total") == 1.0
    assert value("agent_os_cmvk_verifications_total", {"outcome": "agreed"}) == 1.0


async def test_agreement_and_too_few_answers_open_nothing(
    store: SqliteReviewStore, sink: QueueReview
) -> None:
    from agent_os.verifier import CallSettings

    settings = CallSettings(timeout=0.3, retries=0)
    few = {"gpt-local": ["1889"], "claude-local": [Hang()], "gemini-local": [Hang()]}
    for scripts in (AGREE, few):
        result = await verified(scripts, sink, settings=settings)
        assert result.outcome in ("agreed", "inconclusive")
        assert not result.pending_review
    assert store.pending() == []


async def test_the_same_request_opens_one_item(store: SqliteReviewStore, sink: QueueReview) -> None:
    with vendor_server(SPLIT) as server:
        async with ConsensusVerifier(models=three(server), judge=LexicalJudge()) as verifier:
            result = await verifier.verify_consensus(PROMPT)
    first = await sink.open(Disagreement("req-1", "agent", PROMPT, result))
    again = await sink.open(Disagreement("req-1", "agent", PROMPT, result))
    other = await sink.open(Disagreement("req-2", "agent", PROMPT, result))
    assert first == again != other
    assert len(store.pending()) == 2


async def test_a_cached_disagreement_opens_an_item_for_each_request(
    store: SqliteReviewStore, sink: QueueReview
) -> None:
    with vendor_server(SPLIT) as server:
        verifier = ConsensusVerifier(
            models=three(server), judge=LexicalJudge(), cache=ResultCache(),
            review_on_disagreement=sink,
        )  # fmt: skip
        async with verifier:
            first = await verifier.verify_consensus(PROMPT)
            second = await verifier.verify_consensus(PROMPT)
            again = await verifier.verify(PROMPT, 0.8, 2, request_id="req-9", record=True)
            redelivered = await verifier.verify(PROMPT, 0.8, 2, request_id="req-9", record=True)
        assert [server.calls(m) for m in SPLIT] == [1, 1, 1]  # the models were asked once
    # Each request's disagreement is its own item (a desk answers each asker about its own
    # request); a redelivery of one request finds that request's item again.
    assert second.cached and second.review_ticket not in (None, first.review_ticket)
    assert again.review_ticket not in (first.review_ticket, second.review_ticket)
    assert redelivered.review_ticket == again.review_ticket
    assert len(store.pending()) == 3


async def test_a_store_that_fails_fails_the_verification(tmp_path: Path) -> None:
    broken = SqliteReviewStore(tmp_path / "review.db")
    broken.close()
    sink = QueueReview(ReviewQueue(broken, registry=TrustRegistry()))
    with pytest.raises(VerifierError) as info:
        await verified(SPLIT, sink)
    assert info.value.code == "review_unavailable"


def test_over_the_bus_the_pool_opens_reviews(sink: QueueReview) -> None:
    with pytest.raises(ConfigurationError, match="the pool opens reviews"):
        ConsensusVerifier(
            models=["openai:m@http://127.0.0.1:9/v1"],
            bus=object(),  # type: ignore[arg-type]
            identity=AgentIdentity.create("a", "a", []),
            review_on_disagreement=sink,
        )


@asynccontextmanager
async def pool_of_one(
    sink: QueueReview, named: dict[str, Any], name: str
) -> AsyncIterator[tuple[VerifierWorker, ConsensusVerifier, AgentIdentity]]:
    """A pool worker on a memory bus that opens review items in ``sink``, and its client."""
    agent = AgentIdentity.create(f"{name}-client", "client", [])
    key = AgentIdentity.create(f"{name}-verifier", "verifier", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    bus = await connect(f"memory://{name}")
    worker = VerifierWorker(
        bus, key, registry, judge=LexicalJudge(), providers=named, review_on_disagreement=sink
    )
    try:
        async with worker:
            yield worker, ConsensusVerifier(
                models=list(named), bus=bus, identity=agent, verifier_keys=[key.public()],
                quorum=2, timeout=5,
            ), agent  # fmt: skip
    finally:
        await bus.close()


async def test_a_pool_worker_opens_the_item_for_its_client(
    store: SqliteReviewStore, sink: QueueReview
) -> None:
    named = {"fixed:a": Instant("fixed:a", "1889"), "fixed:b": Instant("fixed:b", "1925")}
    async with pool_of_one(sink, named, "cmvk-review") as (_, verifier, agent):
        result = await verifier.verify_consensus(PROMPT)
    assert result.flagged and result.review_ticket is not None
    item = store.get(result.review_ticket)
    assert item is not None and item.agent_id == agent.agent_id
    assert item.args["answers"] == {"fixed:a": "1889", "fixed:b": "1925"}


class _Gated:
    """A model that answers ``text`` once ``gate`` opens, counting the calls."""

    def __init__(self, name: str, text: str, gate: asyncio.Event) -> None:
        self.name, self._text, self._gate, self.calls = name, text, gate, 0

    async def complete(self, prompt: str) -> Answer:
        self.calls += 1
        await self._gate.wait()
        return Answer(self.name, self._text, 0.0)

    async def aclose(self) -> None:
        return None


async def test_a_request_that_joins_another_requests_disagreement_gets_its_own_item(
    store: SqliteReviewStore, sink: QueueReview
) -> None:
    gate = asyncio.Event()
    named = {"gated:a": _Gated("gated:a", "1889", gate), "gated:b": _Gated("gated:b", "1925", gate)}
    async with pool_of_one(sink, named, "cmvk-review-join") as (worker, verifier, _):
        first = asyncio.create_task(verifier.verify_consensus(PROMPT))
        second = asyncio.create_task(verifier.verify_consensus(PROMPT))
        await eventually(lambda: worker.joined == 1, 5, "the second request joined the first")
        gate.set()
        results = await asyncio.gather(first, second)
    assert [m.calls for m in named.values()] == [1, 1]
    tickets = {r.review_ticket for r in results}
    assert None not in tickets and len(tickets) == 2
    assert all(r.flagged for r in results) and len(store.pending()) == 2
