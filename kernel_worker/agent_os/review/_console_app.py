"""The reviewer console: a Starlette app rendered on the server (the ``review`` extra).

Pages: the pending queue (``/``), one item (``/item/{ticket}``) with approve
and deny forms, and the history of decisions (``/history``). New items appear
without a reload: ``/events`` is a server-sent event stream that says when the
queue changed, and the page fetches ``/fragment/queue``. Every page needs a
logged-in reviewer (see ``_console_auth``): without one the answer is 401 and
the login form. Every form carries a CSRF token (see ``_console_pages``).

A decision is signed by the console's key on behalf of the logged-in reviewer
(their name is in the signed message and the store), applied with
:func:`take_decision`, audited on the bus and announced to the desks. The
console runs a :class:`ReviewDesk` of its own, so agents that pin its key hear
its decisions even with no worker running. All state is in the store: a
restarted console shows exactly what it showed before.

With ``ConsoleConfig.metrics`` the app also serves ``/metrics`` (no login;
see ``_console_metrics``): queue depth and oldest age, decisions by outcome,
and its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from agent_os.audit import AuditPublisher
from agent_os.bus import Bus, connect
from agent_os.observability import Metrics
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry

from ._console_auth import load_tokens
from ._console_metrics import instrumented
from ._console_pages import Pages, clock, queue_rows
from ._decision import sign_decision
from ._desk import ReviewDesk
from ._errors import DecisionRefused, ReviewError
from ._item import Status, format_age
from ._queue import take_decision
from ._store import ReviewStore, open_review_store
from ._verdicts import final_verdict, outcome_event

__all__ = ["ConsoleConfig", "create_app", "serve", "store_ready"]

log = logging.getLogger("agent_os.review.console")

#: Seconds between the console's looks at the store (live updates, expiry).
REFRESH = 1.0


@dataclass
class ConsoleConfig:
    """What the console serves: the store, who may decide, and how people log in.

    ``metrics``: serve ``/metrics`` from these collectors (``None``: no metrics).
    """

    store: ReviewStore
    registry: TrustRegistry
    identity: AgentIdentity
    bus_url: str | None = None
    tokens: dict[str, str] | None = None
    auth_header: str | None = None
    secure_cookies: bool = False
    metrics: Metrics | None = None

    def __post_init__(self) -> None:
        if (self.tokens is None) == (self.auth_header is None):
            raise ValueError("configure exactly one login: a token file or a proxy header")

    @classmethod
    def build(
        cls,
        *,
        store: str,
        bus_url: str | None,
        registry_file: str | os.PathLike[str],
        key_file: str | os.PathLike[str],
        token_file: str | os.PathLike[str] | None,
        auth_header: str | None,
        secure_cookies: bool = False,
        metrics: Metrics | None = None,
    ) -> ConsoleConfig:
        return cls(
            store=open_review_store(store),
            registry=TrustRegistry(FileTrustStore(registry_file, recheck=1.0)),
            identity=AgentIdentity.load(key_file),
            bus_url=bus_url,
            tokens=None if token_file is None else load_tokens(token_file),
            auth_header=auth_header,
            secure_cookies=secure_cookies,
            metrics=metrics,
        )


#: What the item page says after a decision (``?done=``).
_DONE = {
    "approved": "Approved: the action may run.",
    "denied": "Denied: the action will not run.",
    "recorded": "Approval recorded; another reviewer must approve too.",
}


async def store_ready(store: ReviewStore) -> bool | str:
    """Readiness of the console: its review store answers."""
    try:
        await asyncio.to_thread(store.history, 1)
    except ReviewError as exc:
        return str(exc)
    return True


class _Console:
    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.pages = Pages(
            identity=config.identity,
            registry=config.registry,
            tokens=config.tokens,
            auth_header=config.auth_header,
            secure_cookies=config.secure_cookies,
        )
        self.bus: Bus | None = None
        self.audit: AuditPublisher | None = None
        self.desk: ReviewDesk | None = None
        self._expiry: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.config.bus_url is not None:
            self.bus = await connect(self.config.bus_url)
            # Signed by the console's key: every event it publishes names the console.
            self.audit = AuditPublisher(self.bus, signer=self.config.identity)
            self.desk = ReviewDesk(
                self.bus,
                self.config.store,
                identity=self.config.identity,
                registry=self.config.registry,
                record=self.audit.put,
                observe=None if self.config.metrics is None else self.config.metrics.observe_review,
            )
            await self.desk.start()
        self._expiry = asyncio.create_task(self._expire_loop())
        try:
            yield
        finally:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
            if self.desk is not None:
                await self.desk.shutdown()
            if self.audit is not None:
                await self.audit.close()
            if self.bus is not None:
                await self.bus.close()

    async def _expire_loop(self) -> None:
        # Settles overdue items in the store so the history shows them (and audits each once).
        while True:
            await asyncio.sleep(REFRESH)
            try:
                expired = await asyncio.to_thread(self.config.store.expire)
            except ReviewError as exc:
                log.warning("review store: %s", exc)
                continue
            now = time.time()
            for item in expired:
                if self.audit is not None:
                    verdict = final_verdict(item, self.config.registry, now).bound(
                        item.request_id, self.config.identity.agent_id, 0.0
                    )
                    await self.audit.put(outcome_event(item, verdict, now))

    def decided(self, outcome: str) -> None:
        if self.config.metrics is not None:
            self.config.metrics.review_decision(outcome)


def create_app(config: ConsoleConfig) -> Starlette:
    """The console as an ASGI app (its lifespan connects the bus and starts a desk)."""
    console = _Console(config)
    pages = console.pages

    async def queue(request: Request, who: str) -> Response:
        rows = await asyncio.to_thread(queue_rows, config.store, time.time())
        return pages.render(request, "queue.html", reviewer=who, rows=rows)

    async def fragment(request: Request, who: str) -> Response:
        rows = await asyncio.to_thread(queue_rows, config.store, time.time())
        return pages.render(request, "_rows.html", reviewer=who, rows=rows)

    async def item(request: Request, who: str) -> Response:
        found = await asyncio.to_thread(config.store.find, request.path_params["ticket"])
        if found is None:
            return pages.render(request, "error.html", 404, reviewer=who, message="No such item.")
        now = time.time()
        return pages.render(
            request,
            "item.html",
            reviewer=who,
            item=found,
            status=found.status_at(now).value,
            pending=found.status_at(now) is Status.PENDING,
            already=who in found.approvers(),
            args=json.dumps(dict(found.args), indent=2, ensure_ascii=False),
            age=format_age(now - found.created_at),
            left=format_age(found.deadline - now),
            created=clock(found.created_at),
            deadline=clock(found.deadline),
            decided=clock(found.decided_at),
            clock=clock,
            # Only fixed texts: a link cannot put words of its own on the page.
            message=_DONE.get(request.query_params.get("done", ""), ""),
        )

    async def decide(request: Request, who: str) -> Response:
        fields = await pages.csrf_checked(request)
        if fields is None:
            return pages.render(
                request, "error.html", 403, reviewer=who, message="CSRF token missing or wrong."
            )
        ticket = request.path_params["ticket"]
        choice = fields.get("decision")
        if choice not in ("approve", "deny"):
            return pages.render(request, "error.html", 400, reviewer=who, message="Bad decision.")
        signed = sign_decision(
            config.identity,
            ticket,
            approve=choice == "approve",
            comment=fields.get("comment", "").strip(),
            reviewer=who,
        )
        record = console.audit.put if console.audit is not None else None
        try:
            settled = await take_decision(
                config.store, config.registry, signed, bus=console.bus, record=record
            )
        except DecisionRefused as exc:
            console.decided("refused")
            return pages.render(request, "error.html", 409, reviewer=who, message=f"Refused: {exc}")
        done = settled.status.value if settled.status.final else "recorded"
        console.decided(done)
        return RedirectResponse(f"/item/{ticket}?done={done}", status_code=303)

    async def history(request: Request, who: str) -> Response:
        items = await asyncio.to_thread(config.store.history, 200)
        return pages.render(request, "history.html", reviewer=who, items=items, clock=clock)

    async def events(request: Request, who: str) -> Response:
        return StreamingResponse(
            _changes(request, config.store),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def store_down(request: Request, exc: Exception) -> Response:
        # A store that cannot be reached is a page saying so, never a decision taken.
        log.warning("review store: %s", exc)
        message = f"The review store is unavailable: {exc}"
        return pages.render(request, "error.html", 503, message=message)

    observed, middleware = instrumented(config.metrics, config.store)
    return Starlette(
        routes=[
            *observed,
            Route("/", pages.page(queue)),
            Route("/fragment/queue", pages.page(fragment)),
            Route("/item/{ticket}", pages.page(item)),
            Route("/item/{ticket}/decide", pages.page(decide), methods=["POST"]),
            Route("/history", pages.page(history)),
            Route("/events", pages.page(events)),
            Route("/login", pages.login_page),
            Route("/login", pages.login, methods=["POST"]),
            Route("/logout", pages.logout, methods=["POST"]),
        ],
        middleware=middleware,
        lifespan=console.lifespan,
        exception_handlers={ReviewError: store_down},
    )


async def _changes(request: Request, store: ReviewStore) -> AsyncIterator[str]:
    """Server-sent events: ``change`` whenever the pending queue differs, ``tick`` otherwise."""
    last = ""
    ticks = 0
    yield "retry: 2000\n\n"
    while not await request.is_disconnected():
        try:
            pending = await asyncio.to_thread(store.pending)
        except ReviewError:
            pending = []
        mark = hashlib.sha256(
            "|".join(f"{i.ticket}:{len(i.decisions)}" for i in pending).encode()
        ).hexdigest()
        if mark != last:
            last = mark
            yield f"event: change\ndata: {len(pending)}\n\n"
        elif ticks % 5 == 0:
            yield "event: tick\ndata: \n\n"
        ticks += 1
        await asyncio.sleep(REFRESH)


async def serve(config: ConsoleConfig, addr: str, port: int) -> None:
    """Run the console until SIGTERM / SIGINT."""
    if addr not in ("127.0.0.1", "::1", "localhost"):
        log.warning("console listening on %s: make sure only reviewers can reach it", addr)
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host=addr, port=port, log_level="warning")
    )
    try:
        await server.serve()
    finally:
        config.store.close()
