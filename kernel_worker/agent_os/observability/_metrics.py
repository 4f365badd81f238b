"""Prometheus metrics for policy decisions, applied as middleware.

Decision code never touches a metric: :func:`instrumented` wraps a
:data:`Decide` function, times each call and hands the verdict to
:meth:`Metrics.observe`. ``prometheus_client`` is an optional dependency
(``agent-os[observability]``) imported only when metrics are asked for.

Exported series (``namespace`` defaults to ``agent_os``)::

    agent_os_verdicts_total{decision}
    agent_os_violations_total{policy, rule, signal}     every verdict that is not an allow
    agent_os_sigkill_total{policy}
    agent_os_policy_check_duration_seconds               histogram, 1 µs .. 1 s
    agent_os_reviews_total{outcome}                      SIGSTOP review outcomes
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any

from ._errors import MetricsError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from agent_os.policies._types import Verdict

__all__ = ["DURATION_BUCKETS", "Decide", "Metrics", "instrumented", "start_metrics_server"]

# In-process checks take microseconds; the tail buckets catch a slow regex or a stall.
DURATION_BUCKETS = (
    1e-6,
    2.5e-6,
    5e-6,
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    1e-3,
    2.5e-3,
    10e-3,
    100e-3,
    1.0,
)

Decide = Callable[[Mapping[str, Any], frozenset[str] | None], "Verdict"]
"""A decision function: ``(action, capabilities) -> Verdict``; must not raise."""

_INSTALL_HINT = "pip install 'agent-os[observability]'"


def _label(x: object) -> str:
    if x is None:
        return ""
    return str(x.value) if isinstance(x, Enum) else str(x)


def _prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:
        raise MetricsError(
            f"metrics need prometheus-client: {_INSTALL_HINT}", code="missing_dependency"
        ) from exc
    return prometheus_client


class Metrics:
    """The kernel's Prometheus collectors, registered in ``registry``.

    ``registry=None`` means prometheus_client's global default registry, which
    can hold one ``Metrics`` per namespace; a second raises ``metrics_registered``.
    ``KernelSpace(metrics=True)`` uses a private registry instead.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "agent_os"
    ) -> None:
        prom = _prometheus()
        self.registry: CollectorRegistry = prom.REGISTRY if registry is None else registry
        self.namespace = namespace
        common: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        try:
            self.verdicts = prom.Counter(
                "verdicts_total", "Policy verdicts by decision.", ["decision"], **common
            )
            self.violations = prom.Counter(
                "violations_total",
                "Verdicts that are not an allow, by policy, rule and signal.",
                ["policy", "rule", "signal"],
                **common,
            )
            self.sigkill = prom.Counter(
                "sigkill_total", "Actions blocked by SIGKILL, by policy.", ["policy"], **common
            )
            self.duration = prom.Histogram(
                "policy_check_duration_seconds",
                "Time to evaluate one action against policy.",
                buckets=DURATION_BUCKETS,
                **common,
            )
            self.reviews = prom.Counter(
                "reviews_total", "SIGSTOP review outcomes.", ["outcome"], **common
            )
        except ValueError as exc:  # prometheus_client's "Duplicated timeseries"
            raise MetricsError(
                f"agent_os metrics already registered under namespace {namespace!r}: {exc}",
                code="metrics_registered",
            ) from exc

    @classmethod
    def private(cls, *, namespace: str = "agent_os") -> Metrics:
        """Metrics in a fresh registry of their own (never clashes with another ``Metrics``)."""
        return cls(_prometheus().CollectorRegistry(), namespace=namespace)

    def observe(self, verdict: Verdict, seconds: float) -> None:
        """Count ``verdict`` and record that deciding it took ``seconds``."""
        decision = _label(verdict.decision)
        self.duration.observe(seconds)
        self.verdicts.labels(decision=decision).inc()
        if decision != "allow":
            signal = _label(verdict.signal) or "none"
            # A deny without a rule (bad signature, unknown agent) is labelled by its code.
            rule = verdict.rule or verdict.code or ""
            self.violations.labels(policy=verdict.policy, rule=rule, signal=signal).inc()
            if signal == "SIGKILL":
                self.sigkill.labels(policy=verdict.policy).inc()

    def observe_review(self, outcome: object) -> None:
        """Count one SIGSTOP review outcome (approved, denied, timeout)."""
        self.reviews.labels(outcome=_label(outcome)).inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (what ``/metrics`` serves)."""
        return bytes(_prometheus().generate_latest(self.registry))


def instrumented(decide: Decide, metrics: Metrics) -> Decide:
    """Wrap ``decide`` so every call is timed and its verdict observed by ``metrics``."""
    perf_counter = time.perf_counter
    observe = metrics.observe

    def timed(action: Mapping[str, Any], capabilities: frozenset[str] | None) -> Verdict:
        start = perf_counter()
        verdict = decide(action, capabilities)
        observe(verdict, perf_counter() - start)
        return verdict

    return timed


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> Any:
    """Serve ``registry`` (default: the global one) at ``http://addr:port/metrics``.

    Listens on loopback unless told otherwise. Returns whatever
    ``prometheus_client.start_http_server`` returns (server and thread in
    current versions); the server runs in a daemon thread.
    """
    prom = _prometheus()
    return prom.start_http_server(
        port, addr=addr, registry=prom.REGISTRY if registry is None else registry
    )
