"""Metrics (Prometheus), and later tracing and health, for the kernel."""

from ._errors import MetricsError
from ._metrics import DURATION_BUCKETS, Decide, Metrics, instrumented, start_metrics_server

__all__ = [
    "DURATION_BUCKETS",
    "Decide",
    "Metrics",
    "MetricsError",
    "instrumented",
    "start_metrics_server",
]
