"""Tracing: spans across the bus on a memory bus, exporters from OTEL_* variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from agent_os.adapters import KernelClient
from agent_os.bus import connect, new_id
from agent_os.kernel_worker import KernelSpace, PolicyViolation, Worker, load_policy
from agent_os.observability import (
    TracingError,
    disable_tracing,
    enable_tracing,
    tracing_enabled,
)
from agent_os.observability._tracing import exporters_from_env
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually


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


def _by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in finished}


async def _finished(exporter: InMemorySpanExporter, *names: str) -> dict[str, ReadableSpan]:
    """The finished spans once ``names`` are among them (a worker ends its span after replying)."""
    await eventually(
        lambda: set(names) <= set(_by_name(exporter.get_finished_spans())),
        10.0,
        f"spans {sorted(names)} finished",
    )
    return _by_name(exporter.get_finished_spans())


async def _governed(url: str) -> tuple[Worker, KernelClient, list[object]]:
    worker_bus, agent_bus = await connect(url), await connect(url)
    kernel, agent = AgentIdentity.create("kernel-1", "k"), AgentIdentity.create("agent-1", "a")
    registry = TrustRegistry()
    registry.register(agent)
    worker = Worker(worker_bus, identity=kernel, registry=registry, policies=load_policy("strict"))
    await worker.start()
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=5.0)
    return worker, client, [worker_bus, agent_bus]


async def test_one_trace_from_check_to_verdict(spans: InMemorySpanExporter) -> None:
    worker, client, buses = await _governed(f"memory://{new_id()}")
    try:
        verdict = await client.check("sql", {"query": "DROP TABLE users"})
    finally:
        await worker.shutdown()
        for bus in buses:
            await bus.close()  # type: ignore[attr-defined]
    assert verdict.decision.value == "deny"
    names = {
        "agentos.check",
        "publish agentos.v1.action",
        "process agentos.v1.action",
        "agentos.verify",
        "agentos.policy",
        "agentos.verdict",
        "agentos.receive",
    }
    got = await _finished(spans, *names)
    trace_ids = {got[n].context.trace_id for n in names}
    assert len(trace_ids) == 1

    def parent(name: str) -> int | None:
        p = got[name].parent
        return None if p is None else p.span_id

    check, publish, process = (
        got["agentos.check"],
        got["publish agentos.v1.action"],
        got["process agentos.v1.action"],
    )
    assert check.parent is None and check.kind is SpanKind.CLIENT
    assert parent("publish agentos.v1.action") == check.context.span_id
    # The worker's span continues the context that travelled in the envelope's headers.
    assert parent("process agentos.v1.action") == publish.context.span_id
    assert process.kind is SpanKind.CONSUMER
    for step in ("agentos.verify", "agentos.policy", "agentos.verdict"):
        assert parent(step) == process.context.span_id, step
    # The client reads the verdict as the child of the span that sent it.
    assert parent("agentos.receive") == got["agentos.verdict"].context.span_id

    policy = got["agentos.policy"].attributes or {}
    assert policy["agentos.decision"] == "deny"
    assert policy["agentos.policy"] == "strict"
    assert policy["agentos.rule"] == verdict.rule
    assert policy["agentos.action"] == "sql"
    assert policy["agentos.classification"] == "sql"
    assert (got["agentos.verify"].attributes or {})["agentos.verify.valid"] is True
    assert (check.attributes or {})["agentos.decision"] == "deny"
    assert (got["agentos.receive"].attributes or {})["agentos.decision"] == "deny"
    assert (publish.attributes or {})["messaging.system"] == "memory"


async def test_tool_calls_carry_the_tool(spans: InMemorySpanExporter) -> None:
    worker, client, buses = await _governed(f"memory://{new_id()}")
    try:
        await client.check("tool_call", {"query": "hello"}, tool="search")
    finally:
        await worker.shutdown()
        for bus in buses:
            await bus.close()  # type: ignore[attr-defined]
    got = await _finished(spans, "agentos.policy", "agentos.check")
    assert (got["agentos.policy"].attributes or {})["agentos.tool"] == "search"
    assert (got["agentos.check"].attributes or {})["agentos.tool"] == "search"


async def test_kernel_space_policy_span(spans: InMemorySpanExporter) -> None:
    kernel = KernelSpace(policy="strict")

    @kernel.register(action="shell_exec")
    def shell(cmd: str) -> None: ...

    with pytest.raises(PolicyViolation):
        await shell("rm -rf /")
    (span,) = spans.get_finished_spans()
    assert span.name == "agentos.policy"
    assert (span.attributes or {})["agentos.decision"] == "deny"


async def test_no_spans_and_no_headers_when_off() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(provider=provider)
    disable_tracing()
    assert not tracing_enabled()
    url = f"memory://{new_id()}"
    seen: list[dict[str, str]] = []
    spy = await connect(url)

    async def record(delivery: object) -> None:
        seen.append(dict(delivery.envelope.headers))  # type: ignore[attr-defined]

    await spy.subscribe("agentos.v1.action", record)  # fan-out copy of each request
    worker, client, buses = await _governed(url)
    try:
        await client.check("sql", {"query": "SELECT 1"})
    finally:
        await worker.shutdown()
        for bus in [*buses, spy]:
            await bus.close()  # type: ignore[attr-defined]
    assert exporter.get_finished_spans() == ()
    assert seen and all("traceparent" not in h for h in seen)
    provider.shutdown()


def test_exporters_follow_otel_variables() -> None:
    (otlp,) = exporters_from_env({})
    assert isinstance(otlp, OTLPSpanExporter)  # OTLP over HTTP unless told otherwise
    console = exporters_from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert [type(e) for e in console] == [ConsoleSpanExporter]
    assert exporters_from_env({"OTEL_TRACES_EXPORTER": "none"}) == []
    with pytest.raises(TracingError) as bad:
        exporters_from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "x"})
    assert bad.value.code == "bad_config"
    with pytest.raises(TracingError) as missing:
        exporters_from_env({"OTEL_TRACES_EXPORTER": "zipkin_json"})
    assert missing.value.code == "missing_dependency"
    assert "pip install" in str(missing.value)
    for exporter in [otlp, *console]:
        exporter.shutdown()


def test_demo_prints_its_spans() -> None:
    from click.testing import CliRunner

    from agent_os.adapters._cli import main

    try:
        result = CliRunner().invoke(main, ["demo", "--trace"])
    finally:
        disable_tracing()
    assert '"name": "agentos.policy"' in result.output
    assert '"agentos.decision": "deny"' in result.output
    assert "actions blocked before they ran" in result.output


async def test_an_unsampled_trace_makes_no_spans_anywhere() -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    enable_tracing(provider=provider)
    url = f"memory://{new_id()}"
    seen: list[dict[str, str]] = []
    spy = await connect(url)

    async def record(delivery: object) -> None:
        seen.append(dict(delivery.envelope.headers))  # type: ignore[attr-defined]

    await spy.subscribe("agentos.v1.action", record)
    worker, client, buses = await _governed(url)
    try:
        verdict = await client.check("sql", {"query": "DROP TABLE users"})
    finally:
        disable_tracing()
        await worker.shutdown()
        for bus in [*buses, spy]:
            await bus.close()  # type: ignore[attr-defined]
        provider.shutdown()
    assert verdict.decision.value == "deny"
    assert exporter.get_finished_spans() == ()
    # The decision not to sample travels with the request, so the worker follows it.
    assert seen
    flags = int(seen[0]["traceparent"].rsplit("-", 1)[1], 16)
    assert flags & 0x01 == 0  # W3C "sampled" bit off


async def test_a_held_action_has_a_review_span(spans: InMemorySpanExporter) -> None:
    from agent_os.kernel_worker import AutoApprove

    kernel = KernelSpace(
        {"name": "hold", "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP"}]},
        approver=AutoApprove(),
    )
    ran: list[str] = []

    @kernel.register(action="deploy")
    def deploy(target: str) -> None:
        ran.append(target)

    await deploy("prod")
    assert ran == ["prod"]
    got = _by_name(spans.get_finished_spans())
    review = got["agentos.review"].attributes or {}
    assert review["agentos.review.outcome"] == "approved"
    assert review["agentos.decision"] == "allow"
    assert (got["agentos.policy"].attributes or {})["agentos.decision"] == "review"


async def test_spans_reach_an_otlp_endpoint_named_by_otel_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    received: list[ExportTraceServiceRequest] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces":
                received.append(ExportTraceServiceRequest.FromString(body))
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otlp-test")
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    provider = enable_tracing()
    try:
        kernel = KernelSpace(policy="strict")

        @kernel.register(action="sql")
        def query(sql: str) -> None: ...

        with pytest.raises(PolicyViolation):
            await query("DROP TABLE users")
        assert provider.force_flush(10_000)
    finally:
        disable_tracing()
        provider.shutdown()
        server.shutdown()
        server.server_close()
        thread.join(5)
    spans = [
        (resource.resource, span)
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    (resource, span) = next((r, s) for r, s in spans if s.name == "agentos.policy")
    attributes = {a.key: a.value.string_value for a in span.attributes}
    assert attributes["agentos.decision"] == "deny"
    service = {a.key: a.value.string_value for a in resource.attributes}["service.name"]
    assert service == "otlp-test"
