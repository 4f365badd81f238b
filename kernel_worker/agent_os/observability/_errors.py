"""Errors of the observability layer.

::

    ObservabilityError
    ├── MetricsError      prometheus-client missing, metric names taken
    └── TracingError      opentelemetry missing, an exporter not installed, bad OTEL_* value
"""

from __future__ import annotations


class ObservabilityError(Exception):
    """Base of the observability errors; ``code`` is stable."""

    code: str = "observability_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class MetricsError(ObservabilityError):
    """Metrics cannot be set up (e.g. prometheus-client missing: "missing_dependency")."""

    code = "metrics_error"


class TracingError(ObservabilityError):
    """Tracing cannot be set up ("missing_dependency", "bad_config")."""

    code = "tracing_error"
