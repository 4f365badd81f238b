"""``agent-os verifier``: one CMVK worker of the pool on ``agentos.v1.cmvk``."""

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
from agent_os.trust import AgentIdentity, TrustError
from agent_os.verifier import CallSettings, Metrics
from agent_os.verifier._worker import VerifierWorker

from ._cli_options import path_option

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
def verifier(
    bus_url: str | None,
    key_file: Path | None,
    registry_file: Path | None,
    timeout: float,
    retries: int,
    with_metrics: bool,
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
    try:
        identity = AgentIdentity.load(key_file)
        registry = open_registry(registry_file, recheck=REGISTRY_RECHECK)
        plan = plan_nonce_store(
            bus_url,
            os.environ.get("AGENT_OS_NONCE_URL"),
            single_replica=os.environ.get("AGENT_OS_SINGLE_REPLICA", "") == "1",
        )
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc
    except (TrustError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    settings = CallSettings(timeout=timeout, retries=retries)

    async def serve() -> None:
        await ping_nonce_store(plan)
        bus = await connect(bus_url)
        try:
            worker = VerifierWorker(
                bus,
                identity,
                registry,
                settings=settings,
                nonces=plan.store,
                metrics=Metrics() if with_metrics else None,
            )
            log.info(
                "verifier %s: bus %s; nonce store %s",
                identity.agent_id,
                redact(bus_url),
                plan.description,
            )
            await worker.run(install_signal_handlers=True)
        finally:
            await bus.close()
            close = getattr(plan.store, "close", None)
            if close is not None:
                await close()

    try:
        asyncio.run(serve())
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc
