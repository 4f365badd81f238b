"""Errors of the observability layer."""

from __future__ import annotations


class MetricsError(Exception):
    """Metrics cannot be set up (e.g. prometheus-client missing: "missing_dependency")."""

    code: str = "metrics_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
