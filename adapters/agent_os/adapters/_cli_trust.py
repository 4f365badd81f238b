"""``agent-os trust``: revoke, rotate, add and list entries of the shared trust registry.

``reset-state`` is the recovery when a reader's state file holds a serial no
genuine registry file can reach (see ``agent_os.trust._registry_state``).

``revoke`` and ``rotate`` write the registry file first (the durable record
every worker reloads) and then, with ``--bus`` and ``--key``, publish a
control event signed by that admin key on ``agentos.v1.control`` so running
workers apply the change at once. A worker accepts only events whose signer
its registry holds at level ``ADMIN``: register the admin key with
``agent-os trust add ADMIN_ID --from-key ADMIN_KEY --level ADMIN``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from pathlib import Path

import click

from agent_os.bus import BusError, connect
from agent_os.kernel_worker import ControlEvent, publish_control
from agent_os.kernel_worker._startup import registry_state_path
from agent_os.trust import (
    AgentIdentity,
    FileTrustStore,
    PublicIdentity,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

from ._cli_options import path_option

_registry_option = path_option(
    "--registry", "registry_file", required=True, help="Shared trust registry file."
)
_bus_option = click.option(
    "--bus", "bus_url", default=None, help="Also publish the change as a control event here."
)
_key_option = path_option(
    "--key",
    "admin_key",
    default=None,
    help="Admin key file that signs the control event (needs --bus).",
)


def _open(registry_file: Path) -> TrustRegistry:
    return TrustRegistry(FileTrustStore(registry_file))


def _admin(
    registry: TrustRegistry, bus_url: str | None, admin_key: Path | None
) -> AgentIdentity | None:
    """The admin identity that will sign the event, or None when no event is asked for."""
    if (bus_url is None) != (admin_key is None):
        raise click.UsageError("--bus and --key go together: the event must be signed")
    if admin_key is None:
        return None
    try:
        admin = AgentIdentity.load(admin_key)
    except (TrustError, OSError) as exc:
        raise click.ClickException(f"admin key {admin_key}: {exc}") from exc
    if registry.level(admin.agent_id) is not TrustLevel.ADMIN:
        click.echo(
            f"warning: {admin.agent_id!r} is not an ADMIN in this registry; "
            "workers that share it will ignore the event",
            err=True,
        )
    return admin


async def announce(bus_url: str, admin: AgentIdentity, event: ControlEvent) -> None:
    """Publish ``event`` signed by ``admin`` on the bus at ``bus_url``."""
    bus = await connect(bus_url)
    try:
        await publish_control(bus, admin, event)
    finally:
        await bus.close()


def _publish(bus_url: str | None, admin: AgentIdentity | None, event: ControlEvent) -> bool:
    if bus_url is None or admin is None:
        return False
    try:
        asyncio.run(announce(bus_url, admin, event))
    except BusError as exc:
        raise click.ClickException(
            f"registry updated, but the event was not published on {bus_url}: {exc}"
        ) from exc
    return True


@click.group()
def trust() -> None:
    """Manage the shared trust registry and tell running workers about changes."""


@trust.command()
@click.argument("agent_id")
@click.option("--reason", required=True, help="Why (kept in the registry and the event).")
@_registry_option
@_bus_option
@_key_option
def revoke(
    agent_id: str, reason: str, registry_file: Path, bus_url: str | None, admin_key: Path | None
) -> None:
    """Revoke AGENT_ID: every request it signs is denied from now on (there is no un-revoke)."""
    registry = _open(registry_file)
    admin = _admin(registry, bus_url, admin_key)
    try:
        registry.revoke(agent_id, reason)
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    published = _publish(bus_url, admin, ControlEvent.revoke(agent_id, reason))
    click.echo(json.dumps({"agent_id": agent_id, "revoked": True, "published": published}))


@trust.command()
@click.argument("agent_id")
@click.option("--public-key", "public_key", required=True, help="New Ed25519 public key, base64.")
@_registry_option
@_bus_option
@_key_option
def rotate(
    agent_id: str,
    public_key: str,
    registry_file: Path,
    bus_url: str | None,
    admin_key: Path | None,
) -> None:
    """Bind AGENT_ID to a new public key; signatures by the old key fail from now on."""
    try:
        key = base64.b64decode(public_key, validate=True)
        event = ControlEvent.rotate(agent_id, key)
    except (binascii.Error, ValueError) as exc:
        raise click.BadParameter(f"not a base64 Ed25519 public key: {exc}") from exc
    registry = _open(registry_file)
    admin = _admin(registry, bus_url, admin_key)
    try:
        registry.rotate(agent_id, key)
        entry = registry.get(agent_id)
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    published = _publish(bus_url, admin, event)
    fingerprint = entry.identity.fingerprint if entry is not None else None
    click.echo(
        json.dumps({"agent_id": agent_id, "fingerprint": fingerprint, "published": published})
    )


@trust.command()
@click.argument("agent_id")
@click.option("--public-key", "public_key", default=None, help="Public key, base64.")
@path_option(
    "--from-key",
    "key_file",
    default=None,
    help="Take the public key from this private key file.",
)
@click.option(
    "--level",
    type=click.Choice([level.name for level in TrustLevel if level is not TrustLevel.NONE]),
    default="STANDARD",
    show_default=True,
)
@click.option("--name", default="", help="Display name.")
@click.option("--cap", "caps", multiple=True, help="Capability (repeatable).")
@_registry_option
def add(
    agent_id: str,
    public_key: str | None,
    key_file: Path | None,
    level: str,
    name: str,
    caps: tuple[str, ...],
    registry_file: Path,
) -> None:
    """Register AGENT_ID's public key at --level (ADMIN keys may sign control events)."""
    if (public_key is None) == (key_file is None):
        raise click.UsageError("give exactly one of --public-key or --from-key")
    try:
        if key_file is not None:
            loaded = AgentIdentity.load(key_file).public()
            if loaded.agent_id != agent_id:
                raise click.UsageError(f"{key_file} holds {loaded.agent_id!r}, not {agent_id!r}")
            caps_ = frozenset(caps) or loaded.capabilities
            identity = PublicIdentity(agent_id, name or loaded.name, caps_, loaded.public_key)
        else:
            assert public_key is not None
            key = base64.b64decode(public_key, validate=True)
            identity = PublicIdentity(agent_id, name, frozenset(caps), key)
        _open(registry_file).register(identity, TrustLevel[level])
    except (TrustError, OSError, binascii.Error, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        json.dumps({"agent_id": agent_id, "level": level, "fingerprint": identity.fingerprint})
    )


@trust.command()
@_registry_option
@path_option(
    "--key",
    "admin_key",
    required=True,
    help="Admin key file (its id registered at level ADMIN) that signs the registry.",
)
def sign(registry_file: Path, admin_key: Path) -> None:
    """Sign the registry document with an admin key (workers given AGENT_OS_REGISTRY_SIGNERS
    accept only a signed registry). Sign again after every change."""
    try:
        admin = AgentIdentity.load(admin_key)
        store = FileTrustStore(registry_file)
        registry = TrustRegistry(store)
        entry = registry.get(admin.agent_id)
        if entry is None or entry.level is not TrustLevel.ADMIN or entry.revoked:
            raise click.ClickException(f"{admin.agent_id!r} is not an active ADMIN of the registry")
        if entry.identity.public_key != admin.public().public_key:
            raise click.ClickException(
                f"{admin_key} is not the key registered for {admin.agent_id!r}"
            )
        serial = store.sign(admin)
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"signed_by": admin.agent_id, "serial": serial}))


@trust.command(name="reset-state")
@_registry_option
@path_option(
    "--state",
    "state_file",
    envvar="AGENT_OS_REGISTRY_STATE_FILE",
    default=None,
    help="The reader's state file (default <registry>.state, as `agent-os worker` uses).",
)
def reset_state(registry_file: Path, state_file: Path | None) -> None:
    """Accept the registry file as it is now, though its serial is lower than (or jumps far
    past) the one the state file holds. Every revocation in the state file is kept; running
    workers that share the state file read the registry again, restarted ones start."""
    state = registry_state_path(registry_file, state_file)
    if not state.exists():
        raise click.ClickException(f"registry state {state} does not exist: nothing to reset")
    try:
        was, serial = FileTrustStore(registry_file, state=state).reset_state()
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"registry state {state} reset from serial {was} to {serial} (the serial of "
        f"{registry_file}); revocations kept",
        err=True,
    )
    click.echo(json.dumps({"state": str(state), "from": was, "to": serial}))


@trust.command(name="list")
@_registry_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def list_(registry_file: Path, as_json: bool) -> None:
    """Show every entry: id, level, key fingerprint, revocation."""
    try:
        entries = sorted(_open(registry_file).store.all(), key=lambda e: e.agent_id)
    except TrustError as exc:
        raise click.ClickException(str(exc)) from exc
    for entry in entries:
        if as_json:
            click.echo(json.dumps({**entry.to_dict(), "fingerprint": entry.identity.fingerprint}))
            continue
        state = f"revoked: {entry.revoked_reason}" if entry.revoked else "active"
        click.echo(f"{entry.agent_id}\t{entry.level.name}\t{entry.identity.fingerprint}\t{state}")
