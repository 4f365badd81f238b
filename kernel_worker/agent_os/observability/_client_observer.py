"""The agent side's middleware: the check, its request on the bus, the reading of replies."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from agent_os.bus import Bus, BusError, Envelope

from ._metrics import Metrics
from ._spans import (
    action_attributes,
    carrier,
    kind,
    messaging,
    read_here,
    sampled_out,
    verdict_attributes,
)
from ._tracing import STATE

if TYPE_CHECKING:
    from agent_os.policies._types import Verdict

__all__ = ["ClientObserver"]

P = ParamSpec("P")
R = TypeVar("R")


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
            start_attributes = action_attributes({"action": action, "tool": kwargs.get("tool")})
            start_attributes.pop("agentos.classification", None)  # the worker classifies
            with tracer.start_as_current_span(
                "agentos.check", kind=kind("CLIENT"), attributes=start_attributes
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
            if sampled_out():  # only the decision travels, so the worker makes no spans either
                envelope = envelope.with_headers(**carrier(envelope.headers))
                return await bus.request(envelope, timeout, **read_here(options))
            name = f"publish {envelope.subject}"
            with tracer.start_as_current_span(name, kind=kind("PRODUCER")) as span:
                envelope = envelope.with_headers(**carrier(envelope.headers))
                span.set_attributes(messaging(bus, envelope, "publish"))
                return await bus.request(envelope, timeout, **read_here(options))
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
            if sampled_out(parent):
                return read(*args, **kwargs)
            with tracer.start_as_current_span("agentos.receive", context=parent) as span:
                result = read(*args, **kwargs)
                if isinstance(result, str):
                    span.set_attributes({"agentos.refused": result})
                elif hasattr(result, "decision"):
                    verdict_attributes(span, result)  # type: ignore[arg-type]
                return result

        return receive_step
