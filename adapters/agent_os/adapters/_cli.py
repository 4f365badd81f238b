"""The ``agent-os`` command line: demo, check, keygen, worker."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent_os.bus import BusError, SubscribeOptions, connect
from agent_os.kernel_worker import (
    Decision,
    JsonlAuditLog,
    Metrics,
    PolicyError,
    PresenceOptions,
    RateLimiter,
    RedisTokenBucket,
    TokenBucket,
    Worker,
    load_policy,
)
from agent_os.kernel_worker._startup import (
    StartupRefused,
    check_kernel_key,
    open_registry,
    ping_nonce_store,
    plan_nonce_store,
    redact,
    registry_signers,
    registry_state_path,
)
from agent_os.observability import HealthServer, Readiness, enable_tracing
from agent_os.review import DEFAULT_MAX_PENDING, DEFAULT_MAX_PENDING_PER_AGENT, ReviewLimits
from agent_os.trust import (
    AgentIdentity,
    FileTrustStore,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

from ._cli_audit import audit
from ._cli_mcp import mcp_proxy
from ._cli_options import path_option
from ._cli_policy import explain_lines, policy
from ._cli_review import console, review, review_queue
from ._cli_trust import trust
from ._cli_verifier import verifier
from ._demo import render, run_demo

log = logging.getLogger("agent_os.kernel")

#: Seconds between a worker's looks at its registry file.
REGISTRY_RECHECK = 0.25


class Settings(BaseSettings):
    """Settings read from ``AGENT_OS_*`` variables; command-line flags win."""

    model_config = SettingsConfigDict(env_prefix="AGENT_OS_")

    #: No default: a worker on an in-process bus would serve nobody.
    bus_url: str | None = None
    policy: str = "strict"
    kernel_key_file: Path | None = None
    registry_file: Path | None = None
    #: The worker's own record of the highest registry serial and the revoked keys,
    #: kept across restarts (0600). Unset: ``<registry file>.state`` beside the registry.
    registry_state_file: Path | None = None
    audit_file: Path | None = None
    log_level: str = "INFO"
    #: Nonce store shared by every worker (replay protection across replicas):
    #: redis://, rediss://, nats://, tls:// or "local". Unset: the bus's own store
    #: (JetStream KV on NATS, the Redis server on Redis); see _startup.
    nonce_url: str | None = None
    #: Declares this worker the only replica, where the bus has no shared store (SQS).
    #: Checked: a worker that hears another on its subject refuses to start / is not ready.
    single_replica: bool = False
    #: Seconds between a worker's announcements to the others (agentos.v1.presence).
    presence_interval: float = 2.0
    #: Comma-separated public identity files of the admins whose signature the
    #: registry document must carry (``agent-os trust sign``); unset: none needed.
    registry_signers: str | None = None
    #: Per-agent rate limit (requests/s) and burst; unset: no limit.
    rate: float | None = None
    burst: int = 20
    #: Redis URL for a rate budget shared by every worker; unset: per worker.
    rate_url: str | None = None
    #: Serve /metrics, /healthz and /readyz on this port (needs the observability extra).
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"
    #: Export OpenTelemetry spans, configured by the standard OTEL_* variables.
    tracing: bool = False
    #: Redelivery timeout (s): well under the client's 5 s; long work renews its lease.
    ack_wait: float = 2.0
    max_deliver: int = 5
    concurrency: int = 64
    #: Durable SIGSTOP review: the review store (SQLite path or postgresql:// DSN)
    #: shared with the console and ``agent-os review``. Unset: nobody can review,
    #: so a held action is denied.
    review_store: str | None = None
    #: Review terms per rule (YAML: timeout, approvals); default 15 minutes, one approval.
    review_rules: Path | None = None
    #: POST a Slack-compatible notice of each newly held action to this URL.
    review_webhook: str | None = None
    #: The console's address, for "review it" links in webhook messages.
    review_console_url: str | None = None
    #: Pending review items one agent may have; past it its SIGSTOPs are denied
    #: review_backlog. 0 removes the cap (logged: one agent can fill the queue).
    review_max_per_agent: int = DEFAULT_MAX_PENDING_PER_AGENT
    #: Pending review items in the whole store; past it holds are denied review_queue_full.
    review_max_pending: int = DEFAULT_MAX_PENDING
    #: Start with a kernel key the registry does not hold at level KERNEL (agents pin
    #: kernel keys from elsewhere). Logged: agents that do not pin it time out.
    allow_unregistered_kernel_key: bool = False
    #: Serve requests that sign no reply subject (agents on a client older than the
    #: binding). Logged: whoever copies such a request races its agent for the verdict.
    allow_unbound_replies: bool = False


@click.group()
def main() -> None:
    """Agent OS: judge every agent action against policy before it runs."""


@main.command()
@click.option("--bus", "bus_url", default=None, help="Bus URL (default memory://demo).")
@click.option("--workers", default=1, show_default=True, help="Kernel workers to start.")
@click.option("--trace", is_flag=True, help="Print each action's OpenTelemetry spans.")
def demo(bus_url: str | None, workers: int, trace: bool) -> None:
    """Run kernel workers and a scripted agent; print the verdicts."""
    url = bus_url or "memory://demo"
    tracer_provider = enable_tracing("agent-os-demo", console=True) if trace else None
    try:
        outcomes = asyncio.run(run_demo(url, workers=workers))
    except BusError as exc:
        raise click.ClickException(f"bus {url}: {exc}") from exc
    finally:
        if tracer_provider is not None:
            tracer_provider.shutdown()
    click.echo(f"Agent OS demo on {url} with {workers} kernel worker(s)\n")
    click.echo(render(outcomes))
    wrong = [
        o
        for o in outcomes
        if o.verdict.decision.value != o.step.expect
        and not (o.step.expect == "allow" and o.verdict.decision is Decision.WARN)
    ]
    blocked = sum(o.verdict.decision is Decision.DENY for o in outcomes)
    click.echo(f"\n{blocked} of {len(outcomes)} actions blocked before they ran.")
    if wrong:
        raise click.ClickException(f"{len(wrong)} verdict(s) differ from the expected ones")


@main.command()
@click.argument("action_json", required=False)
@click.option("--policy", default=None, help="Preset name or YAML file (default strict).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option(
    "--explain", is_flag=True, help="Also print the classification and every rule considered."
)
def check(action_json: str | None, policy: str | None, as_json: bool, explain: bool) -> None:
    """Judge one action (JSON argument or stdin). Exit 0 allow/warn, 1 deny/review, 2 bad input."""
    raw = action_json if action_json is not None else sys.stdin.read()
    try:
        action = json.loads(raw)
        if not isinstance(action, dict) or not isinstance(action.get("action"), str):
            raise ValueError('expected a JSON object with an "action" string')
        chosen = load_policy(policy or Settings().policy)
    except (ValueError, PolicyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    verdict = chosen.evaluate(action)
    if as_json:
        out: dict[str, Any] = {
            "decision": verdict.decision.value,
            "signal": verdict.signal.value if verdict.signal else None,
            "rule": verdict.rule,
            "reason": verdict.reason,
        }
        if explain:
            out["explain"] = explain_lines(chosen, action)
        click.echo(json.dumps(out))
    else:
        signal = verdict.signal.value if verdict.signal else "-"
        click.echo(f"{verdict.decision.value} {signal} {verdict.rule or '-'}: {verdict.reason}")
        if explain:
            click.echo("\n".join(f"  {line}" for line in explain_lines(chosen, action)))
    sys.exit(0 if verdict.decision in (Decision.ALLOW, Decision.WARN) else 1)


@main.command()
@click.option("--id", "agent_id", required=True, help="Agent or kernel id.")
@click.option("--name", default="", help="Display name.")
@click.option("--cap", "caps", multiple=True, help="Capability (repeatable).")
@path_option("--out", required=True, help="Key file (0600).")
@path_option("--registry", help="Register in this registry file.")
@click.option("--kernel", is_flag=True, help="Register with KERNEL trust level.")
def keygen(
    agent_id: str, name: str, caps: tuple[str, ...], out: Path, registry: Path | None, kernel: bool
) -> None:
    """Create an Ed25519 identity and save its private key."""
    identity = AgentIdentity.create(agent_id, name, caps)
    try:
        identity.save(out)
        if registry is not None:
            level = TrustLevel.KERNEL if kernel else TrustLevel.STANDARD
            TrustRegistry(FileTrustStore(registry)).register(identity, level)
    except (OSError, TrustError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"agent_id": agent_id, "public_key": identity.public().to_dict()}))


@main.command()
@click.option("--bus", "bus_url", default=None, help="Bus URL (env AGENT_OS_BUS_URL).")
@click.option("--policy", default=None, help="Preset or YAML file (env AGENT_OS_POLICY).")
@path_option(
    "--key", "key_file", default=None, help="Kernel key file (env AGENT_OS_KERNEL_KEY_FILE)."
)
@path_option(
    "--registry",
    "registry_file",
    default=None,
    help="Trust registry file (env AGENT_OS_REGISTRY_FILE).",
)
def worker(
    bus_url: str | None, policy: str | None, key_file: Path | None, registry_file: Path | None
) -> None:
    """Run a kernel worker until SIGTERM.

    Refuses to start, with what to set, when the configuration would serve
    nobody or deny everything (see ``agent_os.kernel_worker._startup``).
    """
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    key_file = key_file or settings.kernel_key_file
    registry_file = registry_file or settings.registry_file
    url = bus_url or settings.bus_url
    if not url:
        raise click.UsageError(
            "a worker needs --bus URL (or AGENT_OS_BUS_URL): nats://, redis://, kafka:// or "
            "sqs://. There is no default: an in-process memory:// bus would serve nobody"
        )
    if url.lower().startswith("memory:"):
        raise click.UsageError(
            f"--bus {url}: a memory:// bus lives inside one process, so no agent could reach "
            "this worker (the demo runs its own: `agent-os demo`)"
        )
    if key_file is None or registry_file is None:
        raise click.UsageError("a worker needs --key and --registry (or their AGENT_OS_ variables)")
    try:
        identity = AgentIdentity.load(key_file)
        # Revocations arrive at once as control events; the file is the fallback
        # (and the source of new agents), looked at no more than every 0.25 s.
        signers = registry_signers(settings.registry_signers)
        registry = open_registry(
            registry_file,
            recheck=REGISTRY_RECHECK,
            trusted_signers=signers,
            state=registry_state_path(registry_file, settings.registry_state_file),
        )
        check_kernel_key(
            registry,
            identity.public(),
            allow_unregistered=settings.allow_unregistered_kernel_key,
        )
        chosen = load_policy(policy or settings.policy)
        plan = plan_nonce_store(url, settings.nonce_url, single_replica=settings.single_replica)
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc
    except (TrustError, PolicyError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    audit = JsonlAuditLog(settings.audit_file) if settings.audit_file else None
    review = review_queue(
        settings.review_store,
        settings.review_rules,
        settings.review_webhook,
        registry,
        console_url=settings.review_console_url,
        limits=ReviewLimits.from_settings(
            settings.review_max_per_agent, settings.review_max_pending
        ),
    )

    async def serve() -> None:
        try:
            await ping_nonce_store(plan)
        except StartupRefused:
            await _close(plan.store)
            raise
        bus = await connect(url)
        limiter: RateLimiter | None = None
        if settings.rate is not None:
            limiter = (
                RedisTokenBucket(settings.rate_url, settings.rate, settings.burst)
                if settings.rate_url
                else TokenBucket(settings.rate, settings.burst)
            )
        metrics: Metrics | None = None
        health: HealthServer | None = None
        if settings.metrics_port is not None:
            metrics = Metrics()
            health = HealthServer(
                Readiness(), port=settings.metrics_port, addr=settings.metrics_addr
            )
            if review is not None:  # the queue as every scrape finds it (dashboards take max)
                store = review.store
                metrics.watch_review_queue(lambda: [i.created_at for i in store.pending()])
        tracer_provider = enable_tracing("agent-os-worker") if settings.tracing else None
        options = SubscribeOptions(
            ack_wait=settings.ack_wait,
            max_deliver=settings.max_deliver,
            concurrency=settings.concurrency,
        )
        try:
            w = Worker(
                bus,
                identity=identity,
                registry=registry,
                policies=chosen,
                audit=audit,
                options=options,
                nonces=plan.store,
                rate_limiter=limiter,
                metrics=metrics,
                review=review,
                presence=PresenceOptions(
                    single_replica=settings.single_replica, interval=settings.presence_interval
                ),
                allow_unbound_replies=settings.allow_unbound_replies,
            )
            if health is not None:
                health.readiness.add_all(w.health_checks())
                await health.start()
            live = sum(not e.revoked for e in registry.store.all())
            log.info(
                "kernel worker %s: bus %s; nonce store %s; registry %s (%d agents); "
                "policy %s %s; unbound replies %s",
                identity.agent_id, redact(url), plan.description, registry_file, live,
                chosen.name, chosen.content_hash,
                "ALLOWED (AGENT_OS_ALLOW_UNBOUND_REPLIES)" if settings.allow_unbound_replies
                else "refused",
            )  # fmt: skip
            if not plan.shared:
                log.warning("replay protection covers this worker only: %s", plan.description)
            await w.run(install_signal_handlers=True)
        finally:
            if health is not None:
                await health.close()
            await bus.close()
            if tracer_provider is not None:
                tracer_provider.shutdown()  # flushes the spans still batched
            await _close(plan.store)
            if isinstance(limiter, RedisTokenBucket):
                await limiter.close()

    try:
        asyncio.run(serve())
    except StartupRefused as exc:
        raise click.ClickException(f"refusing to start ({exc.code}): {exc}") from exc
    except BusError as exc:
        raise click.ClickException(f"bus {redact(url)}: {exc}") from exc


async def _close(store: object) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        await close()


main.add_command(audit)
main.add_command(mcp_proxy)
main.add_command(policy)
main.add_command(trust)
main.add_command(review)
main.add_command(console)
main.add_command(verifier)
