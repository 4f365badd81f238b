"""``agent-os audit``: verify a hash-chained audit store; run the audit sink."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import click

from agent_os.audit._heads import HeadLog, SignedHead, trusted_heads
from agent_os.bus import BusError, connect
from agent_os.kernel_worker import (
    AuditError,
    AuditSinkWorker,
    ChainedAuditStore,
    ChainProblem,
    PostgresAuditStore,
    SqliteAuditStore,
    verify_chain,
)
from agent_os.observability import HealthServer, Readiness
from agent_os.trust import AgentIdentity, FileTrustStore, TrustError, TrustLevel, TrustRegistry

from ._cli_options import path_option

#: Exit codes of ``audit verify``.
EXIT_OK, EXIT_TAMPERED, EXIT_BAD_INPUT = 0, 1, 2


def _signed_heads(
    heads: Path | None, registry_file: Path | None
) -> tuple[list[tuple[int, str]], list[SignedHead]]:
    if heads is None:
        return [], []
    if registry_file is None:
        raise click.UsageError("--heads needs --registry (whose keys sign the heads)")
    registry = TrustRegistry(FileTrustStore(registry_file))
    registry.store.all()
    return trusted_heads(HeadLog(heads).read(), registry)


def _open_store(sqlite: Path | None, postgres: str | None, *, create: bool) -> ChainedAuditStore:
    if (sqlite is None) == (postgres is None):
        raise click.UsageError("give exactly one of --sqlite PATH or --postgres DSN")
    if sqlite is not None:
        return SqliteAuditStore(sqlite, create=create)
    assert postgres is not None
    return PostgresAuditStore(postgres, create=create)


def _parse_head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH (as printed by a previous verify)")
    return int(seq), digest.lower()


@click.group()
def audit() -> None:
    """The tamper-evident audit trail."""


_sqlite_option = click.option(
    "--sqlite", type=click.Path(path_type=Path, dir_okay=False), help="SQLite audit file."
)
_postgres_option = click.option(
    "--postgres", metavar="DSN", help="PostgreSQL DSN (postgresql://user@host/db)."
)


@audit.command()
@_sqlite_option
@_postgres_option
@click.option("--expect-head", metavar="SEQ:HASH", help="A head recorded earlier, to catch cuts.")
@path_option(
    "--heads",
    help="The sink's signed head log: catches a cut or resealed chain (needs --registry).",
)
@path_option(
    "--registry", "registry_file", help="Registry whose auditor (or kernel, admin) keys sign heads."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(
    sqlite: Path | None,
    postgres: str | None,
    expect_head: str | None,
    heads: Path | None,
    registry_file: Path | None,
    as_json: bool,
) -> None:
    """Check the hash chain. Exit 0 intact, 1 tampered, 2 bad input."""
    try:
        head = _parse_head(expect_head)
        signed, unsigned = _signed_heads(heads, registry_file)
        store = _open_store(sqlite, postgres, create=False)
    except (click.UsageError, click.BadParameter) as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (AuditError, TrustError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        report = verify_chain(store.records(), expect_head=head, expect_heads=signed)
        for bad in unsigned:
            detail = f"head {bad.seq} in the head log is not signed by a key of the registry"
            report.problems.append(ChainProblem(bad.seq, "head", detail))
    except AuditError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.to_dict()))
    elif report.ok:
        click.echo(
            f"OK: {report.checked} records, chain intact; head {report.last_seq}:{report.last_hash}"
        )
    else:
        for problem in report.problems:
            click.echo(f"TAMPERED {problem}")
        more = " (stopped early)" if report.truncated else ""
        click.echo(f"{len(report.problems)} problem(s) in {report.checked} records{more}")
    sys.exit(EXIT_OK if report.ok else EXIT_TAMPERED)


@audit.command()
@click.option("--bus", "bus_url", envvar="AGENT_OS_BUS_URL", required=True, help="Bus URL.")
@path_option(
    "--registry",
    "registry_file",
    envvar="AGENT_OS_REGISTRY_FILE",
    required=True,
    help="Trust registry: only batches signed by its KERNEL keys are stored.",
)
@path_option(
    "--key",
    "key_file",
    help="The sink's key to sign chain heads: its own id at level AUDITOR in the registry "
    "(heads only; batches it signs are refused).",
)
@path_option("--heads", help="Append-only log of signed chain heads; keep it apart from the store.")
@_sqlite_option
@_postgres_option
def sink(
    bus_url: str,
    registry_file: Path,
    key_file: Path | None,
    heads: Path | None,
    sqlite: Path | None,
    postgres: str | None,
) -> None:
    """Store signed audit events from the bus on the hash chain until SIGTERM.

    Anything not signed by a kernel key of the registry (or signed by --key)
    is dead-lettered; events missing from a worker's numbering are recorded as
    gaps. Readiness (AGENT_OS_METRICS_PORT) fails while the registry file is
    refused and the sink serves its last good copy.
    """
    logging.basicConfig(
        level=os.environ.get("AGENT_OS_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(message)s",
    )
    if not registry_file.exists():
        raise click.ClickException(f"registry file {registry_file} does not exist")
    kernels = TrustRegistry(FileTrustStore(registry_file, recheck=1.0))
    if (key_file is None) != (heads is None):
        raise click.UsageError("--key and --heads go together (the key signs the heads)")
    try:
        kernels.store.all()
        signer = AgentIdentity.load(key_file) if key_file is not None else None
        store = _open_store(sqlite, postgres, create=True)
    except (AuditError, TrustError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if signer is not None and (level := kernels.level(signer.agent_id)) is not TrustLevel.AUDITOR:
        logging.getLogger("agent_os.kernel.audit_sink").warning(
            "the sink key %s is at level %s in the registry, not AUDITOR: %s",
            signer.agent_id,
            level.name,
            "its heads will not verify"
            if level not in (TrustLevel.KERNEL, TrustLevel.ADMIN)
            else "it can also sign what that level signs (verdicts or control events); "
            "register it with `agent-os trust add ID --from-key KEY --level AUDITOR`",
        )
    head_log = HeadLog(heads) if heads is not None else None

    port = os.environ.get("AGENT_OS_METRICS_PORT")
    addr = os.environ.get("AGENT_OS_METRICS_ADDR", "127.0.0.1")

    async def serve() -> None:
        bus = await connect(bus_url)
        # /healthz, /readyz (consuming) and /metrics, as the worker serves them.
        health = HealthServer(Readiness(), port=int(port), addr=addr) if port else None
        try:
            worker = AuditSinkWorker(
                bus, store, kernels=kernels, head_signer=signer, head_log=head_log
            )
            if health is not None:
                health.readiness.add_all(worker.health_checks())
                await health.start()
            await worker.run(install_signal_handlers=True)
        finally:
            if health is not None:
                await health.close()
            await bus.close()

    try:
        asyncio.run(serve())
    except BusError as exc:
        raise click.ClickException(f"bus {bus_url}: {exc}") from exc
    finally:
        store.close()
