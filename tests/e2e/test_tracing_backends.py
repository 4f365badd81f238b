"""The trace context crosses every backend: one trace per action on NATS, Redis, Kafka and SQS.

A worker and an agent's client on a real server of each backend, spans to an
in-memory exporter. The worker's ``process`` span must be the child of the
client's ``publish`` span, which only holds if ``traceparent`` travelled in
the envelope's headers through that broker, and the client's ``receive`` the
child of the worker's ``verdict`` span (the reply's headers).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_os.adapters import KernelClient
from agent_os.bus import SubscribeOptions, connect, new_id
from agent_os.kernel_worker import Worker, load_policy
from agent_os.observability import disable_tracing, enable_tracing
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually
from tests.servers import DURABLE_BACKENDS, Servers, selected_backends


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(provider=provider)
    try:
        yield exporter
    finally:
        disable_tracing()
        provider.shutdown()


@pytest.mark.parametrize("backend", selected_backends(DURABLE_BACKENDS))
async def test_one_trace_across_the_backend(
    backend: str, servers: Servers, spans: InMemorySpanExporter
) -> None:
    url = servers.bus_url(backend)
    worker_bus, agent_bus = await connect(url), await connect(url)
    kernel, agent = AgentIdentity.create("kernel-t"), AgentIdentity.create("agent-t")
    registry = TrustRegistry()
    registry.register(agent)
    subject = f"agentos.v1.trace.{new_id()[:8]}"  # a fresh work queue: nothing left from others
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=load_policy("strict"),
        subject=subject,
        options=SubscribeOptions(ack_wait=5.0),
        control_subject=None,
        publish_audit=False,
    )
    try:
        await worker.start()
        client = KernelClient(agent_bus, agent, [kernel.public()], subject=subject, timeout=60)
        verdict = await client.check("sql", {"query": "DROP TABLE users"})
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
    assert verdict.decision.value == "deny", verdict
    wanted = {f"publish {subject}", f"process {subject}", "agentos.verdict", "agentos.receive"}
    # The worker ends its span after it has replied.
    await eventually(
        lambda: wanted <= {s.name for s in spans.get_finished_spans()}, 10.0, f"spans {wanted}"
    )
    got = {s.name: s for s in spans.get_finished_spans()}
    publish, process = got[f"publish {subject}"], got[f"process {subject}"]
    assert len({s.context.trace_id for s in got.values()}) == 1
    assert process.parent is not None and process.parent.is_remote
    assert process.parent.span_id == publish.context.span_id
    receive = got["agentos.receive"]
    assert (
        receive.parent is not None
        and receive.parent.span_id == got["agentos.verdict"].context.span_id
    )
    assert (got["agentos.policy"].attributes or {})["agentos.decision"] == "deny"
    assert (publish.attributes or {})["messaging.system"] == backend
