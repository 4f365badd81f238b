"""A threaded ``/metrics`` endpoint for processes without an event loop of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._metrics import prometheus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["start_metrics_server"]


def start_metrics_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | None = None
) -> Any:
    """Serve ``registry`` (default: the global one) at ``http://addr:port/metrics``.

    Listens on loopback unless told otherwise. Returns whatever
    ``prometheus_client.start_http_server`` returns (server and thread in
    current versions); the server runs in a daemon thread. A worker serves
    metrics with its health endpoints instead (:class:`HealthServer`).
    """
    prom = prometheus()
    return prom.start_http_server(
        port, addr=addr, registry=prom.REGISTRY if registry is None else registry
    )
