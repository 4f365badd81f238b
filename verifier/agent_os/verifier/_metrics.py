"""Prometheus series of the verifier (``prometheus_client`` imported when built).

- ``agent_os_cmvk_verifications_total{outcome}``: agreed / flagged / inconclusive
- ``agent_os_cmvk_model_latency_seconds{model}``: each answering model's latency
- ``agent_os_cmvk_model_errors_total{model,code}``: each failed model call, by error code
- ``agent_os_cmvk_agreement``: the agreement score of decided verifications
- ``agent_os_cmvk_cache_hits_total``: results the cache gave (a question asked
  again, a redelivered request) instead of the models
- ``agent_os_cmvk_reviews_total``: review items disagreements opened
- ``agent_os_cmvk_cache_refused_total`` / ``agent_os_cmvk_cache_errors_total``:
  cache entries that did not verify (forged, tampered, moved, expired: worth
  an alert) and failed cache calls, read from a watched cache at each scrape
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._consensus import ConsensusResult
from ._errors import ConfigurationError


class Metrics:
    """The verifier's series on ``registry`` (the default registry when ``None``)."""

    def __init__(self, registry: Any = None) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise ConfigurationError(
                "metrics need prometheus-client: pip install 'agent-os[observability]'"
            ) from None
        reg = registry if registry is not None else prom.REGISTRY
        self._registry = reg
        self.verifications = prom.Counter(
            "agent_os_cmvk_verifications_total",
            "Verifications by outcome.",
            ["outcome"],
            registry=reg,
        )
        self.latency = prom.Histogram(
            "agent_os_cmvk_model_latency_seconds",
            "Latency of each model's answer.",
            ["model"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=reg,
        )
        self.errors = prom.Counter(
            "agent_os_cmvk_model_errors_total",
            "Failed model calls by error code.",
            ["model", "code"],
            registry=reg,
        )
        self.agreement = prom.Histogram(
            "agent_os_cmvk_agreement",
            "Agreement score of decided verifications.",
            buckets=(0.2, 0.34, 0.5, 0.6, 0.67, 0.75, 0.8, 0.9, 1.0),
            registry=reg,
        )

        self.cache_hits = prom.Counter(
            "agent_os_cmvk_cache_hits_total",
            "Results the cache gave instead of the models.",
            registry=reg,
        )
        self.reviews = prom.Counter(
            "agent_os_cmvk_reviews_total",
            "Review items opened for disagreements.",
            registry=reg,
        )

    def observe(self, result: ConsensusResult) -> None:
        """Record one verification; a cache hit is counted as such, not as a verification."""
        if result.cached:
            self.cache_hits.inc()
            return
        if result.review_ticket is not None:
            self.reviews.inc()
        self.verifications.labels(result.outcome).inc()
        for model in result.models:
            if model.answer is None:
                self.errors.labels(model.model, model.error_code or "unknown").inc()
            else:
                self.latency.labels(model.model).observe(model.latency_s)
        if result.outcome != "inconclusive":
            self.agreement.observe(result.agreement)

    def watch_cache(self, cache: object) -> None:
        """Read ``cache``'s refused entries and errors at each scrape (``RedisResultCache``)."""
        self._registry.register(_CacheCounts(cache))


class _CacheCounts:
    """A collector of a cache's own counters (``rejected``, ``errors``)."""

    def __init__(self, cache: object) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        yield CounterMetricFamily(
            "agent_os_cmvk_cache_refused",
            "Cache entries that did not verify (forged, tampered, moved or expired).",
            value=getattr(self._cache, "rejected", 0),
        )
        yield CounterMetricFamily(
            "agent_os_cmvk_cache_errors",
            "Cache calls that failed (answered by the models instead).",
            value=getattr(self._cache, "errors", 0),
        )
