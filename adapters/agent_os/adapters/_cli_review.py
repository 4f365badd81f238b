"""``agent-os review`` (list, show, approve, deny held actions) and ``agent-os console``.

``list`` and ``show`` read the review store. ``approve`` and ``deny`` sign the
decision with the reviewer's own key (a ``REVIEWER`` in the trust registry),
verify it against the registry, apply it to the store (the first decision
wins; one past the deadline is refused) and, with ``--bus``, audit it on the
bus and tell the review desks so the waiting agent hears at once. Without a
bus the desks find the decision on their next look at the store.

Settings: ``--store`` / ``AGENT_OS_REVIEW_STORE`` (a SQLite path or a
``postgresql://`` DSN), ``--bus`` / ``AGENT_OS_BUS_URL``, ``--key`` /
``AGENT_OS_REVIEWER_KEY_FILE``, ``--registry`` / ``AGENT_OS_REGISTRY_FILE``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agent_os.audit import AuditPublisher
from agent_os.bus import BusError, connect
from agent_os.observability import HealthServer, Metrics, MetricsError, Readiness
from agent_os.review import (
    DecisionRefused,
    ReviewError,
    ReviewItem,
    ReviewLimits,
    ReviewQueue,
    ReviewRules,
    ReviewStore,
    Webhook,
    format_age,
    open_review_store,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustError, TrustRegistry

from ._cli_options import path_option

__all__ = ["console", "review", "review_queue"]

_store_option = click.option(
    "--store",
    "store_url",
    envvar="AGENT_OS_REVIEW_STORE",
    required=True,
    help="Review store: SQLite path or postgresql:// DSN (env AGENT_OS_REVIEW_STORE).",
)
_bus_option = click.option(
    "--bus",
    "bus_url",
    envvar="AGENT_OS_BUS_URL",
    default=None,
    help="Bus URL (env AGENT_OS_BUS_URL).",
)
_registry_option = path_option(
    "--registry",
    "registry_file",
    envvar="AGENT_OS_REGISTRY_FILE",
    required=True,
    help="Trust registry file (env AGENT_OS_REGISTRY_FILE).",
)


def review_queue(
    store: str | None,
    rules: Path | None,
    webhook: str | None,
    registry: TrustRegistry,
    *,
    console_url: str | None = None,
    limits: ReviewLimits | None = None,
) -> ReviewQueue | None:
    """The worker's review queue from its settings (``None`` without a store)."""
    if store is None:
        if rules is not None or webhook is not None:
            raise click.UsageError("review rules and webhook need AGENT_OS_REVIEW_STORE")
        return None
    try:
        return ReviewQueue(
            open_review_store(store),
            registry=registry,
            rules=None if rules is None else ReviewRules.load(rules),
            webhook=None if webhook is None else Webhook(webhook, console_url=console_url),
            limits=limits,
        )
    except (ReviewError, OSError, ValueError) as exc:
        raise click.ClickException(f"review store {store}: {exc}") from exc


def _open(store_url: str) -> ReviewStore:
    try:
        return open_review_store(store_url, create=False)
    except ReviewError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def review() -> None:
    """Actions held for human review (SIGSTOP): list, show, approve, deny."""


@review.command(name="list")
@_store_option
@click.option("--all", "show_all", is_flag=True, help="Also settled items (newest first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
def list_(store_url: str, show_all: bool, as_json: bool) -> None:
    """Pending items, oldest first: ticket, agent, action, rule, age, time left."""
    now = time.time()
    with _open(store_url) as store:
        items = store.pending(now) + (store.history() if show_all else [])
    for item in items:
        if as_json:
            click.echo(json.dumps(item.to_dict(now)))
            continue
        what = item.action + (f"/{item.tool}" if item.tool else "")
        left = format_age(item.deadline - now) if item.status_at(now).value == "pending" else "-"
        age = format_age(now - item.created_at)
        click.echo(
            f"{item.ticket}\t{item.status_at(now).value}\t{item.agent_id}\t{what}\t"
            f"{item.rule or '-'}\tage {age}\tleft {left}\t{item.reason}"
        )


def _find(store: ReviewStore, ticket: str) -> ReviewItem:
    item = store.find(ticket)
    if item is None:
        raise click.ClickException(f"no review item {ticket!r}")
    return item


@review.command()
@click.argument("ticket")
@_store_option
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
def show(ticket: str, store_url: str, as_json: bool) -> None:
    """One item in full (arguments redacted) with its decisions."""
    now = time.time()
    with _open(store_url) as store:
        item = _find(store, ticket)
    data = item.to_dict(now)
    if as_json:
        click.echo(json.dumps(data))
        return
    for key in ("ticket", "status", "agent_id", "action", "tool", "rule", "reason", "policy"):
        click.echo(f"{key:>10}: {data[key]}")
    click.echo(f"{'age':>10}: {format_age(now - item.created_at)}")
    click.echo(
        f"{'deadline':>10}: {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(item.deadline))} UTC"
    )
    click.echo(f"{'approvals':>10}: {len(item.approvers())} of {item.approvals}")
    click.echo(f"{'args':>10}: {json.dumps(data['args'], indent=2, ensure_ascii=False)}")
    for d in item.decisions:
        verb = "approved" if d.approve else "denied"
        click.echo(f"  {verb} by {d.reviewer} (signed by {d.signer}): {d.comment}")


def _decide(
    ticket: str,
    approve: bool,
    comment: str,
    *,
    store_url: str,
    bus_url: str | None,
    key_file: Path,
    registry_file: Path,
) -> None:
    try:
        reviewer = AgentIdentity.load(key_file)
        registry = TrustRegistry(FileTrustStore(registry_file))
    except (TrustError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    with _open(store_url) as store:
        item = _find(store, ticket)
        signed = sign_decision(reviewer, item.ticket, approve=approve, comment=comment)
        try:
            settled = asyncio.run(_apply(store, registry, signed, bus_url, reviewer))
        except DecisionRefused as exc:
            raise click.ClickException(f"refused: {exc}") from exc
        except (ReviewError, BusError) as exc:
            raise click.ClickException(str(exc)) from exc
    out: dict[str, Any] = {
        "ticket": settled.ticket,
        "status": settled.status.value,
        "decided_by": settled.decided_by,
        "approvals": f"{len(settled.approvers())}/{settled.approvals}",
    }
    click.echo(json.dumps(out))


async def _apply(
    store: ReviewStore,
    registry: TrustRegistry,
    signed: bytes,
    bus_url: str | None,
    reviewer: AgentIdentity,
) -> ReviewItem:
    if bus_url is None:
        return await take_decision(store, registry, signed)
    bus = await connect(bus_url)
    # The decision's audit record is signed by the reviewer who took it (and names them).
    audit = AuditPublisher(bus, signer=reviewer)
    try:
        return await take_decision(store, registry, signed, bus=bus, record=audit.put)
    finally:
        await audit.close()
        await bus.close()


_key_option = path_option(
    "--key",
    "key_file",
    envvar="AGENT_OS_REVIEWER_KEY_FILE",
    required=True,
    help="Your reviewer key file (env AGENT_OS_REVIEWER_KEY_FILE).",
)


def _decision_options(fn: Callable[..., None]) -> Callable[..., None]:
    for option in (_registry_option, _key_option, _bus_option, _store_option):
        fn = option(fn)
    return fn


@review.command()
@click.argument("ticket")
@click.option("--comment", default="", help="Why (kept with the decision and audited).")
@_decision_options
def approve(ticket: str, comment: str, **settings: Any) -> None:
    """Approve TICKET (or a unique prefix of it): the held action runs."""
    _decide(ticket, True, comment, **settings)


@review.command()
@click.argument("ticket")
@click.option("--comment", required=True, help="Why (required for a deny).")
@_decision_options
def deny(ticket: str, comment: str, **settings: Any) -> None:
    """Deny TICKET (or a unique prefix of it): the held action does not run."""
    _decide(ticket, False, comment, **settings)


@click.command()
@_store_option
@_bus_option
@_registry_option
@path_option(
    "--key",
    "key_file",
    envvar="AGENT_OS_CONSOLE_KEY_FILE",
    required=True,
    help="The console's key: a REVIEWER with the review:on-behalf capability, "
    "pinned by agents (env AGENT_OS_CONSOLE_KEY_FILE).",
)
@path_option(
    "--tokens",
    "token_file",
    envvar="AGENT_OS_CONSOLE_TOKENS",
    default=None,
    help="Login tokens, one 'REVIEWER_ID TOKEN' per line (env AGENT_OS_CONSOLE_TOKENS).",
)
@click.option(
    "--auth-header",
    envvar="AGENT_OS_CONSOLE_AUTH_HEADER",
    default=None,
    help="Trust this header (set by your reverse proxy) to name the reviewer.",
)
@click.option("--addr", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option("--port", default=8080, show_default=True, help="Listen port.")
@click.option(
    "--secure-cookies",
    envvar="AGENT_OS_CONSOLE_SECURE_COOKIES",
    is_flag=True,
    help="Mark cookies Secure (HTTPS only): set when a TLS proxy fronts the console.",
)
@click.option(
    "--metrics-port",
    envvar="AGENT_OS_METRICS_PORT",
    type=int,
    default=None,
    help="Also serve /metrics, /healthz and /readyz on this port (for Prometheus).",
)
def console(
    store_url: str,
    bus_url: str | None,
    registry_file: Path,
    key_file: Path,
    token_file: Path | None,
    auth_header: str | None,
    addr: str,
    port: int,
    secure_cookies: bool,
    metrics_port: int | None,
) -> None:
    """Serve the reviewer console (login required) until SIGTERM."""
    try:
        from agent_os.review._console_app import ConsoleConfig, serve, store_ready
    except ImportError as exc:
        raise click.ClickException(
            f"the console needs the review extra: pip install 'agent-os[review]' ({exc})"
        ) from exc
    if (token_file is None) == (auth_header is None):
        raise click.UsageError("give exactly one of --tokens FILE or --auth-header NAME")
    try:
        # /metrics on the console's own port whenever prometheus-client is installed.
        metrics: Metrics | None = Metrics()
    except MetricsError as exc:
        if metrics_port is not None:
            raise click.ClickException(str(exc)) from exc
        metrics = None
    try:
        config = ConsoleConfig.build(
            store=store_url,
            bus_url=bus_url,
            registry_file=registry_file,
            key_file=key_file,
            token_file=token_file,
            auth_header=auth_header,
            secure_cookies=secure_cookies,
            metrics=metrics,
        )
    except (ReviewError, TrustError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    health: HealthServer | None = None
    if metrics_port is not None:
        store = config.store
        # The same registry as the app's /metrics, on a port of its own (for Prometheus).
        health = HealthServer(Readiness(), port=metrics_port, addr=addr)
        health.readiness.add("review_store", lambda: store_ready(store))

    async def run() -> None:
        if health is None:
            await serve(config, addr, port)
            return
        async with health:
            await serve(config, addr, port)

    try:
        asyncio.run(run())
    except BusError as exc:
        raise click.ClickException(f"bus {bus_url}: {exc}") from exc
