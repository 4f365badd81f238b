"""The governing MCP proxy in front of a real upstream MCP server (a subprocess).

Clients are the official SDK's ``mcp.Client``: in-process against
``proxy.server``, over stdio against ``agent-os mcp-proxy``, and over
streamable HTTP against both the proxy and the upstream.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp_support import free_port, make_upstream, start_http, stop

from agent_os.audit import AuditEvent
from agent_os.bus import connect
from agent_os.integrations import GovernedMCPProxy, ToolGovernor
from agent_os.kernel_worker import (
    CallbackApprover,
    KernelSpace,
    MemoryAuditLog,
    ReviewRequest,
    Worker,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.integrations.support import integration_policy, remote_kernel, unreachable_kernel
from tests.servers import Servers

DANGEROUS = ("run_command", {"command": "rm -rf /"})
HARMLESS = ("read_file", {"path": "notes.txt"})
HELD = ("release", {"target": "deploy to production"})


def _text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


@asynccontextmanager
async def _proxied(upstream: Any, kernel: Any) -> AsyncIterator[Client]:
    async with GovernedMCPProxy(upstream, kernel) as proxy, Client(proxy.server) as client:
        yield client


async def test_dangerous_call_never_reaches_the_upstream_and_allowed_call_returns(
    tmp_path: Path,
) -> None:
    up = make_upstream(tmp_path)
    async with _proxied(up.stdio(), integration_policy()) as client:
        denied = await client.call_tool(*DANGEROUS)
        assert denied.is_error
        assert "recursive file deletion" in _text(denied) and "did not run" in _text(denied)
        allowed = await client.call_tool(*HARMLESS)
        assert not allowed.is_error and _text(allowed) == "quarterly numbers"
    assert up.ran() == [{"tool": "read_file", "args": {"path": "notes.txt"}}]


async def test_tools_list_passes_through_with_annotations(tmp_path: Path) -> None:
    async with _proxied(make_upstream(tmp_path).stdio(), "strict") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {"read_file", "write_file", "run_command", "release"}
    annotations = tools["run_command"].annotations
    assert annotations is not None and annotations.destructive_hint is True


@pytest.mark.parametrize("approve", [True, False])
async def test_held_call_runs_only_after_approval_and_carries_the_annotations(
    tmp_path: Path, approve: bool
) -> None:
    seen: list[ReviewRequest] = []

    def decide(request: ReviewRequest) -> bool:
        seen.append(request)
        return approve

    up = make_upstream(tmp_path)
    kernel = ToolGovernor(integration_policy(), approver=CallbackApprover(decide))
    async with _proxied(up.stdio(), kernel) as client:
        result = await client.call_tool(*HELD)
    (request,) = seen
    assert request.action["hints"] == {
        "class": "MCPTool",
        "annotations": {"destructiveHint": False, "openWorldHint": True},
    }
    if approve:
        assert not result.is_error and _text(result) == "released to deploy to production"
        assert [r["tool"] for r in up.ran()] == ["release"]
    else:
        assert result.is_error and "review_denied" in _text(result) and up.ran() == []


async def test_unreachable_kernel_denies(tmp_path: Path) -> None:
    up = make_upstream(tmp_path)
    async with unreachable_kernel() as dead, _proxied(up.stdio(), dead) as client:
        result = await client.call_tool(*HARMLESS)
    assert result.is_error and "blocked" in _text(result) and up.ran() == []


class BrokenAudit:
    def record(self, event: AuditEvent) -> None:
        raise OSError("audit store unavailable")


async def test_an_exception_inside_the_integration_denies(tmp_path: Path) -> None:
    up = make_upstream(tmp_path)
    space = KernelSpace(integration_policy(), audit=BrokenAudit())
    async with _proxied(up.stdio(), space) as client:
        result = await client.call_tool(*HARMLESS)
    assert result.is_error and "integration_error" in _text(result) and up.ran() == []


@pytest.mark.parametrize("backend", ["memory", "nats"])
async def test_remote_kernel_worker_judges_every_call(
    tmp_path: Path, backend: str, servers: Servers
) -> None:
    up = make_upstream(tmp_path)
    url = None if backend == "memory" else servers.get(backend).url
    async with remote_kernel(url) as remote, _proxied(up.stdio(), remote.client) as client:
        assert (await client.call_tool(*DANGEROUS)).is_error
        assert _text(await client.call_tool(*HARMLESS)) == "quarterly numbers"
        assert [(e.tool, e.decision) for e in remote.audit.events] == [
            ("run_command", "deny"),
            ("read_file", "allow"),
        ]
    assert [r["tool"] for r in up.ran()] == ["read_file"]


def _policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    policy = integration_policy().to_dict()
    path.write_text(yaml.safe_dump(policy))
    return path


def _agent_os() -> str:
    return str(Path(sys.executable).with_name("agent-os"))


async def test_cli_over_stdio(tmp_path: Path) -> None:
    up = make_upstream(tmp_path)
    proxy = StdioServerParameters(
        command=_agent_os(),
        args=[
            "mcp-proxy",
            "--upstream",
            shlex.join(up.argv()),
            "--policy",
            str(_policy_file(tmp_path)),
        ],
        env=dict(os.environ),  # the SDK passes only a few variables on by default
    )
    async with Client(proxy, cache=None) as client:
        assert (await client.call_tool(*DANGEROUS)).is_error
        # strict blocks file writes: the destructive tool is stopped by its kind too.
        written = await client.call_tool("write_file", {"path": "out.txt", "content": "ok"})
        assert written.is_error and "did not run" in _text(written)
        assert _text(await client.call_tool(*HARMLESS)) == "quarterly numbers"
    assert [r["tool"] for r in up.ran()] == ["read_file"]
    assert not (up.root / "out.txt").exists()


async def test_cli_over_streamable_http_in_front_of_an_http_upstream(tmp_path: Path) -> None:
    up = make_upstream(tmp_path)
    upstream_port, proxy_port = free_port(), free_port()
    upstream = start_http(
        [*up.argv(), "--http", str(upstream_port)], upstream_port, tmp_path / "u.log"
    )
    try:
        argv = [
            _agent_os(), "mcp-proxy", "--upstream-url", f"http://127.0.0.1:{upstream_port}/mcp",
            "--policy", str(_policy_file(tmp_path)), "--http", f"127.0.0.1:{proxy_port}",
        ]  # fmt: skip
        proxy = start_http(argv, proxy_port, tmp_path / "p.log")
        try:
            async with Client(f"http://127.0.0.1:{proxy_port}/mcp", cache=None) as client:
                denied = await client.call_tool(*DANGEROUS)
                allowed = await client.call_tool(*HARMLESS)
        finally:
            stop(proxy)
    finally:
        stop(upstream)
    assert denied.is_error and "recursive file deletion" in _text(denied)
    assert _text(allowed) == "quarterly numbers"
    assert [r["tool"] for r in up.ran()] == ["read_file"]


def test_cli_refuses_a_bad_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent_os.adapters._cli import main

    runner = CliRunner()
    both = runner.invoke(main, ["mcp-proxy", "--upstream", "x", "--upstream-url", "http://h/mcp"])
    assert both.exit_code != 0 and "exactly one" in both.output
    remote = runner.invoke(main, ["mcp-proxy", "--upstream", "x", "--bus", "memory://"])
    assert remote.exit_code != 0 and "--identity" in remote.output


@pytest.mark.parametrize("approve", [True, False])
async def test_remote_held_call_waits_for_the_kernels_reviewer(
    tmp_path: Path, approve: bool, servers: Servers
) -> None:
    up = make_upstream(tmp_path)
    async with (
        remote_kernel(servers.get("nats").url, review=tmp_path) as remote,
        _proxied(up.stdio(), remote.client) as client,
    ):
        call = asyncio.create_task(client.call_tool(*HELD))
        (item,) = await remote.held()
        assert item.tool == "release" and up.ran() == []
        await remote.decide(approve)
        result = await call
    assert result.is_error is not approve
    assert [r["tool"] for r in up.ran()] == (["release"] if approve else [])


async def test_cli_with_remote_kernel_workers_over_nats(tmp_path: Path, servers: Servers) -> None:
    url = servers.get("nats").url
    up = make_upstream(tmp_path)
    kernel = AgentIdentity.create("kernel-cli", "kernel")
    proxy_id = AgentIdentity.create("mcp-proxy-cli", "proxy")
    proxy_id.save(tmp_path / "proxy.key")
    registry_file = tmp_path / "registry.json"
    registry = TrustRegistry(FileTrustStore(registry_file))
    registry.register(proxy_id)
    registry.register(kernel, TrustLevel.KERNEL)
    bus = await connect(url)
    worker = Worker(
        bus,
        identity=kernel,
        registry=registry,
        policies=integration_policy(),
        audit=MemoryAuditLog(),
    )
    await worker.start()
    try:
        argv = ["mcp-proxy", "--upstream", shlex.join(up.argv()), "--bus", url]
        argv += ["--identity", str(tmp_path / "proxy.key"), "--registry", str(registry_file)]
        proxy = StdioServerParameters(command=_agent_os(), args=argv, env=dict(os.environ))
        async with Client(proxy, cache=None) as client:
            denied = await client.call_tool(*DANGEROUS)
            allowed = await client.call_tool(*HARMLESS)
    finally:
        await worker.shutdown()
        await bus.close()
    assert denied.is_error and "recursive file deletion" in _text(denied)
    assert _text(allowed) == "quarterly numbers"
    assert [r["tool"] for r in up.ran()] == ["read_file"]
