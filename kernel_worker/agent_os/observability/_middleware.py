"""Instrumentation as middleware: metrics and spans wrapped around the kernel's steps.

The worker, the client and ``KernelSpace`` never touch a metric or a span.
Each builds one observer and lets it wrap its steps once:

* :func:`observed` wraps a decide function (the policy evaluation);
* :class:`WorkerObserver` wraps the bus handler (receive), the signature
  check (verify) and the verdict's publication;
* :class:`ClientObserver` wraps the agent's check, its request on the bus and
  the reading of the verdict (receive).

Metrics are chosen when the observer is built (``metrics=None``: the wrapper
is the function itself, or a bare pass-through). Tracing is read per call
from ``STATE.tracer``, so :func:`enable_tracing` may come at any time; while
it is off each wrapper costs one attribute read and one call (the figure is in
``benchmarks/tracing_overhead.py``). Trace context crosses the bus in the
envelope's headers (W3C ``traceparent``), on every backend.

Spans of one governed action, all in one trace::

    agentos.check                      client    action, tool, decision, code
    ├── publish agentos.v1.action      client    producer; headers carry the context
    │   └── process agentos.v1.action  worker    consumer; parent read from the headers
    │       ├── agentos.verify         worker    sender, valid, reason
    │       ├── agentos.policy         worker    decision, rule, policy, tool, classification
    │       ├── agentos.review         worker    a held action: decision, outcome (``spanned``)
    │       └── agentos.verdict        worker    producer; the signed verdict sent back
    └── agentos.receive                client    the verdict verified and read
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from agent_os.bus import Bus, BusError, Delivery, Envelope, Handler

from ._metrics import Metrics, label
from ._tracing import STATE

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from agent_os.policies._types import Verdict

__all__ = [
    "ClientObserver",
    "Decide",
    "WorkerObserver",
    "instrumented",
    "observed",
    "spanned",
    "verdict_attributes",
]

P = ParamSpec("P")
R = TypeVar("R")

Decide = Callable[[Mapping[str, Any], frozenset[str] | None], "Verdict"]
"""A decision function: ``(action, capabilities) -> Verdict``; must not raise."""

_NO_HEADERS: Mapping[str, str] = {}


# -- spans -----------------------------------------------------------------------


def _kind(name: str) -> Any:
    from opentelemetry.trace import SpanKind  # imported only once tracing is on

    return getattr(SpanKind, name)


def _sampled_out(parent: Any = None) -> bool:
    """True inside a trace the sampler dropped: its child spans would record nothing.

    Skipping them, rather than making spans that are thrown away, is what
    makes a sampled-down deployment cheap (``OTEL_TRACES_SAMPLER``).
    """
    from opentelemetry import trace

    span_context = trace.get_current_span(parent).get_span_context()
    return span_context.is_valid and not span_context.trace_flags.sampled


def _carrier(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` plus the current trace context (W3C by default)."""
    from opentelemetry import propagate

    out = dict(headers)
    propagate.inject(out)
    return out


def _messaging(bus: Bus, envelope: Envelope, operation: str) -> dict[str, Any]:
    # Attributes given at the start of a span: one locked update instead of one per key.
    return {
        "messaging.system": bus.url.split(":", 1)[0],
        "messaging.destination.name": envelope.subject,
        "messaging.message.id": envelope.id,
        "messaging.operation.type": operation,
    }


def _in_current_context(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run in the context current now, whichever task later calls it.

    A bus calls a request's ``accept`` from its own reader task (or, in
    memory, from the responder's): without this, spans made there would not
    belong to the request's trace.
    """
    from opentelemetry import context

    captured = context.get_current()

    def in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        token = context.attach(captured)
        try:
            return fn(*args, **kwargs)
        finally:
            context.detach(token)

    return in_context


def _read_here(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``accept`` (if any) run in this context, whichever task calls it."""
    accept = options.get("accept")
    return options if accept is None else {**options, "accept": _in_current_context(accept)}


def verdict_attributes(span: Span, verdict: Verdict) -> None:
    """Put a verdict's decision, signal, rule, policy and code on ``span``."""
    attributes: dict[str, Any] = {
        "agentos.decision": label(verdict.decision),
        "agentos.code": verdict.code,
    }
    if verdict.signal is not None:
        attributes["agentos.signal"] = label(verdict.signal)
    if verdict.rule:
        attributes["agentos.rule"] = verdict.rule
    if verdict.policy:
        attributes["agentos.policy"] = verdict.policy
        attributes["agentos.policy_hash"] = verdict.policy_hash
    classification = getattr(verdict, "classification", None)
    if classification:
        attributes["agentos.classification"] = _text(classification)
    span.set_attributes(attributes)


def _text(value: object) -> str | list[str]:
    if isinstance(value, list | tuple | frozenset | set):
        return sorted(label(v) for v in value)
    return label(value)


def _action_attributes(action: Mapping[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    kind = action.get("action")
    if isinstance(kind, str):
        attributes["agentos.action"] = kind
        # What the action was read as: its declared kind until the tool
        # classifier names one (a verdict's ``classification`` wins then).
        attributes["agentos.classification"] = kind
    tool = action.get("tool")
    if isinstance(tool, str):
        attributes["agentos.tool"] = tool
    agent = action.get("agent_id")
    if isinstance(agent, str):
        attributes["agentos.agent_id"] = agent
    return attributes


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
        if tracer is None or _sampled_out():
            return inner(action, capabilities)
        with tracer.start_as_current_span(
            "agentos.policy", attributes=_action_attributes(action)
        ) as span:
            verdict = inner(action, capabilities)
            verdict_attributes(span, verdict)
            return verdict

    return policy_step


def spanned(
    name: str, describe: Callable[[Any], Mapping[str, Any]] | None = None
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate an async step (a review, a CMVK call) to run in a span called ``name``.

    ``describe(result)`` gives the attributes the span ends with. Off (or in
    an unsampled trace) the step is called as it is.
    """

    def decorate(step: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        async def traced(tracer: Any, args: Any, kwargs: Any) -> R:
            with tracer.start_as_current_span(name) as span:
                result = await step(*args, **kwargs)
                if describe is not None:
                    span.set_attributes(dict(describe(result)))
                return result

        @functools.wraps(step)
        def in_span(*args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
            tracer = STATE.tracer
            if tracer is None or _sampled_out():
                return step(*args, **kwargs)
            return traced(tracer, args, kwargs)

        return in_span

    return decorate


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
            if _sampled_out(parent):  # the agent's trace is not sampled: no spans here either
                token = context.attach(parent)
                try:
                    return await inner(delivery)
                finally:
                    context.detach(token)
            attributes = _messaging(bus, envelope, "process")
            attributes["messaging.delivery.attempt"] = delivery.attempt
            with tracer.start_as_current_span(
                f"process {envelope.subject}",
                context=parent,
                kind=_kind("CONSUMER"),
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
            if tracer is None or _sampled_out():
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
        if tracer is None or _sampled_out():
            return bus.publish(request.reply(body))
        return self._traced_reply(tracer, bus, request, body)

    async def _traced_reply(self, tracer: Any, bus: Bus, request: Envelope, body: bytes) -> None:
        with tracer.start_as_current_span("agentos.verdict", kind=_kind("PRODUCER")) as span:
            reply = request.reply(body, _carrier(_NO_HEADERS))
            span.set_attributes(_messaging(bus, reply, "publish"))
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


# -- the client ----------------------------------------------------------------------


class ClientObserver:
    """The agent side's middleware: check, request and receive; ``metrics`` optional."""

    ROLE = "client"

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    def check(
        self, ask: Callable[P, Awaitable[Verdict]], /, *args: P.args, **kwargs: P.kwargs
    ) -> Awaitable[Verdict]:
        """``ask(*args, **kwargs)`` (the whole check), timed and in an ``agentos.check`` span.

        The first positional argument is read as the action type, ``tool=`` as the tool.
        """
        tracer = STATE.tracer
        if tracer is None and self.metrics is None:
            return ask(*args, **kwargs)
        return self._check(tracer, ask(*args, **kwargs), args[0] if args else None, kwargs)

    async def _check(
        self, tracer: Any, asked: Awaitable[Verdict], action: object, kwargs: Mapping[str, Any]
    ) -> Verdict:
        start = time.perf_counter()
        if tracer is None:
            verdict = await asked
        else:
            start_attributes = _action_attributes({"action": action, "tool": kwargs.get("tool")})
            start_attributes.pop("agentos.classification", None)  # the worker classifies
            with tracer.start_as_current_span(
                "agentos.check", kind=_kind("CLIENT"), attributes=start_attributes
            ) as span:
                verdict = await asked
                verdict_attributes(span, verdict)
        if self.metrics is not None:
            self.metrics.client_verdict(verdict.decision, time.perf_counter() - start)
        return verdict

    def request(
        self, bus: Bus, envelope: Envelope, timeout: float, **options: Any
    ) -> Awaitable[Envelope]:
        """``bus.request`` with the trace context in the headers and bus errors counted.

        ``options`` go to ``bus.request`` as they are (e.g. ``accept=``).
        """
        tracer = STATE.tracer
        if tracer is None and self.metrics is None:
            return bus.request(envelope, timeout, **options)
        return self._request(tracer, bus, envelope, timeout, options)

    async def _request(
        self, tracer: Any, bus: Bus, envelope: Envelope, timeout: float, options: dict[str, Any]
    ) -> Envelope:
        try:
            if tracer is None:
                return await bus.request(envelope, timeout, **options)
            if _sampled_out():  # only the decision travels, so the worker makes no spans either
                envelope = envelope.with_headers(**_carrier(envelope.headers))
                return await bus.request(envelope, timeout, **_read_here(options))
            name = f"publish {envelope.subject}"
            with tracer.start_as_current_span(name, kind=_kind("PRODUCER")) as span:
                envelope = envelope.with_headers(**_carrier(envelope.headers))
                span.set_attributes(_messaging(bus, envelope, "publish"))
                return await bus.request(envelope, timeout, **_read_here(options))
        except BusError as exc:
            if self.metrics is not None:
                self.metrics.bus_error(self.ROLE, exc.code)
            raise

    def dropped(self, reason: str) -> None:
        """Count a reply dropped because it was no valid verdict for the request."""
        if self.metrics is not None:
            self.metrics.client_dropped(reason)

    def receive(self, read: Callable[P, R]) -> Callable[P, R]:
        """Wrap the reading of a reply (the first argument) in an ``agentos.receive`` span.

        The span's parent is the verdict's span when the reply carries its
        context, else the request's. A verdict's decision goes on the span;
        anything else ``read`` returns (why a reply was refused) goes on as
        ``agentos.refused``.
        """
        state = STATE

        def receive_step(*args: P.args, **kwargs: P.kwargs) -> R:
            tracer = state.tracer
            if tracer is None:
                return read(*args, **kwargs)
            from opentelemetry import propagate

            headers = getattr(args[0], "headers", None) if args else None
            parent = propagate.extract(headers) if headers and "traceparent" in headers else None
            if _sampled_out(parent):
                return read(*args, **kwargs)
            with tracer.start_as_current_span("agentos.receive", context=parent) as span:
                result = read(*args, **kwargs)
                if isinstance(result, str):
                    span.set_attributes({"agentos.refused": result})
                elif hasattr(result, "decision"):
                    verdict_attributes(span, result)  # type: ignore[arg-type]
                return result

        return receive_step
