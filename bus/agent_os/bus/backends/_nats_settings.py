"""Options of the ``nats://`` backend, parsed once from URL query and keywords."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from .._errors import ConfigError
from ._options import Kind, parse_options

#: ``nats.connect`` keywords a bus URL or ``connect`` may pass through (the bus sets
#: the servers, the callbacks, and the timing it has options for itself).
CLIENT_OPTIONS = frozenset(
    {
        "name", "pedantic", "verbose", "ping_interval", "max_outstanding_pings",
        "dont_randomize", "flusher_queue_size", "no_echo", "tls", "tls_hostname",
        "tls_handshake_first", "user", "password", "token", "signature_cb", "user_jwt_cb",
        "user_credentials", "nkeys_seed", "nkeys_seed_str", "inbox_prefix", "pending_size",
        "flush_timeout", "ws_connection_headers",
    }
)  # fmt: skip


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

    def stream_config(self, name: str, subject: str, *, dead_letters: bool) -> StreamConfig:
        """The stream ``name`` keeping ``subject``; a dead-letter stream is bounded tighter
        (a garbage flood must not fill the server)."""
        dead = dead_letters
        return StreamConfig(
            name=name,
            description=f"agent_os {'dead letters' if dead else 'work subject'} {subject!r}",
            subjects=[subject],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE if self.stream_storage == "file" else StorageType.MEMORY,
            max_age=self.dead_letter_max_age if dead else self.stream_max_age,
            max_msgs=self.dead_letter_max_msgs if dead else self.stream_max_msgs,
            max_bytes=self.dead_letter_max_bytes if dead else self.stream_max_bytes,
            discard=DiscardPolicy.OLD,
            num_replicas=self.stream_replicas,
        )

    @classmethod
    def parse(cls, url: str, given: dict[str, Any]) -> tuple[NatsSettings, dict[str, Any]]:
        """Our settings from ``url``'s query and ``given``, and the ``nats.connect`` keywords."""
        defaults = cls()
        kinds: dict[str, Kind] = {f.name: type(getattr(defaults, f.name)) for f in fields(cls)}
        ours, client_options = parse_options(url, given, kinds, pass_on=CLIENT_OPTIONS)
        settings = cls(**ours)
        if settings.stream_storage not in ("file", "memory"):
            raise ConfigError(
                f"stream_storage must be file or memory, not {settings.stream_storage!r}"
            )
        if settings.pull_heartbeat * 2 > settings.pull_expires:
            raise ConfigError("pull_heartbeat must be at most half of pull_expires")
        return settings, client_options


def servers(url: str) -> list[str]:
    """The server URLs nats-py takes for ``url`` (``nats://h1:4222,h2:4222`` gives two)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    userinfo, _, hosts = parts.netloc.rpartition("@")
    auth = f"{userinfo}@" if userinfo else ""
    if not hosts:
        raise ConfigError(f"nats URL {url!r} names no host")
    return [urlunsplit((scheme, auth + host, "", "", "")) for host in hosts.split(",")]
