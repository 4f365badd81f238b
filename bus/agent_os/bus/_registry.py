"""Backends chosen by URL scheme, imported lazily."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError, MissingDependency, UnknownScheme
from ._protocol import Bus


@dataclass(frozen=True, slots=True)
class _Backend:
    module: str
    extra: str | None
    requires: tuple[str, ...]


_BACKENDS: dict[str, _Backend] = {
    "memory": _Backend("agent_os.bus.backends._memory", None, ()),
    "nats": _Backend("agent_os.bus.backends._nats", "nats", ("nats",)),
    "tls": _Backend("agent_os.bus.backends._nats", "nats", ("nats",)),
    "redis": _Backend("agent_os.bus.backends._redis", "redis", ("redis",)),
    "rediss": _Backend("agent_os.bus.backends._redis", "redis", ("redis",)),
    "kafka": _Backend("agent_os.bus.backends._kafka", "kafka", ("aiokafka",)),
    "sqs": _Backend("agent_os.bus.backends._sqs", "sqs", ("aioboto3",)),
}


def schemes() -> list[str]:
    """URL schemes with a backend."""
    return sorted(_BACKENDS)


async def connect(url: str, **options: Any) -> Bus:
    """Connect to the bus named by ``url``.

    ``memory://`` is the embedded default; ``memory://name`` joins the named
    in-process broker so that several ``Bus`` objects in one process talk.
    """
    scheme = urlsplit(url).scheme.lower()
    if not scheme:
        raise ConfigError(f"bus URL {url!r} has no scheme; expected one of: {', '.join(schemes())}")
    backend = _BACKENDS.get(scheme)
    if backend is None:
        raise UnknownScheme(
            f"no bus backend for scheme {scheme!r}; valid schemes: {', '.join(schemes())}"
        )
    for dep in backend.requires:
        try:
            importlib.import_module(dep)
        except ImportError as exc:
            raise MissingDependency(
                f"the {scheme}:// backend needs {dep!r}: pip install 'agent-os[{backend.extra}]'"
            ) from exc
    module = importlib.import_module(backend.module)
    bus: Bus = await module.connect(url, **options)
    return bus
