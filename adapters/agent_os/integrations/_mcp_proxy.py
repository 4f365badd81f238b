"""MCP: a server that fronts an upstream MCP server and governs every ``tools/call``.

::

    agent (MCP client) ──► GovernedMCPProxy ──judge──► kernel (local or remote)
                                 │ allowed
                                 ▼
                           upstream MCP server (stdio command or streamable HTTP URL)

``tools/list`` is passed through unchanged; the proxy remembers each tool's
annotations (``readOnlyHint``, ``destructiveHint``, ...) and sends them with
every call as classification hints. A denied call never reaches the upstream:
it returns an MCP tool error (``isError: true``) whose text is the verdict's
reason, so the model can recover. A held call (SIGSTOP) waits for the
kernel's approver. Only tools are proxied: resources and prompts are not
served, so nothing reaches the upstream except governed tool calls.

From Python::

    proxy = GovernedMCPProxy(StdioServerParameters(command="my-server"), "strict")
    async with proxy:                 # connects to the upstream
        await proxy.serve_stdio()     # or: await proxy.serve_http("127.0.0.1", 8765)

``proxy.server`` is the MCP server object (``mcp.Client(proxy.server)`` talks
to it in-process).
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters, stdio_server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from ._core import KernelArg, ToolCall, ToolGovernor, annotations_of
from ._errors import IntegrationError

__all__ = ["GovernedMCPProxy", "MCPUpstream"]

log = logging.getLogger("agent_os.integrations")

MCPUpstream = StdioServerParameters | str
"""An upstream MCP server: a command to launch (stdio) or a streamable-HTTP URL."""


class GovernedMCPProxy:
    """An MCP server that governs every tool call before the upstream sees it.

    ``upstream`` is :class:`mcp.StdioServerParameters` or a streamable-HTTP
    URL. ``kernel`` and ``options`` are :class:`ToolGovernor`'s (a policy, a
    KernelSpace or a KernelClient; ``on_deny`` is always ``"message"`` here:
    a deny is an MCP tool error).
    """

    def __init__(
        self,
        upstream: MCPUpstream,
        kernel: KernelArg | ToolGovernor = "strict",
        *,
        name: str = "agent-os-proxy",
        **options: Any,
    ) -> None:
        if isinstance(kernel, ToolGovernor):
            if options:
                raise ValueError("options belong to the ToolGovernor given")
            self.governor = kernel
        else:
            self.governor = ToolGovernor(kernel, on_deny="message", **options)
        self._upstream_spec = upstream
        self._upstream: Client | None = None
        self._stack: AsyncExitStack | None = None
        self._annotations: dict[str, dict[str, Any] | None] = {}
        self.server: Server[Any] = Server(
            name, on_list_tools=self._list_tools, on_call_tool=self._call_tool
        )

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> GovernedMCPProxy:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Connect to the upstream server and learn its tools."""
        if self._upstream is not None:
            return
        stack = AsyncExitStack()
        try:
            client = Client(self._upstream_spec, cache=None)
            self._upstream = await stack.enter_async_context(client)
            await self._refresh()
        except BaseException:
            self._upstream = None
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        """Disconnect from the upstream (stops a stdio upstream's process)."""
        stack, self._stack, self._upstream = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def serve_stdio(self) -> None:
        """Serve MCP on this process's stdin/stdout until the client closes them."""
        async with stdio_server() as (read_stream, write_stream):
            await self.server.run(
                read_stream, write_stream, self.server.create_initialization_options()
            )

    async def serve_http(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Serve MCP over streamable HTTP at ``http://host:port/mcp`` until cancelled."""
        import uvicorn

        app = self.server.streamable_http_app(host=host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve()

    # -- handlers --------------------------------------------------------------------

    def _client(self) -> Client:
        if self._upstream is None:
            raise IntegrationError("the proxy is not connected to its upstream", code="upstream")
        return self._upstream

    async def _refresh(self) -> types.ListToolsResult:
        listed = await self._client().list_tools()
        self._annotations = {tool.name: annotations_of(tool.annotations) for tool in listed.tools}
        return listed

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return await self._refresh()

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        args = dict(params.arguments or {})
        try:
            if name not in self._annotations:
                await self._refresh()  # a tool the client learnt of after we listed
            call = ToolCall(
                tool=name,
                args=args,
                tool_class="MCPTool",
                annotations=self._annotations.get(name),
            )
        except Exception as exc:
            log.warning("mcp proxy: cannot read call to %s: %s", name, exc)
            return _error(f"Tool call {name!r} was blocked: the proxy failed ({exc}).")
        verdict = await self.governor.adecide(call)
        if not verdict.allowed:
            return _error(self.governor.refusal_message(call, verdict))
        try:
            return await self._client().call_tool(name, args)
        except Exception as exc:
            # After an allow the upstream failed: say so, as the upstream would.
            return _error(f"upstream failed on {name!r}: {exc}")


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
