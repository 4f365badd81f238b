"""``ConsensusVerifier``: ask several models, cluster their answers, read agreement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from agent_os.bus import new_id

from ._cache import request_key
from ._consensus import ConsensusResult, ModelResult, decide
from ._errors import ConfigurationError, ProviderError
from ._judges import AsyncJudge, DefaultJudge, Judge, PreparingJudge
from ._models import resolve
from ._provider import CallSettings, Provider
from ._review import (
    Disagreement,
    ReviewDecision,
    ReviewDecisions,
    ReviewSink,
    await_decision,
    open_review,
)

if TYPE_CHECKING:
    from agent_os.bus import Bus
    from agent_os.trust import AgentIdentity, PublicIdentity

    from ._cache import Cache
    from ._metrics import Metrics
    from ._remote import RemoteVerifier


class ConsensusVerifier:
    """Cross-model verification: the same prompt to several models, then consensus.

    ``models`` are model strings (see :mod:`._models`) or :class:`Provider`
    objects; every model string is resolved at once, so a missing key is a
    :class:`ConfigurationError` here, not a hang later. ``quorum`` is the
    fewest answers that can decide (default: a majority of the models);
    fewer is ``inconclusive``. ``settings`` are one :class:`CallSettings` for
    every model or a mapping from model string to its own.

    With ``bus`` the verification runs on a worker of the pool on
    ``agentos.v1.cmvk`` (``agent-os verifier --bus URL``): requests are signed
    with ``identity`` and only results signed by one of ``verifier_keys``
    (pinned) count. Models must then be strings: the workers resolve them with
    their own keys, so nothing is resolved (or required) here.

    ``cache`` (:class:`~._cache.ResultCache` in process, or
    :class:`~._cache_redis.RedisResultCache`; see :func:`~._cache.open_cache`)
    answers a question asked again without asking the models; only decided
    results are kept. ``review_on_disagreement`` (a :class:`~._review.ReviewSink`)
    opens a review item for every flagged result, which then carries its
    ticket; over the bus, the pool's workers open them (``agent-os verifier
    --review-store``). ``review_decisions`` (a :class:`~._review.ReviewDecisions`)
    answers :meth:`review_decision` instead of the sink: over the bus,
    ``agent_os.adapters.DeskReviewDecisions`` asks the review desks.
    """

    def __init__(
        self,
        models: Sequence[str | Provider],
        *,
        judge: Judge | AsyncJudge | None = None,
        quorum: int | None = None,
        threshold: float = 0.8,
        settings: CallSettings | Mapping[str, CallSettings] | None = None,
        environ: Mapping[str, str] | None = None,
        cache: Cache | None = None,
        metrics: Metrics | None = None,
        review_on_disagreement: ReviewSink | None = None,
        review_decisions: ReviewDecisions | None = None,
        bus: Bus | None = None,
        identity: AgentIdentity | None = None,
        verifier_keys: Sequence[PublicIdentity] = (),
        timeout: float = 60.0,
    ) -> None:
        if not models:
            raise ConfigurationError("ConsensusVerifier needs at least one model")
        self.quorum = quorum if quorum is not None else len(models) // 2 + 1
        if not 1 <= self.quorum <= len(models):
            raise ConfigurationError(f"quorum {self.quorum} is not within 1..{len(models)}")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigurationError("threshold must be within [0, 1]")
        self.threshold = threshold
        self._cache = cache
        self._metrics = metrics
        self._review = review_on_disagreement
        self._decisions = review_decisions
        self._agent_id = identity.agent_id if identity is not None else ""
        self._judge = judge
        self._remote: RemoteVerifier | None = None
        if bus is not None:
            from ._remote import RemoteVerifier

            if identity is None:
                raise ConfigurationError("over the bus, requests are signed: pass identity=")
            if review_on_disagreement is not None:
                raise ConfigurationError(
                    "over the bus, the pool opens reviews: run it with --review-store"
                )
            waits_as = getattr(review_decisions, "agent_id", identity.agent_id)
            if waits_as != identity.agent_id:
                # The pool holds the item for the agent that signed the request.
                raise ConfigurationError(f"review_decisions waits as {waits_as}, not as "
                                         f"{identity.agent_id} who signs the requests")  # fmt: skip
            if not all(isinstance(m, str) for m in models):
                raise ConfigurationError("over the bus, models must be model strings")
            self._remote = RemoteVerifier(bus, identity, verifier_keys, timeout=timeout)
            self.models: tuple[str, ...] = tuple(str(m) for m in models)
            self._providers: tuple[Provider, ...] = ()
            return
        self._providers = tuple(
            resolve(m, settings=_settings_of(settings, m), environ=environ) for m in models
        )
        self.models = tuple(p.name for p in self._providers)
        if len(set(self.models)) != len(self.models):
            raise ConfigurationError(f"models named twice: {sorted(self.models)}")

    def _the_judge(self) -> Judge | AsyncJudge:
        if self._judge is None:
            self._judge = DefaultJudge.offline()
        return self._judge

    async def verify_consensus(
        self, prompt: str, threshold: float | None = None
    ) -> ConsensusResult:
        """Ask every model ``prompt`` and return the consensus (never raises on a model failure)."""
        level = self.threshold if threshold is None else threshold
        return await self.verify(prompt, level, self.quorum)

    async def verify(
        self,
        prompt: str,
        threshold: float,
        quorum: int,
        *,
        request_id: str | None = None,
        agent_id: str | None = None,
        record: bool = False,
    ) -> ConsensusResult:
        """The cache, else the models; a flagged result goes to review; then metrics, cache.

        ``request_id`` and ``agent_id`` name the request a review item is
        opened for (a fresh id and this verifier's identity by default).
        With ``record`` (a worker's requests) the result is also kept under
        the request itself (:func:`~._cache.request_key`), whatever the
        outcome, and looked up there first: a redelivery finds it.
        """
        request_id = request_id or new_id()
        agent_id = self._agent_id if agent_id is None else agent_id
        keys: tuple[str, ...] = ()
        if self._cache is not None:
            key = self._cache.key(prompt, self.models, threshold, quorum)
            keys = (request_key(agent_id, request_id, key), key) if record else (key,)
            hit = await self._cache.get(*keys)
            if hit is not None:
                if self._review is not None:
                    # Another request's disagreement opens an item of this request's own
                    # (the sink opens one per request id: a redelivery finds its own again).
                    hit = await open_review(
                        self._review, Disagreement(request_id, agent_id, prompt, hit)
                    )
                if self._metrics is not None:
                    self._metrics.observe(hit)
                return hit
        if self._remote is not None:
            result = await self._remote.verify(prompt, self.models, threshold, quorum)
        else:
            result = await self.verify_local(prompt, threshold, quorum)
        if self._review is not None:
            asked = Disagreement(request_id, agent_id, prompt, result)
            result = await open_review(self._review, asked)
        if self._metrics is not None:
            self._metrics.observe(result)
        # An inconclusive result is not kept for the question (a model outage is
        # asked again next time), only for the request that got it.
        keep = keys if result.outcome != "inconclusive" else keys[: len(keys) - 1]
        if self._cache is not None and keep:
            await self._cache.put(keep, result)
        return result

    async def review_decision(self, ticket: str, *, timeout: float) -> ReviewDecision:
        """The decision on a flagged result's ``review_ticket``, waited for up to ``timeout``
        seconds; not approved on timeout or without a sink that can wait (see :mod:`._review`).

        Over the bus the request the ticket came with is passed on (the review desks answer
        about that request only)."""
        decisions = self._review if self._decisions is None else self._decisions
        request_id = None if self._remote is None else self._remote.held_request(ticket)
        return await await_decision(decisions, ticket, timeout, request_id)

    async def verify_local(self, prompt: str, threshold: float, quorum: int) -> ConsensusResult:
        """Ask the models from this process and decide (no cache, no metrics).

        A judge that can prepare (:class:`PreparingJudge`) sees each answer as it
        arrives, so its work on early answers overlaps the wait for slower models.
        """
        judge = self._the_judge()
        heard: list[str] = []

        async def ask(provider: Provider) -> ModelResult:
            result = await self._ask(provider, prompt)
            if result.answer is not None and isinstance(judge, PreparingJudge):
                judge.prepare(prompt, heard, result.answer)
                heard.append(result.answer)
            return result

        answers = await asyncio.gather(*(ask(p) for p in self._providers))
        return await decide(judge, prompt, answers, threshold=threshold, quorum=quorum)

    async def _ask(self, provider: Provider, prompt: str) -> ModelResult:
        started = time.perf_counter()
        try:
            answer = await provider.complete(prompt)
        except ProviderError as exc:
            return ModelResult(
                provider.name,
                None,
                time.perf_counter() - started,
                error_code=exc.code,
                error=str(exc),
            )
        return ModelResult(
            provider.name,
            answer.text,
            answer.latency_s,
            answer.input_tokens,
            answer.output_tokens,
            answer.cost_usd,
        )

    async def aclose(self) -> None:
        """Close every provider's connections."""
        await asyncio.gather(*(p.aclose() for p in self._providers))

    async def __aenter__(self) -> ConsensusVerifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _settings_of(
    settings: CallSettings | Mapping[str, CallSettings] | None, model: str | Provider
) -> CallSettings | None:
    if isinstance(settings, CallSettings) or settings is None:
        return settings
    return settings.get(model) if isinstance(model, str) else None
