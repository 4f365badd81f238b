"""The console's pages: who is asking, rendering with CSRF and security headers, login.

Every page needs a logged-in reviewer (see ``_console_auth``): without one
the answer is 401 and the login form. Every rendered page carries a CSRF
token for its forms, and every POST checks it. Pages are never cached or
framed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry

from ._console_auth import CSRF_COOKIE, SESSION_COOKIE, Sessions
from ._item import ReviewItem, format_age
from ._store import ReviewStore

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def clock(ts: float | None) -> str:
    """A time stamp as the pages show it."""
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _args_preview(item: ReviewItem) -> str:
    text = json.dumps(dict(item.args), ensure_ascii=False)
    return text if len(text) <= 160 else text[:159] + "\u2026"


def queue_rows(store: ReviewStore, now: float) -> list[dict[str, Any]]:
    """The pending queue as the queue page lists it."""
    return [
        {
            "item": item,
            "what": item.action + (f" / {item.tool}" if item.tool else ""),
            "args": _args_preview(item),
            "age": format_age(now - item.created_at),
            "left": format_age(item.deadline - now),
            "urgent": item.deadline - now < 120,
            "approvals": f"{len(item.approvers())}/{item.approvals}",
        }
        for item in store.pending(now)
    ]


class Pages:
    """Renders pages and checks who asks: a reviewer by token, session cookie or proxy header."""

    def __init__(
        self,
        *,
        identity: AgentIdentity,
        registry: TrustRegistry,
        tokens: dict[str, str] | None,
        auth_header: str | None,
        secure_cookies: bool,
    ) -> None:
        self.sessions = Sessions(identity)
        self._registry = registry
        self._tokens = tokens
        self._auth_header = auth_header
        self._secure = secure_cookies

    def reviewer(self, request: Request) -> str | None:
        """The authenticated reviewer of ``request``, or ``None``."""
        if self._auth_header is not None:
            name = request.headers.get(self._auth_header)
        else:
            assert self._tokens is not None
            name = None
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                name = self._tokens.get(auth[7:].strip())
            if name is None:
                name = self.sessions.reviewer(request.cookies.get(SESSION_COOKIE))
        if not name or self._registry.level(name) is not TrustLevel.REVIEWER:
            return None
        return name

    def render(
        self, request: Request, template: str, http_status: int = 200, **context: Any
    ) -> HTMLResponse:
        nonce = request.cookies.get(CSRF_COOKIE) or self.sessions.new_nonce()
        body = _TEMPLATES.get_template(template).render(
            csrf=self.sessions.csrf_token(nonce),
            reviewer=context.pop("reviewer", None),
            proxy_login=self._auth_header is not None,
            **context,
        )
        response = HTMLResponse(body, status_code=http_status)
        if request.cookies.get(CSRF_COOKIE) != nonce:
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                httponly=True,
                samesite="strict",
                secure=self._secure,
            )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; style-src 'self' 'unsafe-inline'; "
            "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        )
        return response

    def unauthorized(self, request: Request, message: str = "") -> HTMLResponse:
        return self.render(request, "login.html", 401, message=message)

    async def csrf_checked(self, request: Request) -> dict[str, str] | None:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self.sessions.csrf_ok(request.cookies.get(CSRF_COOKIE), fields.get("csrf")):
            return None
        return fields

    def page(
        self, handler: Callable[[Request, str], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint calling ``handler(request, reviewer)``, or 401 and the login form."""

        async def endpoint(request: Request) -> Response:
            who = self.reviewer(request)
            if who is None:
                return self.unauthorized(request)
            return await handler(request, who)

        return endpoint

    # -- login and logout -------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        if self.reviewer(request) is not None:
            return RedirectResponse("/", status_code=303)
        return self.unauthorized(request)

    async def login(self, request: Request) -> Response:
        fields = await self.csrf_checked(request)
        if fields is None:
            return self.render(request, "login.html", 403, message="CSRF token missing or wrong.")
        tokens = self._tokens or {}
        name = tokens.get(fields.get("token", "").strip())
        if name is None or self._registry.level(name) is not TrustLevel.REVIEWER:
            return self.unauthorized(request, "Unknown token, or not a reviewer.")
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.issue(name),
            httponly=True,
            samesite="strict",
            secure=self._secure,
        )
        return response

    async def logout(self, request: Request) -> Response:
        if await self.csrf_checked(request) is None:
            return self.render(request, "error.html", 403, message="CSRF token missing or wrong.")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response
