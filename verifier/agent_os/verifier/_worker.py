"""The CMVK worker: a stateless competing consumer on ``agentos.v1.cmvk``.

For each delivery, cheapest check first: size and deadline; the signed
request (sender registered and not revoked, signature, freshness, recipient);
the nonce (a replay is refused; a redelivery of the same broker copy passes);
the content's shape; then the models are asked and the answers judged. The
reply, result or error, is signed with the worker's verifier key, which
clients pin. Model keys are the worker's own (its environment or key files):
clients name models, never send keys. ``providers`` names models this
worker serves from provider objects (an in-house model, a test double)
before any model string is parsed.

``cache`` answers the same question (prompt, models, threshold, quorum)
asked again without asking the models; by default it is in this worker's
memory (:class:`~._cache.ResultCache`), shared by the pool in Redis
(:class:`~._cache_redis.RedisResultCache`, ``agent-os verifier --cache``).

A redelivered request does not ask the models again. Before replying, the
worker keeps the result in the cache under the request too (sender, id and
content: :func:`~._cache.request_key`), whatever its outcome; a delivery of
a request kept there is answered from it. With a Redis cache a request
redelivered to another worker after a crash is answered from what the first
found; with the default one, only by this worker. ``from_cache`` counts the
answers the cache gave, ``verifications`` the ones the models did.
Deliveries handled at the same moment do not both ask the models either:
a delivery of a request (or, for a decided result, of the same question)
this worker is already verifying waits for that verification's result
(``joined`` counts them; if it fails, each asks anew). Two receipts of one
message, or a redelivery after a lost lease, would otherwise ask twice.
Across the pool, with a Redis cache, the worker claims the request before
asking the models (:mod:`._claim`): another worker that gets the same
request meanwhile waits for the result to land in the cache (``awaited``
counts them) and verifies itself only if the claim goes without one, lapses
or cannot be read (``claim_ttl`` seconds, renewed while verifying).
``review_on_disagreement`` opens a review item for each flagged result.

The answer goes to the reply subject the client signed into its request
(``reply_to``), under the request's id, never to a different ``reply_to`` on
the envelope: a rogue re-publishing a client's bytes with its own reply
subject gets nothing (``redirected_replies`` counts such copies). Once the
signature holds, the content is read before the nonce, so a replay's error
goes there too. A request that signs none is refused ``reply_unbound`` on its
envelope's ``reply_to`` unless ``allow_unbound_replies`` (logged at start).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from agent_os.bus import Bus, Delivery, Envelope, Service, SubscribeOptions
from agent_os.trust import (
    AgentIdentity,
    AsyncNonceStore,
    MalformedMessage,
    MemoryNonceStore,
    NonceStore,
    SignedMessage,
    TrustError,
    TrustRegistry,
    as_async_nonce_store,
)

from ._cache import Cache, ResultCache, cache_key, request_key
from ._claim import verify_claimed
from ._consensus import ConsensusResult
from ._errors import VerifierError
from ._judges import AsyncJudge, DefaultJudge, Judge
from ._metrics import Metrics
from ._provider import CallSettings, Provider
from ._review import Disagreement, ReviewSink, open_review
from ._verifier import ConsensusVerifier
from ._wire import (
    CMVK_SUBJECT,
    VERIFIER_RECIPIENT,
    WORKER_GROUP,
    VerifyRequest,
    parse_request,
    sign_reply,
)

log = logging.getLogger("agent_os.verifier.worker")
_VERIFIERS = 256
MAX_REQUEST_BYTES = 256 * 1024
#: The default cache: results kept this long, at most this many.
_CACHE_TTL = 300.0
_CACHE_SIZE = 10_000
#: Seconds between looks at the cache while another worker verifies the same request.
_CLAIM_POLL = 0.05


class VerifierWorker(Service):
    """Verify consensus for signed requests from agents registered in ``registry``."""

    def __init__(
        self,
        bus: Bus,
        identity: AgentIdentity,
        registry: TrustRegistry,
        *,
        judge: Judge | AsyncJudge | None = None,
        settings: CallSettings | Mapping[str, CallSettings] | None = None,
        environ: Mapping[str, str] | None = None,
        nonces: NonceStore | AsyncNonceStore | None = None,
        subject: str = CMVK_SUBJECT,
        group: str = WORKER_GROUP,
        options: SubscribeOptions | None = None,
        metrics: Metrics | None = None,
        providers: Mapping[str, Provider] | None = None,
        cache: Cache | None = None,
        review_on_disagreement: ReviewSink | None = None,
        allow_unbound_replies: bool = False,
        claim_ttl: float = 10.0,
        claim_wait: float = 120.0,
    ) -> None:
        super().__init__()
        if not claim_ttl > 0 or not claim_wait > 0:
            raise ValueError("claim_ttl and claim_wait must be positive")
        self._claim_ttl = claim_ttl
        self._claim_wait = claim_wait
        self._allow_unbound = allow_unbound_replies
        self._bus = bus
        self._identity = identity
        self._registry = registry
        self._judge = judge
        self._settings = settings
        self._environ = environ
        self._metrics = metrics
        self._cache: Cache = (
            cache if cache is not None else ResultCache(ttl=_CACHE_TTL, size=_CACHE_SIZE)
        )
        self._review = review_on_disagreement
        self._named = dict(providers or {})
        self._nonces = as_async_nonce_store(nonces if nonces is not None else MemoryNonceStore())
        self._subject = subject
        self._group = group
        # Model calls take seconds: redelivery waits longer than the kernel path's.
        self._options = options or SubscribeOptions(ack_wait=60.0, concurrency=64)
        self._verifiers: OrderedDict[tuple[str, ...], ConsensusVerifier] = OrderedDict()
        self._subscription: Any = None
        self.verifications = 0
        self.from_cache = 0
        #: Deliveries that waited for a verification of theirs already under way here.
        self.joined = 0
        #: Deliveries that found another worker of the pool verifying their request ...
        self.claim_waits = 0
        #: ... and those of them answered with its result.
        self.awaited = 0
        self._running: dict[str, asyncio.Future[ConsensusResult | None]] = {}
        #: Answers sent to the signed reply subject instead of a different envelope ``reply_to``.
        self.redirected_replies = 0
        #: Authentic requests that signed no reply subject (refused unless allowed).
        self.unbound_requests = 0

    @property
    def verifier_id(self) -> str:
        return self._identity.agent_id

    async def start(self) -> None:
        """Load the judge, subscribe; returns once consuming."""
        if self._judge is None:
            # The embedding model (90 MB) loads before the first request, not during it.
            self._judge = await asyncio.to_thread(DefaultJudge.offline)
        if self._allow_unbound and self._subscription is None:
            log.warning("verifier %s serves requests that sign no reply subject "
                        "(allow_unbound_replies): whoever copies one races its client for "
                        "the result", self.verifier_id)  # fmt: skip
        if self._subscription is None:
            self._subscription = await self._bus.subscribe(
                self._subject, self._handle, group=self._group, options=self._options
            )
            log.info("verifier %s consuming %s", self.verifier_id, self._subject)

    async def _stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        for verifier in self._verifiers.values():
            await verifier.aclose()

    async def _handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        now = time.time()
        if envelope.reply_to is not None and not self._bus.is_reply_address(envelope.reply_to):
            # It would publish the signed result, with our broker rights, wherever it says.
            log.warning("request %s: reply_to %r is not a reply address; dead-lettered",
                        envelope.id, envelope.reply_to)  # fmt: skip
            await delivery.reject("bad_reply_to", "reply_to is not a reply address of this bus")
            return
        if len(envelope.body) > MAX_REQUEST_BYTES:
            await delivery.reject("payload_too_large", "request too large")
            return
        if envelope.expired(now):
            await delivery.ack()
            return
        try:
            message = SignedMessage.from_bytes(envelope.body)
        except MalformedMessage as exc:
            await delivery.reject("malformed", str(exc))
            return
        # Where the answer goes: the envelope's reply_to until authentic bytes name theirs.
        target = envelope
        try:
            request = self._read(message, now)
            target = self._bound(envelope, request)
            await self._admit(message, delivery, now)
            content: dict[str, Any] = {
                "request_id": message.id,
                "result": (await self._verify(request)).to_dict(),
            }
        except VerifierError as exc:
            content = {"request_id": message.id, "error": {"code": exc.code, "message": str(exc)}}
        except Exception:
            # A fault of ours (a judge's bug): the client hears a stable code at once rather
            # than waiting out its timeout, and the request goes to the dead letters.
            log.exception("request %s: unexpected error", message.id)
            await self._reply(target, message, {
                "request_id": message.id,
                "error": {"code": "internal_error", "message": "verifier error"},
            })  # fmt: skip
            await delivery.reject("internal_error", "unexpected error while verifying")
            return
        await self._reply(target, message, content)
        await delivery.ack()

    async def _reply(
        self, envelope: Envelope, message: SignedMessage, content: dict[str, Any]
    ) -> None:
        if envelope.reply_to is not None:
            await self._bus.publish(
                envelope.reply(sign_reply(self._identity, message.sender_id, content))
            )

    def _read(self, message: SignedMessage, now: float) -> VerifyRequest:
        """The request in authentic bytes (signature, freshness, recipient), else why not."""
        result = self._registry.verify(
            message, now=now, expected_recipient=VERIFIER_RECIPIENT, record_nonce=False
        )
        if not result.valid:
            raise VerifierError(f"request rejected: {result.reason}", code=result.reason)
        return parse_request(message)

    def _bound(self, envelope: Envelope, request: VerifyRequest) -> Envelope:
        """``envelope`` as answered: on the reply subject ``request`` signed, under its id."""
        bound = request.reply_to
        if bound is None:
            self.unbound_requests += 1
            if not self._allow_unbound:
                raise VerifierError("request signs no reply subject", code="reply_unbound")
            return envelope
        if not self._bus.is_reply_address(bound):
            raise VerifierError(f"signed reply_to {bound!r} is not a reply address of this bus",
                                code="bad_reply_to")  # fmt: skip
        if envelope.reply_to != bound:
            # A copy of the client's bytes (a rogue re-publishing them): the answer still
            # goes to the client, never to whoever published this copy.
            self.redirected_replies += 1
            log.warning("request %s: reply_to %r is not the signed %r; answered on the signed one",
                        envelope.id, envelope.reply_to, bound)  # fmt: skip
        return replace(envelope, reply_to=bound, id=request.request_id)

    async def _admit(self, message: SignedMessage, delivery: Delivery, now: float) -> None:
        """Refuse a replay (a redelivery of the same broker copy passes)."""
        origin = getattr(delivery, "origin", None)
        try:
            fresh = (delivery.attempt > 1 and origin is None) or await self._nonces.check_and_add(
                message.sender_id,
                message.nonce,
                message.timestamp + self._registry.max_age,
                now,
                origin,
            )
        except TrustError as exc:
            raise VerifierError(str(exc), code=exc.code) from None
        if not fresh:
            raise VerifierError("nonce already used", code="replay")

    async def _verify(self, request: VerifyRequest) -> ConsensusResult:
        question = cache_key(request.prompt, request.models, request.threshold, request.quorum)
        asked = request_key(request.sender_id, request.request_id, question)
        for key in (asked, question):
            running = self._running.get(key)
            if running is None:
                continue
            # Shielded: this delivery giving up does not cancel the one it waits for.
            self.joined += 1
            found = await asyncio.shield(running)
            # Another request's inconclusive result is not shared (as the cache does not).
            if found is not None and (key == asked or found.outcome != "inconclusive"):
                found = replace(found, cached=True)
                if key != asked and self._review is not None:
                    # Another request's disagreement: this request gets an item of its own.
                    asked_here = Disagreement(
                        request.request_id, request.sender_id, request.prompt, found
                    )
                    found = await open_review(self._review, asked_here)
                if self._metrics is not None:
                    self._metrics.observe(found)
                return found
            break
        done: asyncio.Future[ConsensusResult | None] = asyncio.get_running_loop().create_future()
        keys = [k for k in (asked, question) if self._running.setdefault(k, done) is done]
        try:
            verifier = await self._verifier(request)
            # The key the verifier keeps the request's result under (its models as resolved).
            kept = self._cache.key(
                request.prompt, verifier.models, request.threshold, request.quorum
            )
            result, awaited = await verify_claimed(
                self._cache,
                request_key(request.sender_id, request.request_id, kept),
                lambda: verifier.verify(
                    request.prompt,
                    request.threshold,
                    request.quorum,
                    request_id=request.request_id,
                    agent_id=request.sender_id,
                    record=True,
                ),
                ttl=self._claim_ttl,
                poll=_CLAIM_POLL,
                wait=self._claim_wait,
                waiting=self._waiting,
            )
            if awaited:
                self.awaited += 1
                if self._metrics is not None:
                    self._metrics.observe(result)
            done.set_result(result)
        finally:
            # A failed verification is shared with no one: each waiting delivery asks anew.
            if not done.done():
                done.set_result(None)
            for key in keys:
                del self._running[key]
        if result.cached:
            self.from_cache += 1
        else:
            self.verifications += 1
        return result

    def _waiting(self) -> None:
        self.claim_waits += 1

    async def _verifier(self, request: VerifyRequest) -> ConsensusVerifier:
        verifier = self._verifiers.get(request.models)
        if verifier is None:
            verifier = ConsensusVerifier(
                models=[self._named.get(m, m) for m in request.models],
                judge=self._judge,
                quorum=request.quorum,
                settings=self._settings,
                environ=self._environ,
                cache=self._cache,
                metrics=self._metrics,
                review_on_disagreement=self._review,
            )
            self._verifiers[request.models] = verifier
            while len(self._verifiers) > _VERIFIERS:
                _, old = self._verifiers.popitem(last=False)
                await old.aclose()
        self._verifiers.move_to_end(request.models)
        return verifier
