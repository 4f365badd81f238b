"""Prometheus metrics for the kernel, its workers and its clients.

Decision code never touches a metric: the middleware in ``_middleware``
wraps decide functions, bus handlers and client checks and reports to a
:class:`Metrics`. ``prometheus_client`` is an optional dependency
(``agent-os[observability]``) imported only when metrics are asked for.

The collectors of one registry and namespace are made once and shared: every
``Metrics()`` on prometheus_client's default registry (what
``KernelSpace(metrics=True)`` and ``agent-os worker`` use) reports into the
same series, so ``generate_latest()`` shows them and several kernels in one
process never clash.

Exported series (``namespace`` defaults to ``agent_os``)::

    agent_os_verdicts_total{decision}
    agent_os_violations_total{policy, rule, signal}     every verdict that is not an allow
    agent_os_sigkill_total{policy}
    agent_os_policy_check_duration_seconds               histogram, 1 µs .. 1 s
    agent_os_reviews_total{outcome}                      SIGSTOP review outcomes
    agent_os_policy_info{policy, hash}                   1 for each policy being served
    agent_os_worker_requests_in_flight                   requests a worker is judging now
    agent_os_worker_concurrency_limit                    how many it may judge at once
    agent_os_worker_request_duration_seconds             receive to verdict sent, in the worker
    agent_os_bus_errors_total{role, code}                bus failures (worker, client)
    agent_os_client_verdict_duration_seconds{decision}   check to verdict, as the agent sees it
    agent_os_client_dropped_replies_total{reason}        replies that were no valid verdict
    agent_os_review_refused_total{code}                  holds denied by a cap on pending items
    agent_os_review_queue_depth                          pending review items
    agent_os_review_oldest_age_seconds                   age of the oldest pending item
    agent_os_review_decisions_total{outcome}             reviewers' decisions taken in a console
    agent_os_console_requests_total{method, route, status}   requests the review console served
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ._errors import MetricsError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    from agent_os.policies._types import Verdict

__all__ = ["DURATION_BUCKETS", "ROUND_TRIP_BUCKETS", "Metrics", "prometheus"]

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
# A verdict over a bus takes from a fraction of a millisecond (NATS) to tens (SQS);
# a held action (review) can take minutes.
ROUND_TRIP_BUCKETS = (
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    1.0,
    5.0,
    30.0,
)

_INSTALL_HINT = "pip install 'agent-os[observability]'"


def label(x: object) -> str:
    """A label value: an enum's value, ``""`` for None, else ``str(x)``."""
    if x is None:
        return ""
    return str(x.value) if isinstance(x, Enum) else str(x)


def prometheus() -> Any:
    """The ``prometheus_client`` module, or ``MetricsError("missing_dependency")``."""
    try:
        import prometheus_client
    except ImportError as exc:
        raise MetricsError(
            f"metrics need prometheus-client: {_INSTALL_HINT}", code="missing_dependency"
        ) from exc
    return prometheus_client


@dataclass(frozen=True, slots=True)
class _Collectors:
    verdicts: Counter
    violations: Counter
    sigkill: Counter
    duration: Histogram
    reviews: Counter
    review_refused: Counter
    policy_info: Gauge
    in_flight: Gauge
    concurrency: Gauge
    request_duration: Histogram
    bus_errors: Counter
    client_duration: Histogram
    client_dropped: Counter
    review_depth: Gauge
    review_oldest: Gauge
    review_decisions: Counter
    console_requests: Counter


def _make(prom: Any, registry: CollectorRegistry, namespace: str) -> _Collectors:
    common: dict[str, Any] = {"namespace": namespace, "registry": registry}
    return _Collectors(
        verdicts=prom.Counter(
            "verdicts_total", "Policy verdicts by decision.", ["decision"], **common
        ),
        violations=prom.Counter(
            "violations_total",
            "Verdicts that are not an allow, by policy, rule and signal.",
            ["policy", "rule", "signal"],
            **common,
        ),
        sigkill=prom.Counter(
            "sigkill_total", "Actions blocked by SIGKILL, by policy.", ["policy"], **common
        ),
        duration=prom.Histogram(
            "policy_check_duration_seconds",
            "Time to evaluate one action against policy.",
            buckets=DURATION_BUCKETS,
            **common,
        ),
        reviews=prom.Counter("reviews_total", "SIGSTOP review outcomes.", ["outcome"], **common),
        review_refused=prom.Counter(
            "review_refused_total",
            "SIGSTOP holds denied without review because a cap on pending items is reached:"
            " review_backlog (the agent's), review_queue_full (the store's).",
            ["code"],
            **common,
        ),
        policy_info=prom.Gauge(
            "policy_info",
            "1 for each policy being served, labelled with its name and content hash.",
            ["policy", "hash"],
            **common,
        ),
        in_flight=prom.Gauge(
            "worker_requests_in_flight", "Requests the kernel workers are judging now.", **common
        ),
        concurrency=prom.Gauge(
            "worker_concurrency_limit",
            "Requests the kernel workers may judge at once (the saturation denominator).",
            **common,
        ),
        request_duration=prom.Histogram(
            "worker_request_duration_seconds",
            "Time from a request's delivery to its verdict being sent, in the worker.",
            buckets=ROUND_TRIP_BUCKETS,
            **common,
        ),
        bus_errors=prom.Counter(
            "bus_errors_total",
            "Bus failures by role (worker, client) and stable error code.",
            ["role", "code"],
            **common,
        ),
        client_duration=prom.Histogram(
            "client_verdict_duration_seconds",
            "Time from an agent's check to its verdict, as the agent sees it.",
            ["decision"],
            buckets=ROUND_TRIP_BUCKETS,
            **common,
        ),
        client_dropped=prom.Counter(
            "client_dropped_replies_total",
            "Replies a client dropped because they were no valid verdict for its request.",
            ["reason"],
            **common,
        ),
        review_depth=prom.Gauge("review_queue_depth", "Review items pending a decision.", **common),
        review_oldest=prom.Gauge(
            "review_oldest_age_seconds",
            "Age of the oldest review item pending a decision (0 when none).",
            **common,
        ),
        review_decisions=prom.Counter(
            "review_decisions_total",
            "Reviewers' decisions taken in a console: approved, denied (final), recorded"
            " (an approval that needs more), refused (late, repeated, not allowed).",
            ["outcome"],
            **common,
        ),
        console_requests=prom.Counter(
            "console_requests_total",
            "Requests the review console answered, by method, route template and status.",
            ["method", "route", "status"],
            **common,
        ),
    )


# One set of collectors per (registry, namespace), made on first use.
_shared: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Collectors]] = (
    weakref.WeakKeyDictionary()
)
_shared_lock = threading.Lock()


def _collectors(prom: Any, registry: CollectorRegistry, namespace: str) -> _Collectors:
    with _shared_lock:
        by_namespace = _shared.setdefault(registry, {})
        found = by_namespace.get(namespace)
        if found is None:
            try:
                found = _make(prom, registry, namespace)
            except ValueError as exc:  # prometheus_client's "Duplicated timeseries"
                raise MetricsError(
                    f"{namespace} metric names already taken in this registry "
                    f"by collectors Agent OS did not make: {exc}",
                    code="metrics_registered",
                ) from exc
            by_namespace[namespace] = found
        return found


class Metrics:
    """The kernel's Prometheus collectors in ``registry`` (default: the global one).

    Every ``Metrics`` on the same registry and namespace shares one set of
    collectors, so any number of kernels, workers and clients in a process
    report into the same series. :meth:`private` makes a fresh registry.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "agent_os"
    ) -> None:
        prom = prometheus()
        self.registry: CollectorRegistry = prom.REGISTRY if registry is None else registry
        self.namespace = namespace
        c = _collectors(prom, self.registry, namespace)
        self._c = c
        self.verdicts = c.verdicts
        self.violations = c.violations
        self.sigkill = c.sigkill
        self.duration = c.duration
        self.reviews = c.reviews
        self.in_flight = c.in_flight
        self.request_duration = c.request_duration
        self.client_duration = c.client_duration

    @classmethod
    def private(cls, *, namespace: str = "agent_os") -> Metrics:
        """Metrics in a fresh registry of their own (never shares series with another)."""
        return cls(prometheus().CollectorRegistry(), namespace=namespace)

    # -- decisions ------------------------------------------------------------

    def observe(self, verdict: Verdict, seconds: float) -> None:
        """Count ``verdict`` and record that deciding it took ``seconds``."""
        decision = label(verdict.decision)
        self.duration.observe(seconds)
        self.verdicts.labels(decision=decision).inc()
        if decision != "allow":
            signal = label(verdict.signal) or "none"
            # A deny without a rule (bad signature, unknown agent) is labelled by its code.
            rule = verdict.rule or verdict.code or ""
            self.violations.labels(policy=verdict.policy, rule=rule, signal=signal).inc()
            if signal == "SIGKILL":
                self.sigkill.labels(policy=verdict.policy).inc()

    def observe_review(self, outcome: object) -> None:
        """Count one SIGSTOP review outcome (approved, denied, timeout)."""
        self.reviews.labels(outcome=label(outcome)).inc()

    def review_refused(self, code: str) -> None:
        """Count one SIGSTOP hold denied by a cap on pending review items."""
        self._c.review_refused.labels(code=code).inc()

    def serving(self, policy: str, policy_hash: str) -> None:
        """Announce that ``policy`` with content hash ``policy_hash`` is being served."""
        self._c.policy_info.labels(policy=policy, hash=policy_hash).set(1)

    def retired(self, policy: str, policy_hash: str) -> None:
        """Withdraw :meth:`serving` (a policy rotated out)."""
        with contextlib.suppress(KeyError):
            self._c.policy_info.remove(policy, policy_hash)

    # -- workers and clients ----------------------------------------------------

    def capacity(self, added: int) -> None:
        """A worker able to judge ``added`` requests at once started (negative: stopped)."""
        self._c.concurrency.inc(added)

    def bus_error(self, role: str, code: str) -> None:
        """Count one bus failure with its stable ``code`` on the ``role`` side."""
        self._c.bus_errors.labels(role=role, code=code).inc()

    def client_verdict(self, decision: object, seconds: float) -> None:
        """Record a verdict as the agent saw it, ``seconds`` after asking."""
        self._c.client_duration.labels(decision=label(decision)).observe(seconds)

    def client_dropped(self, reason: str) -> None:
        """Count a reply dropped by a client (forged, unpinned, another request's)."""
        self._c.client_dropped.labels(reason=reason).inc()

    # -- review queue (set by the review store's owner) -----------------------------

    def review_queue(self, depth: int, oldest_age_seconds: float) -> None:
        """Set the pending review items and the age of the oldest (0 when none)."""
        self._c.review_depth.set(depth)
        self._c.review_oldest.set(oldest_age_seconds if depth else 0.0)

    def review_decision(self, outcome: str) -> None:
        """Count one reviewer's decision taken in a console (see the series' help)."""
        self._c.review_decisions.labels(outcome=outcome).inc()

    def console_request(self, method: str, route: str, status: int) -> None:
        """Count one console request (``route``: the route's template, never the raw path)."""
        self._c.console_requests.labels(method=method, route=route, status=str(status)).inc()

    def watch_review_queue(
        self, pending: Callable[[], Iterable[float]], *, max_age: float = 1.0
    ) -> None:
        """Read the review queue at each scrape: ``pending()`` gives pending items' creation times.

        One call serves both gauges (and any scrape within ``max_age`` seconds).
        A ``pending`` that raises leaves the last values. Scrapes run off the
        event loop (see ``HealthServer``), so ``pending`` may block briefly.
        """
        lock = threading.Lock()
        cache: dict[str, float] = {"at": -max_age - 1.0, "depth": 0.0, "oldest": 0.0}

        def sample(key: str) -> float:
            with lock:
                now = time.monotonic()
                if now - cache["at"] > max_age:
                    try:
                        created = list(pending())
                    except Exception:  # a store that is down keeps the last figures
                        return cache[key]
                    wall = time.time()
                    cache["depth"] = float(len(created))
                    cache["oldest"] = max(0.0, wall - min(created)) if created else 0.0
                    cache["at"] = now
                return cache[key]

        self._c.review_depth.set_function(lambda: sample("depth"))
        self._c.review_oldest.set_function(lambda: sample("oldest"))

    def exposition(self) -> bytes:
        """The registry in Prometheus text format (what ``/metrics`` serves)."""
        return bytes(prometheus().generate_latest(self.registry))
