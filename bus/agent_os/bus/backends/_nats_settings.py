"""Options of the ``nats://`` backend, parsed once from URL query and keywords."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._errors import ConfigError

_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS.update({"0": False, "false": False, "no": False, "off": False})


@dataclass(frozen=True, slots=True)
class NatsSettings:
    """Options of the nats backend; ``agent_os.bus.backends._nats`` explains each."""

    connect_timeout: float = 2.0
    connect_attempts: int = 3
    reconnect_time_wait: float = 0.25
    drain_timeout: float = 5.0
    api_timeout: float = 5.0
    stream_max_age: float = 86_400.0
    stream_max_msgs: int = 1_000_000
    #: -1: unbounded (max_age / max_msgs bound it). A byte limit is a reservation:
    #: JetStream refuses new streams once their limits add up past the server's store.
    stream_max_bytes: int = -1
    dead_letter_max_age: float = 86_400.0
    dead_letter_max_msgs: int = 100_000
    dead_letter_max_bytes: int = 64 * 1024**2
    stream_storage: str = "file"
    stream_replicas: int = 1
    pull_expires: float = 30.0
    pull_heartbeat: float = 5.0
    max_pending: int = 65_536
    core_prefixes: str = ""
    publish_ack: bool = True

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> tuple[NatsSettings, dict[str, Any]]:
        """Split ``raw`` into our settings and the rest (for ``nats.connect``)."""
        ours: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in raw:
                value = raw.pop(f.name)
                try:
                    ours[f.name] = _convert(type(getattr(cls(), f.name)), value)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"invalid nats option {f.name}={value!r}: {exc}") from exc
        settings = cls(**ours)
        if settings.stream_storage not in ("file", "memory"):
            raise ConfigError(
                f"stream_storage must be file or memory, not {settings.stream_storage!r}"
            )
        if settings.pull_heartbeat * 2 > settings.pull_expires:
            raise ConfigError("pull_heartbeat must be at most half of pull_expires")
        return settings, raw


def _convert(kind: type, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if kind is bool and isinstance(value, str):
        if value.lower() not in _BOOLS:
            raise ValueError(f"expected one of {', '.join(_BOOLS)}")
        return _BOOLS[value.lower()]
    return kind(value)


def servers(url: str) -> list[str]:
    """The server URLs nats-py takes for ``url`` (``nats://h1:4222,h2:4222`` gives two)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    userinfo, _, hosts = parts.netloc.rpartition("@")
    auth = f"{userinfo}@" if userinfo else ""
    if not hosts:
        raise ConfigError(f"nats URL {url!r} names no host")
    return [urlunsplit((scheme, auth + host, "", "", "")) for host in hosts.split(",")]
