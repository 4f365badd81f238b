"""Span helpers shared by the middleware: context across the bus, sampling, attributes.

OpenTelemetry is imported inside these functions, so nothing here needs it
while tracing is off.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from agent_os.bus import Bus, Envelope

from ._metrics import label
from ._tracing import STATE

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from agent_os.policies._types import Verdict

__all__ = ["spanned", "verdict_attributes"]

P = ParamSpec("P")
R = TypeVar("R")

NO_HEADERS: Mapping[str, str] = {}


def kind(name: str) -> Any:
    from opentelemetry.trace import SpanKind  # imported only once tracing is on

    return getattr(SpanKind, name)


def sampled_out(parent: Any = None) -> bool:
    """True inside a trace the sampler dropped: its child spans would record nothing.

    Skipping them, rather than making spans that are thrown away, is what
    makes a sampled-down deployment cheap (``OTEL_TRACES_SAMPLER``).
    """
    from opentelemetry import trace

    span_context = trace.get_current_span(parent).get_span_context()
    return span_context.is_valid and not span_context.trace_flags.sampled


def carrier(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` plus the current trace context (W3C by default)."""
    from opentelemetry import propagate

    out = dict(headers)
    propagate.inject(out)
    return out


def messaging(bus: Bus, envelope: Envelope, operation: str) -> dict[str, Any]:
    # Attributes given at the start of a span: one locked update instead of one per key.
    return {
        "messaging.system": bus.url.split(":", 1)[0],
        "messaging.destination.name": envelope.subject,
        "messaging.message.id": envelope.id,
        "messaging.operation.type": operation,
    }


def in_current_context(fn: Callable[P, R]) -> Callable[P, R]:
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


def read_here(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``accept`` (if any) run in this context, whichever task calls it."""
    accept = options.get("accept")
    return options if accept is None else {**options, "accept": in_current_context(accept)}


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


def action_attributes(action: Mapping[str, Any]) -> dict[str, Any]:
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
            if tracer is None or sampled_out():
                return step(*args, **kwargs)
            return traced(tracer, args, kwargs)

        return in_span

    return decorate
