"""Instrumentation as middleware: metrics and spans wrapped around the kernel's steps.

The worker, the client and ``KernelSpace`` never touch a metric or a span.
Each builds one observer and lets it wrap its steps once:

* :func:`observed` wraps a decide function (the policy evaluation);
* :class:`WorkerObserver` wraps the bus handler (receive), the signature
  check (verify) and the verdict's publication;
* :class:`ClientObserver` (``_client_observer``) wraps the agent's check, its
  request on the bus and the reading of the verdict (receive);
* :func:`spanned` (``_spans``) puts any other async step in a span (a review).

Metrics are chosen when the observer is built (``metrics=None``: the wrapper
is the function itself, or a bare pass-through). Tracing is read per call
from ``STATE.tracer``, so :func:`enable_tracing` may come at any time; while
it is off each wrapper costs one attribute read and one call (the figure is in
``benchmarks/tracing_overhead.py``). Trace context crosses the bus in the
envelope's headers (W3C ``traceparent``), on every backend, both ways.

Spans of one governed action, all in one trace::

    agentos.check                          client   action, tool, decision, code
    └── publish agentos.v1.action          client   producer; the request's headers carry it
        └── process agentos.v1.action      worker   consumer; parent read from the headers
            ├── agentos.verify             worker   sender, valid, reason
            ├── agentos.policy             worker   decision, rule, policy, tool, classification
            ├── agentos.review             worker   a held action: decision, outcome
            └── agentos.verdict            worker   producer; the reply's headers carry it back
                └── agentos.receive        client   the verdict verified and read
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from agent_os.bus import Bus, BusError, Delivery, Envelope, Handler

from ._metrics import Metrics
from ._spans import (
    NO_HEADERS,
    action_attributes,
    carrier,
    kind,
    messaging,
    sampled_out,
    verdict_attributes,
)
from ._tracing import STATE

if TYPE_CHECKING:
    from agent_os.policies._types import Verdict

__all__ = ["Decide", "WorkerObserver", "instrumented", "observed"]

P = ParamSpec("P")
R = TypeVar("R")

Decide = Callable[[Mapping[str, Any], frozenset[str] | None], "Verdict"]
"""A decision function: ``(action, capabilities) -> Verdict``; must not raise."""


# -- the policy step ----------------------------------------------------------------


def instrumented(decide: Decide, metrics: Metrics) -> Decide:
    """Wrap ``decide`` so every call is timed and its verdict counted by ``metrics``."""
    perf_counter = time.perf_counter
    observe = metrics.observe

    def timed(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        start = perf_counter()
        verdict = decide(action, capabilities)
        observe(verdict, perf_counter() - start)
        return verdict

    return timed


def observed(decide: Decide, metrics: Metrics | None = None) -> Decide:
    """``decide`` with metrics (when given) and an ``agentos.policy`` span (when tracing)."""
    inner = decide if metrics is None else instrumented(decide, metrics)
    state = STATE

    def policy_step(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        tracer = state.tracer
        if tracer is None or sampled_out():
            return inner(action, capabilities)
        with tracer.start_as_current_span(
            "agentos.policy", attributes=action_attributes(action)
        ) as span:
            verdict = inner(action, capabilities)
            verdict_attributes(span, verdict)
            return verdict

    return policy_step


# -- the worker ---------------------------------------------------------------------


class WorkerObserver:
    """The worker's middleware: receive, verify and verdict; ``metrics`` optional."""

    ROLE = "worker"

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    def decide(self, decide: Decide) -> Decide:
        """The policy step of this worker (see :func:`observed`)."""
        return observed(decide, self.metrics)

    def handler(self, handler: Handler, bus: Bus, concurrency: int) -> Handler:
        """Wrap the bus handler: in-flight and duration metrics, the ``process`` span."""
        state = STATE
        inner = handler if self.metrics is None else self._measured(handler, concurrency)

        async def traced(delivery: Delivery, tracer: Any) -> None:
            from opentelemetry import context, propagate

            envelope = delivery.envelope
            parent = propagate.extract(envelope.headers)
            if sampled_out(parent):  # the agent's trace is not sampled: no spans here either
                token = context.attach(parent)
                try:
                    return await inner(delivery)
                finally:
                    context.detach(token)
            attributes = messaging(bus, envelope, "process")
            attributes["messaging.delivery.attempt"] = delivery.attempt
            with tracer.start_as_current_span(
                f"process {envelope.subject}",
                context=parent,
                kind=kind("CONSUMER"),
                attributes=attributes,
            ):
                await inner(delivery)

        def receive(delivery: Delivery) -> Awaitable[None]:
            tracer = state.tracer
            if tracer is None:
                return inner(delivery)
            return traced(delivery, tracer)

        return receive

    def _measured(self, handler: Handler, concurrency: int) -> Handler:
        assert self.metrics is not None
        self.metrics.capacity(concurrency)
        in_flight, duration = self.metrics.in_flight, self.metrics.request_duration
        perf_counter = time.perf_counter

        async def measured(delivery: Delivery) -> None:
            in_flight.inc()
            start = perf_counter()
            try:
                await handler(delivery)
            finally:
                duration.observe(perf_counter() - start)
                in_flight.dec()

        return measured

    def stopped(self, concurrency: int) -> None:
        """The wrapped handler's subscription ended: its capacity is gone."""
        if self.metrics is not None:
            self.metrics.capacity(-concurrency)

    def verify(self, verify: Callable[P, R]) -> Callable[P, R]:
        """Wrap the signature check in an ``agentos.verify`` span."""
        state = STATE

        def verify_step(*args: P.args, **kwargs: P.kwargs) -> R:
            tracer = state.tracer
            if tracer is None or sampled_out():
                return verify(*args, **kwargs)
            with tracer.start_as_current_span("agentos.verify") as span:
                result = verify(*args, **kwargs)
                attributes: dict[str, Any] = {
                    "agentos.verify.valid": bool(getattr(result, "valid", False))
                }
                for name in ("sender_id", "reason"):
                    value = getattr(result, name, None)
                    if isinstance(value, str) and value:
                        attributes[f"agentos.verify.{name}"] = value
                span.set_attributes(attributes)
                return result

        return verify_step

    def reply(self, bus: Bus, request: Envelope, body: bytes) -> Awaitable[None]:
        """Publish ``body`` as the reply to ``request``, in an ``agentos.verdict`` span."""
        tracer = STATE.tracer
        if tracer is None or sampled_out():
            return bus.publish(request.reply(body))
        return self._traced_reply(tracer, bus, request, body)

    async def _traced_reply(self, tracer: Any, bus: Bus, request: Envelope, body: bytes) -> None:
        with tracer.start_as_current_span("agentos.verdict", kind=kind("PRODUCER")) as span:
            reply = request.reply(body, carrier(NO_HEADERS))
            span.set_attributes(messaging(bus, reply, "publish"))
            await bus.publish(reply)

    def bus_error(self, error: BusError) -> None:
        """Count a bus failure of the worker by its stable code."""
        if self.metrics is not None:
            self.metrics.bus_error(self.ROLE, error.code)

    def serving(self, policies: Mapping[str, Any]) -> None:
        """Announce the policies served (name and content hash) on the info metric."""
        if self.metrics is not None:
            for policy in policies.values():
                self.metrics.serving(policy.name, policy.content_hash)
