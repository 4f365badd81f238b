"""OpenTelemetry tracing: :func:`enable_tracing` and the state the middleware reads.

Tracing is off until :func:`enable_tracing` is called. While it is off the
middleware in ``_middleware`` reads one attribute (:data:`STATE.tracer` is
None) and calls straight through: no span, no context, no header.

Exporters follow the standard variables: ``OTEL_TRACES_EXPORTER`` (``otlp``
by default, ``console``, ``none``, or any installed exporter's entry-point
name), ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` (``http/protobuf`` by default,
``grpc`` needs ``opentelemetry-exporter-otlp-proto-grpc``),
``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` and headers (read by the exporter
itself), ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``,
``OTEL_TRACES_SAMPLER`` and ``OTEL_BSP_*``. Context crosses the bus as W3C
``traceparent`` / ``tracestate`` envelope headers (``OTEL_PROPAGATORS`` may
choose others).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ._errors import TracingError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

__all__ = ["STATE", "TRACER_NAME", "disable_tracing", "enable_tracing", "tracing_enabled"]

#: The instrumentation scope of every Agent OS span.
TRACER_NAME = "agent_os"
_INSTALL_HINT = "pip install 'agent-os[observability]'"
_OTLP_BY_PROTOCOL = {
    "http/protobuf": ("otlp_proto_http", "opentelemetry-exporter-otlp-proto-http"),
    "grpc": ("otlp_proto_grpc", "opentelemetry-exporter-otlp-proto-grpc"),
}


class _State:
    """What the middleware reads on every call: the tracer, or None when off."""

    __slots__ = ("provider", "tracer")

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.provider: TracerProvider | None = None


STATE = _State()


def tracing_enabled() -> bool:
    """True between :func:`enable_tracing` and :func:`disable_tracing`."""
    return STATE.tracer is not None


def enable_tracing(
    service_name: str | None = None,
    *,
    console: bool = False,
    provider: TracerProvider | None = None,
) -> TracerProvider:
    """Turn on OpenTelemetry tracing for every kernel, worker and client in this process.

    With no arguments, spans go to the exporters named by the ``OTEL_*``
    variables (OTLP over HTTP by default). ``console=True`` prints spans to
    stdout instead (for the demo). ``provider`` uses a tracer provider the
    application already configured (its processors and exporters as they
    are). The service name is ``OTEL_SERVICE_NAME`` if set, else
    ``service_name``, else ``agent-os``.
    The first provider made here also becomes OpenTelemetry's global one.
    Returns the provider in use; call its ``shutdown()`` at exit to flush.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError as exc:
        raise TracingError(
            f"tracing needs opentelemetry-sdk: {_INSTALL_HINT}", code="missing_dependency"
        ) from exc

    if provider is None:
        # The deployment's OTEL_SERVICE_NAME wins over the program's default name.
        name = os.environ.get("OTEL_SERVICE_NAME") or service_name or "agent-os"
        # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES.
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if console:
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            # sys.stdout as it is now (the exporter's default is bound at import).
            provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
        else:
            for exporter in exporters_from_env():
                provider.add_span_processor(BatchSpanProcessor(exporter))
        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            trace.set_tracer_provider(provider)
    STATE.provider = provider
    STATE.tracer = provider.get_tracer(TRACER_NAME)
    return provider


def disable_tracing() -> None:
    """Turn tracing off again (spans already started still end). Does not shut the provider."""
    STATE.tracer = None
    STATE.provider = None


def exporters_from_env(environ: Any = None) -> list[SpanExporter]:
    """The span exporters ``OTEL_TRACES_EXPORTER`` names (default ``otlp``)."""
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        entry, package = name, f"the package providing exporter {name!r}"
        if name == "otlp":
            protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
            )
            if protocol not in _OTLP_BY_PROTOCOL:
                raise TracingError(
                    f"unknown OTLP protocol {protocol!r}; use one of {sorted(_OTLP_BY_PROTOCOL)}",
                    code="bad_config",
                )
            entry, package = _OTLP_BY_PROTOCOL[protocol]
        found = entry_points(group="opentelemetry_traces_exporter", name=entry)
        if not found:
            raise TracingError(
                f"no span exporter {entry!r} installed (OTEL_TRACES_EXPORTER={name}): "
                f"pip install {package}",
                code="missing_dependency",
            )
        exporter_class = next(iter(found)).load()
        exporters.append(exporter_class())
    return exporters
