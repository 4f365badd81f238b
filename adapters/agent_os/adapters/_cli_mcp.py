"""``agent-os mcp-proxy``: an MCP server that governs every tool call of an upstream one.

::

    agent-os mcp-proxy --upstream 'python server.py --root /data' --policy strict
    agent-os mcp-proxy --upstream-url http://127.0.0.1:8800/mcp --http 127.0.0.1:8765
    agent-os mcp-proxy --upstream 'npx server-filesystem /data' \\
        --bus nats://127.0.0.1:4222 --identity agent.key --registry registry.json

Local (default): the policy is judged in this process. Remote (``--bus``):
each call is signed with ``--identity`` and judged by the kernel workers on
the bus; their keys are the KERNEL entries of ``--registry`` (or the ids
given with ``--kernel``). The command line is the entry point, the one
module outside ``agent_os.integrations`` allowed to import it (see the layout
test), and only when this command runs.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agent_os.bus import BusError, connect
from agent_os.trust import AgentIdentity, FileTrustStore, PublicIdentity, TrustError, TrustLevel

from ._cli_options import path_option
from ._client import DEFAULT_TIMEOUT, KernelClient


@click.command("mcp-proxy")
@click.option("--upstream", help="Upstream MCP server command line (stdio).")
@click.option("--upstream-url", help="Upstream MCP server URL (streamable HTTP).")
@click.option("--policy", default="strict", show_default=True, help="Preset or YAML file.")
@click.option("--agent-id", default="mcp-proxy", show_default=True, help="Agent id (local).")
@click.option("--http", "http_addr", metavar="HOST:PORT", help="Serve streamable HTTP, not stdio.")
@click.option("--bus", "bus_url", help="Judge with remote kernel workers on this bus.")
@path_option("--identity", help="Agent key file (remote).")
@path_option("--registry", help="Registry file (remote).")
@click.option("--kernel", "kernel_ids", multiple=True, help="Pinned kernel id (repeatable).")
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True, help="Verdict timeout (s).")
def mcp_proxy(
    upstream: str | None,
    upstream_url: str | None,
    policy: str,
    agent_id: str,
    http_addr: str | None,
    bus_url: str | None,
    identity: Path | None,
    registry: Path | None,
    kernel_ids: tuple[str, ...],
    timeout: float,
) -> None:
    """Front an upstream MCP server; every tools/call is judged before it reaches it."""
    if (upstream is None) == (upstream_url is None):
        raise click.UsageError("give exactly one of --upstream or --upstream-url")
    try:
        # The command line is the entry point: the one importer of an integration.
        from mcp import StdioServerParameters

        from agent_os.integrations import GovernedMCPProxy as proxy_type
    except ImportError as exc:
        raise click.ClickException(f"{exc} (pip install 'agent-os[mcp]')") from exc
    spec: Any = upstream_url
    if upstream is not None:
        argv = shlex.split(upstream)
        if not argv:
            raise click.UsageError("--upstream is empty")
        spec = StdioServerParameters(command=argv[0], args=argv[1:])
    host, port = _address(http_addr) if http_addr else (None, 0)
    try:
        if bus_url is None:
            serve = _serve(lambda _client: proxy_type(spec, policy, agent_id=agent_id), host, port)
        else:
            if identity is None or registry is None:
                raise click.UsageError("--bus needs --identity and --registry")
            agent = AgentIdentity.load(identity)
            keys = _kernel_keys(registry, kernel_ids)
            serve = _serve(
                lambda client: proxy_type(spec, client), host, port, bus_url, agent, keys, timeout
            )
        asyncio.run(serve)
    except (BusError, TrustError, OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


async def _serve(
    make_proxy: Callable[[KernelClient | None], Any],
    host: str | None,
    port: int,
    bus_url: str | None = None,
    agent: AgentIdentity | None = None,
    keys: list[PublicIdentity] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Serve the proxy; with ``bus_url``, judged by remote workers through a client."""
    if bus_url is None or agent is None or keys is None:
        await _run(make_proxy(None), host, port)
        return
    bus = await connect(bus_url)
    try:
        await _run(make_proxy(KernelClient(bus, agent, keys, timeout=timeout)), host, port)
    finally:
        await bus.close()


async def _run(proxy: Any, host: str | None, port: int) -> None:
    async with proxy:
        if host is None:
            await proxy.serve_stdio()
        else:
            await proxy.serve_http(host, port)


def _kernel_keys(registry: Path, kernel_ids: tuple[str, ...]) -> list[PublicIdentity]:
    entries = FileTrustStore(registry).all()
    if kernel_ids:
        found = {e.agent_id: e for e in entries}
        missing = [k for k in kernel_ids if k not in found]
        if missing:
            raise click.UsageError(f"kernel id(s) not in {registry}: {', '.join(missing)}")
        chosen = [found[k] for k in kernel_ids]
    else:
        chosen = [e for e in entries if e.level is TrustLevel.KERNEL]
    keys = [e.identity for e in chosen if not e.revoked]
    if not keys:
        raise click.UsageError(f"no unrevoked kernel key in {registry}")
    return keys


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise click.UsageError(f"--http wants HOST:PORT, not {value!r}")
    return host, int(port)
