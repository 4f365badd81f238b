"""The kernel worker: judges signed action requests taken from the bus.

Workers are stateless replicas in one consumer group. For each delivery a
worker verifies the request's signature against the trust registry, decides
with the policy, answers on the request's reply subject with a verdict signed
by the kernel key, and publishes an audit event. Whatever is wrong with a
request, the answer is a deny with a stable code; bytes that are not a request
at all are also dead-lettered. The worker itself never stops on bad input.

This module holds the worker's configuration and service lifecycle (start,
readiness, stop); the checks a delivery goes through, cheapest first, and the
answering of it are in ``_judging``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from agent_os.audit._events import AuditSink
from agent_os.audit._publisher import AuditPublisher
from agent_os.bus import Bus, Service, SubscribeOptions, Subscription, probe
from agent_os.observability import Check, Decide, Metrics, WorkerObserver
from agent_os.policies._policy import Policy
from agent_os.policies._types import Verdict
from agent_os.review import ReviewDesk, ReviewQueue
from agent_os.trust import (
    AgentIdentity,
    AsyncNonceStore,
    MemoryNonceStore,
    NonceStore,
    TrustError,
    TrustLevel,
    TrustRegistry,
    as_async_nonce_store,
)

from ._control import ControlListener
from ._governance import Governance
from ._judging import Judging
from ._limits import Limits, RateLimiter, check_policy_limits
from ._presence import Presence, PresenceOptions
from ._review import Approver
from ._wire import ACTION_SUBJECT, CONTROL_SUBJECT, WORKER_GROUP

log = logging.getLogger("agent_os.kernel")

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024


class Worker(Judging, Service):
    """A kernel worker bound to one bus.

    ``policies`` maps policy names to policies; a request may name one, and a
    request that names an unknown policy is denied. ``default_policy`` serves
    requests that name none. With ``metrics``, every policy decision is timed
    and counted (``agent_os_policy_check_duration_seconds``,
    ``agent_os_violations_total``, ``agent_os_sigkill_total``); denies made
    before the policy runs (bad signature, replay, limits) are audited, not
    counted there.

    ``nonces`` is the replay memory, and the worker is the one place that
    records a request's nonce: the registry's own ``nonces`` (when it has
    one and ``nonces`` is not given) is used here, never checked twice.
    Without either, a process-local ``MemoryNonceStore``; replicas that share
    traffic need one shared store (``agent-os worker`` picks the bus's own:
    ``JetStreamNonceStore``, ``AsyncRedisNonceStore``; a synchronous store is
    called inline on the loop). A store with a ``ping`` is a readiness check.
    ``limits`` and ``rate_limiter`` bound what one request and one
    agent may cost (see ``_limits``). Unless ``control_subject`` is None the
    worker also listens (fan-out) for signed revocation/rotation events from
    keys at ``control_levels`` and applies them at once.

    SIGSTOP: with ``review`` (a :class:`~agent_os.review.ReviewQueue`) a held
    action is recorded in the shared review store and answered at once with
    a ``review`` verdict carrying the ticket and deadline; the worker's
    :class:`~agent_os.review.ReviewDesk` (any worker's, or the console's)
    later hands the agent the final verdict. With an ``approver`` instead the
    worker waits for it in process (tests, demos). With neither, the
    ``review`` verdict has no ticket and the agent treats it as a deny.

    With ``presence`` the worker announces itself to the other workers and
    hears theirs (see ``_presence``); one that declares a single replica
    refuses to start beside a live peer (:class:`StartupRefused` from
    :meth:`start`) and fails readiness (``replicas``) when one appears later.

    Where the verdict goes: to the reply subject the agent signed into the
    request (``reply_to`` in its content), never to a different ``reply_to``
    on the envelope: a rogue that re-publishes the agent's bytes with its own
    reply subject sends the verdict to the agent (counted in
    ``redirected_replies``). A request that signs no reply subject (a client
    older than the binding, or one built by hand) is denied ``reply_unbound``
    on its envelope's ``reply_to``, the only address it names, and counted in
    ``unbound_requests``: whoever copies its bytes would race the agent for
    its verdict. ``allow_unbound_replies`` (older clients still deployed)
    answers such a request on its envelope's ``reply_to`` as before, with a
    warning at start and once per agent. Verdicts go only into
    the bus's reply namespace (``Bus.is_reply_address``): a request whose
    envelope ``reply_to`` lies outside it is dead-lettered unanswered
    (``bad_reply_to``), one that signs such an address is denied
    ``bad_reply_to`` on its envelope's; both counted in ``bad_reply_addresses``.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        identity: AgentIdentity,
        registry: TrustRegistry,
        policies: Policy | Mapping[str, Policy],
        default_policy: str | None = None,
        subject: str = ACTION_SUBJECT,
        group: str = WORKER_GROUP,
        options: SubscribeOptions | None = None,
        nonces: NonceStore | AsyncNonceStore | None = None,
        audit: AuditSink | None = None,
        publish_audit: bool = True,
        approver: Approver | None = None,
        review: ReviewQueue | None = None,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        limits: Limits | None = None,
        rate_limiter: RateLimiter | None = None,
        control_subject: str | None = CONTROL_SUBJECT,
        control_levels: tuple[TrustLevel, ...] = (TrustLevel.ADMIN,),
        metrics: Metrics | None = None,
        presence: PresenceOptions | None = None,
        allow_unbound_replies: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(policies, Policy):
            policies = {policies.name: policies}
        if not policies:
            raise ValueError("a worker needs at least one policy")
        self._bus = bus
        self._identity = identity
        self._registry = registry
        self._policies = dict(policies)
        # Metrics and spans wrap the steps as middleware: decide, verify, receive, reply.
        self._observer = WorkerObserver(metrics)
        self._observer.serving(self._policies)
        self._deciders: dict[str, Decide] = {
            n: self._observer.decide(_decider(p)) for n, p in self._policies.items()
        }
        self._verify = self._observer.verify(registry.verify)
        self._default = default_policy or next(iter(self._policies))
        if self._default not in self._policies:
            raise ValueError(f"default policy {self._default!r} is not among the policies")
        self._limits = limits or Limits()
        for policy in self._policies.values():
            check_policy_limits(policy, self._limits)
        self._rate = rate_limiter
        self._subject = subject
        self._group = group
        self._options = options or SubscribeOptions()
        if nonces is not None and registry.nonces is not None and nonces is not registry.nonces:
            raise ValueError(
                "two nonce stores: give it to the Worker or to its TrustRegistry, not both"
            )
        store = nonces if nonces is not None else registry.nonces
        self._nonce_store = store if store is not None else MemoryNonceStore()
        self._nonces = as_async_nonce_store(self._nonce_store)
        self._control_subject = control_subject
        self._control = ControlListener(registry, levels=control_levels)
        self._control_subscription: Subscription | None = None
        self._presence = (
            None
            if presence is None
            else Presence(bus, identity, registry, subject=subject, group=group, options=presence)
        )
        self._audit = audit
        # Signed by the deciding kernel's key and numbered: the sink stores nothing else.
        self._audit_out = AuditPublisher(bus, signer=identity) if publish_audit else None
        self._approver = approver
        self._governance = Governance(
            record=self._record_event, approver=approver, review=review, metrics=metrics
        )
        # Any worker's desk answers an agent waiting on a held action, from the shared store.
        self._desk = (
            None
            if review is None
            else ReviewDesk(
                bus,
                review.store,
                identity=identity,
                registry=registry,
                record=self._record_event,
                observe=None if metrics is None else metrics.observe_review,
            )
        )
        self._max_request_bytes = max_request_bytes
        # A request's answer, and the reply subject and id it went under, for redeliveries.
        self._answered: OrderedDict[str, tuple[bytes, str | None, str]] = OrderedDict()
        self._allow_unbound = allow_unbound_replies
        self._unbound_agents: set[str] = set()
        self._subscription: Subscription | None = None
        self.verdicts = 0
        #: Redelivered requests dropped because their deadline had passed.
        self.expired_redeliveries = 0
        #: Verdicts sent to the signed reply subject instead of a different envelope ``reply_to``.
        self.redirected_replies = 0
        #: Authentic requests that signed no reply subject (older clients).
        self.unbound_requests = 0
        #: Requests whose reply address lies outside the bus's reply namespace (not sent there).
        self.bad_reply_addresses = 0

    @property
    def control(self) -> ControlListener:
        """The listener that verifies and applies revocation / rotation events."""
        return self._control

    @property
    def allows_unbound_replies(self) -> bool:
        """Whether a request that signs no reply subject is served (an explicit opt-out)."""
        return self._allow_unbound

    async def start(self) -> None:
        """Subscribe to the action subject; returns once the worker is consuming."""
        if self._allow_unbound and self._subscription is None:
            log.warning("kernel worker %s serves requests that sign no reply subject "
                        "(allow_unbound_replies): whoever copies one races its agent for "
                        "the verdict", self.kernel_id)  # fmt: skip
        if self._presence is not None and self._subscription is None:
            await self._presence.start()  # a single replica beside a live peer stops here
        if self._control_subscription is None and self._control_subject is not None:
            # Listen for revocations before taking requests, so none slips past.
            self._control_subscription = await self._bus.subscribe(
                self._control_subject, self._control
            )
        if self._subscription is None:
            handler = self._observer.handler(self._handle, self._bus, self._options.concurrency)
            self._subscription = await self._bus.subscribe(
                self._subject, handler, group=self._group, options=self._options
            )
            log.info("kernel worker %s consuming %s", self.kernel_id, self._subject)
        if self._desk is not None:
            await self._desk.start()

    def health_checks(self) -> dict[str, Check]:
        """Readiness checks of this worker: consuming from the bus, registry and policy loaded."""
        checks: dict[str, Check] = {
            "bus": self._bus_ready,
            "registry": self._registry_ready,
            "policy": self._policy_ready,
            "nonce_store": self._nonces_ready,
        }
        if self._presence is not None:
            checks["replicas"] = self._presence.ready
        return checks

    @property
    def presence(self) -> Presence | None:
        """This worker's announcements and the peers it hears, when enabled."""
        return self._presence

    @property
    def nonce_store(self) -> NonceStore | AsyncNonceStore:
        """Where this worker records nonces (replay protection)."""
        return self._nonce_store

    async def _nonces_ready(self) -> bool | str:
        ping = getattr(self._nonce_store, "ping", None)
        if ping is None:
            return True
        try:
            await ping()
        except TrustError as exc:
            return str(exc)
        return True

    async def _bus_ready(self) -> bool | str:
        if self._subscription is None or self._closing:
            return "not consuming"
        return await probe(self._bus)  # a round trip to the broker where the bus has one

    def _registry_ready(self) -> bool | str:
        entries = self._registry.store.all()  # a file store looks at its file first
        problem = getattr(self._registry.store, "problem", None)
        if problem:
            return f"serving the last good registry: {problem}"
        live = sum(not entry.revoked for entry in entries)
        return live > 0 or "trust registry holds no agent"

    def _policy_ready(self) -> bool | str:
        policy = self._policies.get(self._default)
        return (policy is not None and bool(policy.content_hash)) or "no default policy"

    async def _stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._observer.stopped(self._options.concurrency)
        if self._control_subscription is not None:
            await self._control_subscription.unsubscribe()
        if self._desk is not None:
            await self._desk.shutdown()
        if self._audit_out is not None:
            await self._audit_out.close()
        if self._presence is not None:
            await self._presence.close()


def _decider(policy: Policy) -> Decide:
    def decide(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        return policy.evaluate(action, capabilities=capabilities)

    return decide
