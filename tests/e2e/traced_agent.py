"""An agent process with tracing on: for the cross-process tracing test.

Run as ``python traced_agent.py BUS_URL AGENT_KEY KERNEL_KEY SPANS_FILE``. It
asks for one verdict per action given on stdin (a JSON line each), prints each
verdict as a JSON line, and writes its spans to SPANS_FILE, one JSON object a
line. Only the kernel's public key is used from KERNEL_KEY (it is pinned).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.observability import enable_tracing
from agent_os.trust import AgentIdentity


async def main(url: str, agent_key: Path, kernel_key: Path, spans: Path) -> None:
    with spans.open("w") as out:
        provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
        exporter = ConsoleSpanExporter(out=out, formatter=lambda s: s.to_json(indent=None) + "\n")
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        enable_tracing(provider=provider)
        bus = await connect(url)
        try:
            kernel = AgentIdentity.load(kernel_key).public()
            client = KernelClient(bus, AgentIdentity.load(agent_key), [kernel], timeout=30.0)
            for line in sys.stdin:
                action = json.loads(line)
                verdict = await client.check(action["action"], action.get("args"))
                print(json.dumps(verdict.to_dict()), flush=True)
        finally:
            await bus.close()
            provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
