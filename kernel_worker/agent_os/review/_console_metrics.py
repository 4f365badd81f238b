"""The console's ``/metrics``: the review queue it reads, the decisions taken in it, its requests.

Series come from :class:`agent_os.observability.Metrics` (the same collectors
a worker exports, so one dashboard reads both):

* ``agent_os_review_queue_depth`` and ``agent_os_review_oldest_age_seconds``,
  read from the store at scrape time (cached for a second);
* ``agent_os_review_decisions_total{outcome}``: each decision a reviewer
  took here, ``approved`` / ``denied`` (final), ``recorded`` (an approval that
  needs more reviewers) or ``refused``;
* ``agent_os_reviews_total{outcome}``: outcomes the console's review desk
  handed to agents, as a worker's desk counts them;
* ``agent_os_console_requests_total{method, route, status}``, counted by an
  ASGI middleware, labelled by the route's template (``/item/{ticket}``) so a
  ticket never becomes a label.

``/metrics`` needs no login: it holds counts, never an action's content. In
Kubernetes Prometheus scrapes the console's separate metrics port
(``--metrics-port``), so it never needs to reach the port that trusts the
proxy's login header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_os.observability import Metrics

from ._store import ReviewStore

__all__ = ["CountRequests", "instrumented", "metrics_endpoint", "watch_store"]

#: The route label of a request no route matched (a 404): raw paths never become labels.
UNMATCHED = "unmatched"


def watch_store(metrics: Metrics, store: ReviewStore) -> None:
    """Report ``store``'s pending items as the queue gauges, read at each scrape."""
    metrics.watch_review_queue(lambda: [item.created_at for item in store.pending()])


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` endpoint serving ``metrics``' registry in the Prometheus text format."""
    # Installed whenever a Metrics exists (it is what made the collectors).
    from prometheus_client import CONTENT_TYPE_LATEST

    async def endpoint(request: Request) -> Response:
        # A scrape reads the store (the queue gauges): off the event loop.
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return endpoint


class CountRequests:
    """ASGI middleware: count each HTTP request by method, route template and status.

    A request that fails before answering counts as 500 (what the server sends).
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router put the matched route in this same scope.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.console_request(str(scope["method"]), str(route), status)


def instrumented(
    metrics: Metrics | None, store: ReviewStore
) -> tuple[list[Route], list[Middleware]]:
    """The ``/metrics`` route and the request counter for the console app (none without metrics)."""
    if metrics is None:
        return [], []
    watch_store(metrics, store)
    return (
        [Route("/metrics", metrics_endpoint(metrics))],
        [Middleware(CountRequests, metrics=metrics)],
    )
