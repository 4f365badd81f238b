"""Health: ``/healthz``, ``/readyz`` and ``/metrics`` on one port, and the readiness registry.

The server runs on the worker's own event loop, on purpose: a loop that is
stuck cannot answer ``/healthz``, so liveness fails exactly when the process
can no longer do its work, and the kubelet restarts it.

``/readyz`` runs every check in a :class:`Readiness` registry (each bounded by
a timeout; an exception or a timeout counts as not ready: fail closed) and
answers 200 only when all pass, with a JSON body naming each check. Any part
of the process can add a check: the worker adds "bus", "registry" and
"policy"; a nonce store or an audit sink can add its own.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._metrics import prometheus

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Check", "HealthServer", "Readiness"]

log = logging.getLogger("agent_os.health")

Check = Callable[[], "bool | str | Awaitable[bool | str | None] | None"]
"""A readiness check: True or None when ready; False or a string (the reason) when not."""

_MAX_REQUEST_HEAD = 8 * 1024
_STATUS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class Readiness:
    """Named readiness checks; the process is ready when every one of them passes."""

    def __init__(self, timeout: float = 2.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout

    def add(self, name: str, check: Check) -> None:
        """Add (or replace) the check called ``name``."""
        self._checks[name] = check

    def add_all(self, checks: Mapping[str, Check]) -> None:
        for name, check in checks.items():
            self.add(name, check)

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return sorted(self._checks)

    async def report(self) -> dict[str, str]:
        """Each check's state: ``"ok"`` or why it is not ready. No checks: not ready."""
        if not self._checks:
            return {"checks": "no readiness checks registered"}
        names = sorted(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))

    async def ready(self) -> bool:
        return all(v == "ok" for v in (await self.report()).values())

    async def _run(self, check: Check) -> str:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await asyncio.wait_for(result, self._timeout)
        except TimeoutError:
            return f"timed out after {self._timeout} s"
        except Exception as exc:  # a check that fails is a "not ready", with the reason
            return f"error: {exc!r}"
        if result is True or result is None:
            return "ok"
        return result if isinstance(result, str) and result else "not ready"


class HealthServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus text) on one port.

    ``metrics_registry=None`` serves prometheus_client's default registry;
    pass ``metrics=False`` to serve no ``/metrics``. Listens on loopback
    unless told otherwise; ``port=0`` picks a free port (see :attr:`port`).
    """

    def __init__(
        self,
        readiness: Readiness | None = None,
        *,
        port: int = 9464,
        addr: str = "127.0.0.1",
        metrics: bool = True,
        metrics_registry: CollectorRegistry | None = None,
    ) -> None:
        self.readiness = readiness if readiness is not None else Readiness()
        self._port = port
        self._addr = addr
        self._metrics = metrics
        self._registry = metrics_registry
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (the real one once started with ``port=0``)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self._addr, self._port)
            log.info("health and metrics on http://%s:%d", self._addr, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            status, ctype, body = await self._respond(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, ctype, body = 400, "text/plain", b"bad request\n"
        except ConnectionError:
            writer.close()
            return
        reason = _STATUS.get(status, "Bad Request")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _respond(self, head: bytes) -> tuple[int, str, bytes]:
        if len(head) > _MAX_REQUEST_HEAD:
            return 400, "text/plain", b"request head too large\n"
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if path in ("/healthz", "/livez"):
            return 200, "text/plain", b"ok\n"
        if path == "/readyz":
            report = await self.readiness.report()
            ok = all(v == "ok" for v in report.values())
            body = json.dumps({"ready": ok, "checks": report}, sort_keys=True).encode() + b"\n"
            return (200 if ok else 503), "application/json", body
        if path == "/metrics" and self._metrics:
            # Off the loop: collectors may sample a store at scrape time.
            return 200, *await asyncio.to_thread(_exposition, self._registry)
        return 404, "text/plain", b"not found\n"


def _exposition(registry: CollectorRegistry | None) -> tuple[str, bytes]:
    prom: Any = prometheus()
    data = prom.generate_latest(prom.REGISTRY if registry is None else registry)
    return str(prom.CONTENT_TYPE_LATEST), bytes(data)
