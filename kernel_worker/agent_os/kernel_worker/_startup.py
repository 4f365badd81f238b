"""What a kernel worker settles before it takes a single request.

Each check here refuses, with a message that says what to set, a
configuration that would otherwise start quietly and then serve nobody or
deny everything: a registry file that is missing or does not parse, a kernel
key that is an agent's key, a nonce store that does not answer, or a fleet
whose replicas would each keep their own replay memory.

Replay protection is fleet-wide by default (:func:`plan_nonce_store`): the
workers record nonces in the store their bus already shares — a JetStream
key-value bucket on NATS, the Redis server on Redis. Kafka and SQS have no
such store: a worker there needs ``AGENT_OS_NONCE_URL`` or an explicit
single-replica opt-out, which ``_presence`` checks while the worker runs.
(Keying requests by agent would send one agent's requests to one Kafka
consumer, but Kafka hands out a key's messages one at a time: a request held
for review would stall that agent's others.)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from agent_os.trust import (
    AsyncNonceStore,
    AsyncRedisNonceStore,
    FileTrustStore,
    JetStreamNonceStore,
    MemoryNonceStore,
    NonceStore,
    PublicIdentity,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

log = logging.getLogger("agent_os.kernel")

#: ``AGENT_OS_NONCE_URL`` value that keeps nonces in each worker's memory (one replica).
NONCE_LOCAL = "local"


class StartupRefused(Exception):
    """The worker's configuration would not serve; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def redact(url: str) -> str:
    """``url`` without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _server_url(url: str) -> str:
    """The bus URL without its query (bus options, which a second client would not take)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


@dataclass(frozen=True)
class NoncePlan:
    """Where a worker records nonces, and whether every replica shares it."""

    store: NonceStore | AsyncNonceStore
    description: str
    shared: bool


def plan_nonce_store(
    bus_url: str, nonce_url: str | None = None, *, single_replica: bool = False
) -> NoncePlan:
    """The nonce store for a worker on ``bus_url``.

    ``nonce_url`` (``AGENT_OS_NONCE_URL``) wins: ``redis://``/``rediss://``,
    ``nats://``/``tls://``, or ``local`` (each worker its own memory). Unset,
    the bus's own shared store is used where it has one. Raises
    :class:`StartupRefused` where no store is shared and ``single_replica``
    was not declared (SQS).
    """
    url = nonce_url or bus_url
    scheme = _scheme(url) if url != NONCE_LOCAL else NONCE_LOCAL
    origin = "AGENT_OS_NONCE_URL" if nonce_url else "the bus"
    if scheme in ("redis", "rediss"):
        target = _server_url(url)
        return NoncePlan(
            AsyncRedisNonceStore(target), f"Redis {redact(target)} (from {origin})", True
        )
    if scheme in ("nats", "tls"):
        target = _server_url(url)
        store = JetStreamNonceStore(target)
        return NoncePlan(
            store, f"JetStream KV {store.bucket!r} on {redact(target)} (from {origin})", True
        )
    if scheme == NONCE_LOCAL:
        return NoncePlan(
            MemoryNonceStore(), "this worker's memory (AGENT_OS_NONCE_URL=local)", False
        )
    if nonce_url:
        raise StartupRefused(
            "nonce_store_url",
            f"AGENT_OS_NONCE_URL={redact(nonce_url)!r}: expected redis://, rediss://, nats://, "
            "tls:// or 'local'",
        )
    if scheme == "memory":
        return NoncePlan(MemoryNonceStore(), "this process's memory (memory:// bus)", False)
    if single_replica:
        log.warning(
            "single replica declared (AGENT_OS_SINGLE_REPLICA): nonces stay in this worker's "
            "memory; it will not serve beside another worker it hears on %s (see _presence)",
            redact(bus_url),
        )
        return NoncePlan(
            MemoryNonceStore(), "this worker's memory (AGENT_OS_SINGLE_REPLICA)", False
        )
    raise StartupRefused(
        "no_shared_nonce_store",
        f"a {scheme}:// bus has no store its workers share for replay protection: set "
        "AGENT_OS_NONCE_URL=redis://HOST:6379/0 (or nats://HOST:4222) for every replica, or "
        "AGENT_OS_SINGLE_REPLICA=true if this is the only worker",
    )


async def ping_nonce_store(plan: NoncePlan) -> None:
    """Refuse to start when the nonce store does not answer (it would deny everything)."""
    ping = getattr(plan.store, "ping", None)
    if ping is None:
        return
    try:
        await ping()
    except TrustError as exc:
        raise StartupRefused(
            "nonce_store_unavailable", f"nonce store {plan.description} does not answer: {exc}"
        ) from exc


def registry_signers(paths: str | None) -> list[PublicIdentity] | None:
    """The admin keys a registry document must be signed by (``AGENT_OS_REGISTRY_SIGNERS``).

    ``paths`` is a comma-separated list of files, each a public identity as
    ``agent-os keygen`` prints it (or its ``public_key`` object); None: no
    signature required.
    """
    if not paths:
        return None
    signers = []
    for raw in paths.split(","):
        path = Path(raw.strip())
        try:
            data = json.loads(path.read_text())
            if isinstance(data.get("public_key"), dict):
                data = data["public_key"]
            signers.append(PublicIdentity.from_dict(data))
        except (OSError, ValueError, AttributeError, TrustError) as exc:
            raise StartupRefused(
                "registry_signer", f"registry signer file {path} is not a public identity: {exc}"
            ) from exc
    return signers


def registry_state_path(registry: Path, state: Path | None = None) -> Path:
    """Where a worker keeps its registry state: ``state``, or ``<registry>.state`` beside it."""
    return state if state is not None else registry.with_name(registry.name + ".state")


def open_registry(
    path: Path,
    *,
    recheck: float,
    trusted_signers: list[PublicIdentity] | None = None,
    state: Path | None = None,
) -> TrustRegistry:
    """The trust registry in ``path``, read once now; refused if missing or unreadable.

    With ``trusted_signers`` the document must be signed by one of them
    (``agent-os trust sign``), now and on every later re-read. With ``state``
    the highest serial and the revoked keys are kept in that file across
    restarts: a file older than one accepted before is refused
    (``registry_rolled_back``), and so is a state file that cannot be written.
    """
    if not path.exists():
        raise StartupRefused(
            "registry_missing",
            f"registry file {path} does not exist: create it with "
            f"`agent-os keygen --registry {path}` or `agent-os trust add`",
        )
    try:
        store = FileTrustStore(path, recheck=recheck, trusted_signers=trusted_signers, state=state)
    except TrustError as exc:
        raise StartupRefused("registry_state", str(exc)) from exc
    try:
        store.all()
    except TrustError as exc:
        if exc.code == "registry_rollback":
            raise StartupRefused("registry_rolled_back", str(exc)) from exc
        if exc.code == "registry_serial_jump":
            raise StartupRefused("registry_serial_jump", str(exc)) from exc
        raise StartupRefused(
            "registry_corrupt", f"registry file {path} is unusable: {exc}"
        ) from exc
    if store.problem is not None:  # read, but its state could not be recorded
        raise StartupRefused(
            "registry_state",
            f"{store.problem}: set AGENT_OS_REGISTRY_STATE_FILE to a path the worker can write",
        )
    return TrustRegistry(store)


def check_kernel_key(
    registry: TrustRegistry, kernel: PublicIdentity, *, allow_unregistered: bool = False
) -> None:
    """Refuse a kernel key that the registry knows as an agent's (or an admin's) key,
    or that it does not hold at level KERNEL.

    A worker signing verdicts with an agent's key would let that agent allow
    its own actions, and agents pin kernel keys: nobody would accept them.
    A key the registry does not hold as a live KERNEL is one agents do not pin
    either (they pin from the same registry): every verdict it signs is
    dropped and its share of the traffic turns into timeouts. Rotation
    registers the new key and pins it on every agent *before* a worker uses
    it. ``allow_unregistered`` (``AGENT_OS_ALLOW_UNREGISTERED_KERNEL_KEY``:
    agents pinning kernel keys from elsewhere) starts anyway, with a warning.
    """
    entries = registry.store.all()
    for entry in entries:
        same_key = entry.identity.public_key == kernel.public_key
        if (same_key or entry.agent_id == kernel.agent_id) and entry.level is not TrustLevel.KERNEL:
            what = "key" if same_key else "id"
            raise StartupRefused(
                "kernel_key_is_agent_key",
                f"the kernel key's {what} belongs to {entry.agent_id!r}, registered at level "
                f"{entry.level.name}: a kernel needs its own key "
                "(`agent-os keygen --kernel --id KERNEL_ID --out KEYFILE`)",
            )
    if any(
        entry.level is TrustLevel.KERNEL
        and not entry.revoked
        and entry.agent_id == kernel.agent_id
        and entry.identity.public_key == kernel.public_key
        for entry in entries
    ):
        return
    what = f"kernel key {kernel.agent_id!r} (fingerprint {kernel.fingerprint})"
    if allow_unregistered:
        log.warning(
            "%s is not registered at level KERNEL in the registry; starting anyway "
            "(AGENT_OS_ALLOW_UNREGISTERED_KERNEL_KEY): agents that do not pin it drop its "
            "verdicts and time out",
            what,
        )
        return
    raise StartupRefused(
        "kernel_key_unregistered",
        f"{what} is not registered at level KERNEL (live, with this key) in the registry: "
        "agents pin kernel keys from it, so they would drop every verdict this worker signs "
        "and time out. Register it (`agent-os trust add KERNEL_ID --from-key KEYFILE --level "
        "KERNEL`), let every agent pin it, then start the worker; "
        "AGENT_OS_ALLOW_UNREGISTERED_KERNEL_KEY=true starts anyway",
    )
