"""One plain HTTP/1.1 GET over asyncio, for the tests of health and metrics endpoints."""

from __future__ import annotations

import asyncio


async def http_get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    """``(status, body)`` of ``METHOD path`` on 127.0.0.1:port; the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition("\r\n\r\n")
    return int(head.split(" ", 2)[1]), body
