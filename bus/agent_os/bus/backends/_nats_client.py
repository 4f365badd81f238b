"""Opening the nats-py client of a ``nats://`` (or ``tls://``) bus.

The connection is bounded at first, so that a wrong URL or wrong credentials
fail ``connect``, and retries without limit once it stands. A ``tls://`` URL
refuses a server that does not offer TLS (nats-py alone would fall back to
plaintext).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client

from .._errors import ConfigError, ConnectError, auth_refused
from ._nats_codec import translate
from ._nats_settings import NatsSettings, servers
from ._options import redacted

log = logging.getLogger("agent_os.bus.nats")


class Holder(Protocol):
    """The bus built on the client, which its callbacks tell about the connection."""

    @property
    def closing(self) -> bool: ...

    def on_reconnect(self) -> None: ...


async def open_client(
    url: str, settings: NatsSettings, client_options: dict[str, Any], holder: Sequence[Holder]
) -> Client:
    """A connected client for ``url``; ``ConnectError`` (or ``ConfigError``) if not.

    ``holder`` holds the bus once it is built on the client (empty until then).
    """
    shown = redacted(url)
    refused: list[Exception] = []  # the server said the credentials are wrong

    async def reconnected() -> None:
        log.info("nats: reconnected to %s", shown)
        if holder:
            holder[0].on_reconnect()

    async def disconnected() -> None:
        if not (holder and holder[0].closing):
            log.warning("nats: disconnected from %s; reconnecting", shown)

    async def error(exc: Exception) -> None:
        if _refuses_credentials(exc):
            refused.append(exc)
        # Failed reconnect attempts repeat every reconnect_time_wait: keep them quiet.
        level = logging.DEBUG if isinstance(exc, OSError) else logging.WARNING
        log.log(level, "nats: %s: %s", type(exc).__name__, exc)

    # nats-py annotates these as int but takes fractions of seconds.
    timing: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout,
        "reconnect_time_wait": settings.reconnect_time_wait,
        "drain_timeout": settings.drain_timeout,
    }
    nc = Client()
    try:
        await nc.connect(
            servers(url),
            # Bounded at first so that a wrong URL fails; unbounded once connected.
            max_reconnect_attempts=settings.connect_attempts,
            reconnected_cb=reconnected,
            disconnected_cb=disconnected,
            error_cb=error,
            **timing,
            **client_options,
        )
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        with contextlib.suppress(Exception):
            await nc.close()
        if refused:  # nats-py reports it to error_cb, then gives up with NoServersError
            raise auth_refused(f"connect to {shown}: {refused[-1]}") from exc
        raise translate(exc, f"connect to {shown}") from exc
    except TypeError as exc:
        raise ConfigError(f"unknown nats option: {exc}") from exc
    # nats-py upgrades to TLS only when the server demands it; a tls:// URL must not
    # silently end up in plaintext. (_server_info is the INFO the server sent.)
    if urlsplit(url).scheme.lower() == "tls" and not nc._server_info.get("tls_required"):
        with contextlib.suppress(Exception):
            await nc.close()
        raise ConnectError(f"{shown}: the server does not offer TLS; refusing plaintext")
    nc.options["max_reconnect_attempts"] = -1
    return nc


def _refuses_credentials(exc: Exception) -> bool:
    """The server's answer to wrong or missing credentials (nats-py passes it as text)."""
    if isinstance(exc, nats.errors.AuthorizationError):
        return True
    text = str(exc).lower()
    return "authorization violation" in text or "authentication" in text
