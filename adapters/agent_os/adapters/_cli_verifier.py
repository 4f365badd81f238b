"""``agent-os verifier``: one CMVK worker of the pool on ``agentos.v1.cmvk``.

``--cache URL`` shares results between the pool's workers (``redis://``,
entries signed with the verifier key); without it (or with ``memory://``)
they stay in this worker. Either way a redelivered request is answered from
the result its first delivery kept; only a shared cache lets another worker
do so.
A pool whose workers have keys of their own shares the cache when each names
the others' public identities with ``--trust-cache-key FILE``
(:mod:`._cmvk_keys`, checked at start).
``--review-on-disagreement`` opens a review item in ``--review-store`` for
each flagged result (:mod:`._cmvk_review`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import click

from agent_os.bus import connect
from agent_os.kernel_worker._startup import (
    StartupRefused,
    open_registry,
    ping_nonce_store,
    plan_nonce_store,
    redact,
)
from agent_os.observability import HealthServer, Readiness
from agent_os.trust import AgentIdentity, PublicIdentity, TrustError
from agent_os.verifier import (
    Cache,
    CallSettings,
    Metrics,
    RedisResultCache,
    VerifierError,
    open_cache,
)
from agent_os.verifier._worker import VerifierWorker

from ._cli_options import path_option
from ._cli_review import review_queue
from ._cmvk_keys import trusted_cache_keys
from ._cmvk_review import QueueReview

log = logging.getLogger("agent_os.verifier")
#: Seconds between looks at the registry file (new agents, revocations).
REGISTRY_RECHECK = 0.25


@click.command("verifier")
@click.option(
    "--bus", "bus_url", envvar="AGENT_OS_BUS_URL", help="Bus URL (nats://, redis://, ...)."
)
@path_option(
    "--key",
    "key_file",
    envvar="AGENT_OS_VERIFIER_KEY_FILE",
    help="This pool's verifier key (clients pin its public identity).",
)
@path_option(
    "--registry",
    "registry_file",
    envvar="AGENT_OS_REGISTRY_FILE",
    help="Trust registry of the agents allowed to ask.",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per model call.")
@click.option("--retries", default=2, show_default=True, help="Retries on 429 / 5xx.")
@click.option("--metrics", "with_metrics", is_flag=True, help="Record Prometheus series.")
@click.option(
    "--metrics-port",
    type=int,
    envvar="AGENT_OS_METRICS_PORT",
    help="Serve /metrics, /healthz and /readyz on this port (records the series).",
)
@click.option(
    "--metrics-addr",
    default="127.0.0.1",
    show_default=True,
    envvar="AGENT_OS_METRICS_ADDR",
    help="Address for --metrics-port.",
)
@click.option(
    "--cache",
    "cache_url",
    envvar="AGENT_OS_CMVK_CACHE",
    help="Result cache: redis://... (shared by the pool, signed); default memory://.",
)
@click.option(
    "--cache-ttl",
    envvar="AGENT_OS_CMVK_CACHE_TTL",
    default=300.0,
    show_default=True,
    help="Seconds a result (and a request's answer, for redeliveries) is kept.",
)
@click.option(
    "--cache-size",
    envvar="AGENT_OS_CMVK_CACHE_SIZE",
    default=10_000,
    show_default=True,
    help="Most results kept.",
)
@click.option(
    "--trust-cache-key",
    "trusted_key_files",
    type=click.Path(path_type=Path),
    multiple=True,
    envvar="AGENT_OS_CMVK_TRUSTED_KEYS",
    help="Public identity (JSON, as agent-os keygen prints it) of another verifier key of the "
    "pool whose signed --cache entries this worker serves; repeatable (env: paths separated "
    f"by {os.pathsep!r}).",
)
@click.option(
    "--review-on-disagreement",
    is_flag=True,
    envvar="AGENT_OS_CMVK_REVIEW",
    help="Open a review item (SIGSTOP) for each flagged result.",
)
@click.option(
    "--review-store",
    envvar="AGENT_OS_REVIEW_STORE",
    help="Review store for --review-on-disagreement (SQLite path or postgresql:// DSN).",
)
@click.option(
    "--allow-unbound-replies",
    is_flag=True,
    envvar="AGENT_OS_ALLOW_UNBOUND_REPLIES",
    help="Serve requests that sign no reply subject (older clients; logged): whoever copies "
    "one races its client for the result.",
)
def verifier(
    bus_url: str | None,
    key_file: Path | None,
    registry_file: Path | None,
    timeout: float,
    retries: int,
    with_metrics: bool,
    metrics_port: int | None,
    metrics_addr: str,
    cache_url: str | None,
    cache_ttl: float,
    cache_size: int,
    trusted_key_files: tuple[Path, ...],
    review_on_disagreement: bool,
    review_store: str | None,
    allow_unbound_replies: bool,
) -> None:
    """Run a CMVK verifier worker until SIGTERM.

    Model keys come from this process's environment (OPENAI_API_KEY,
    ANTHROPIC_API_KEY, GEMINI_API_KEY, or their *_FILE variants).
    """
    logging.basicConfig(
        level=os.environ.get("AGENT_OS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(message)s",
    )
    if not bus_url or bus_url.lower().startswith("memory:"):
        raise click.UsageError(
            "a verifier needs --bus URL (or AGENT_OS_BUS_URL) of a shared broker: nats://, "
            "redis://, kafka:// or sqs:// (memory:// would serve nobody)"
        )
    if key_file is None or registry_file is None:
        raise click.UsageError("a verifier needs --key and --registry")
    if review_on_disagreement and not review_store:
        raise click.UsageError(
            "--review-on-disagreement needs --review-store (AGENT_OS_REVIEW_STORE)"
        )
    try:
        identity = AgentIdentity.load(key_file)
        registry = open_registry(registry_file, recheck=REGISTRY_RECHECK)
        plan = plan_nonce_store(
            bus_url,
            os.environ.get("AGENT_OS_NONCE_URL"),
            single_replica=os.environ.get("AGENT_OS_SINGLE_REPLICA", "") == "1",
        )
        scheme = (cache_url or "memory://").split("://", 1)[0].lower()
        trusted = trusted_cache_keys(
            trusted_key_files, identity, registry, shared=scheme in ("redis", "rediss", "unix")
        )
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc
    except (TrustError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    settings = CallSettings(timeout=timeout, retries=retries)
    queue = review_queue(review_store, None, None, registry) if review_on_disagreement else None

    async def serve() -> None:
        await ping_nonce_store(plan)
        cache = await _open_cache(
            cache_url or "memory://", identity, trusted, cache_ttl, cache_size
        )
        metrics = Metrics() if with_metrics or metrics_port is not None else None
        if metrics is not None:
            metrics.watch_cache(cache)
        health = None
        if metrics_port is not None:
            health = HealthServer(Readiness(), port=metrics_port, addr=metrics_addr)
            await health.start()
        bus = await connect(bus_url)
        try:
            worker = VerifierWorker(
                bus,
                identity,
                registry,
                settings=settings,
                nonces=plan.store,
                metrics=metrics,
                cache=cache,
                review_on_disagreement=None if queue is None else QueueReview(queue),
                allow_unbound_replies=allow_unbound_replies,
            )
            log.info(
                "verifier %s: bus %s; nonce store %s; cache %s (trusting %s); review %s; "
                "unbound replies %s",
                identity.agent_id,
                redact(bus_url),
                plan.description,
                redact(cache_url) if cache_url else "memory:// (this worker's)",
                ", ".join(f"{k.agent_id} {k.fingerprint}" for k in [identity.public(), *trusted]),
                "on disagreement" if queue is not None else "off",
                "ALLOWED (AGENT_OS_ALLOW_UNBOUND_REPLIES)" if allow_unbound_replies else "refused",
            )
            await worker.run(install_signal_handlers=True)
        finally:
            await bus.close()
            await cache.aclose()
            if health is not None:
                await health.close()
            close = getattr(plan.store, "close", None)
            if close is not None:
                await close()

    try:
        asyncio.run(serve())
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc


async def _open_cache(
    url: str, identity: AgentIdentity, trusted: list[PublicIdentity], ttl: float, size: int
) -> Cache:
    """The cache ``--cache`` names; an unreachable Redis refuses the start (nothing shared)."""
    try:
        cache = open_cache(url, identity=identity, trusted=trusted, ttl=ttl, size=size)
    except (VerifierError, ValueError) as exc:
        raise StartupRefused("cache_config", str(exc)) from exc
    if isinstance(cache, RedisResultCache):
        try:
            await cache.ping()
        except VerifierError as exc:
            await cache.aclose()
            raise StartupRefused(exc.code, f"result cache {redact(url)}: {exc}") from exc
    return cache
