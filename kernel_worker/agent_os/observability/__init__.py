"""Observability: Prometheus metrics, OpenTelemetry tracing and health endpoints.

``KernelSpace(metrics=True)`` and ``agent-os worker`` report on
prometheus_client's default registry; ``enable_tracing()`` turns on spans
that follow one action from the agent's check across the bus to the worker's
verdict and back. Instrumentation is middleware (``_middleware``): the
kernel's own code never touches a metric or a span.
"""

from ._client_observer import ClientObserver
from ._errors import MetricsError, ObservabilityError, TracingError
from ._health import Check, HealthServer, Readiness
from ._metrics import DURATION_BUCKETS, ROUND_TRIP_BUCKETS, Metrics
from ._middleware import Decide, WorkerObserver, instrumented, observed
from ._server import start_metrics_server
from ._spans import spanned
from ._tracing import disable_tracing, enable_tracing, tracing_enabled

__all__ = [
    "DURATION_BUCKETS",
    "ROUND_TRIP_BUCKETS",
    "Check",
    "ClientObserver",
    "Decide",
    "HealthServer",
    "Metrics",
    "MetricsError",
    "ObservabilityError",
    "Readiness",
    "TracingError",
    "WorkerObserver",
    "disable_tracing",
    "enable_tracing",
    "instrumented",
    "observed",
    "spanned",
    "start_metrics_server",
    "tracing_enabled",
]
