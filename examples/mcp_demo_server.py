"""A small MCP server to put behind ``agent-os mcp-proxy``: files in a sandbox, a shell, a release.

Its tools carry MCP annotations (read-only, destructive), which the proxy passes
to the kernel as classification hints. Nothing here is dangerous by itself:
``run_command`` only echoes, and files live under ``--root``. Each tool body
appends one JSON line to ``--log`` (when given) so a test can see which bodies
ran.

    python examples/mcp_demo_server.py --root /tmp/sandbox                  # stdio
    python examples/mcp_demo_server.py --root /tmp/sandbox --http 8800      # streamable HTTP
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True)


def build(root: Path, log: Path | None) -> MCPServer:
    server = MCPServer("demo-files")

    def ran(tool: str, **args: str) -> None:
        if log is not None:
            with log.open("a") as out:
                out.write(json.dumps({"tool": tool, "args": args}) + "\n")

    def inside(path: str) -> Path:
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root.resolve()):
            raise ValueError(f"{path} is outside the sandbox")
        return target

    @server.tool(annotations=READ_ONLY)
    def read_file(path: str) -> str:
        """Read a text file."""
        ran("read_file", path=path)
        return inside(path).read_text()

    @server.tool(annotations=DESTRUCTIVE)
    def write_file(path: str, content: str) -> str:
        """Write a text file."""
        ran("write_file", path=path, content=content)
        inside(path).write_text(content)
        return f"wrote {len(content)} bytes to {path}"

    @server.tool(annotations=DESTRUCTIVE)
    def run_command(command: str) -> str:
        """Run a shell command (this demo only echoes it)."""
        ran("run_command", command=command)
        return f"would run: {command}"

    @server.tool(annotations=ToolAnnotations(destructive_hint=False, open_world_hint=True))
    def release(target: str) -> str:
        """Release a build to a target."""
        ran("release", target=target)
        return f"released to {target}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="sandbox directory")
    parser.add_argument("--log", type=Path, help="append a JSON line per tool body run")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP")
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    server = build(args.root, args.log)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
