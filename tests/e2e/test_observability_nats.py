"""Tracing and health across processes: the CLI worker and an agent over real NATS.

The worker is ``agent-os worker`` as a deployment runs it: tracing turned on
by ``AGENT_OS_TRACING`` and exported as the standard ``OTEL_*`` variables say
(the console exporter here, so its spans can be read from stdout), health and
metrics on ``AGENT_OS_METRICS_PORT``. The agent is another process that writes
its spans to a file. Their spans must form one trace per action.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.http_get import http_get
from tests.servers import Servers, free_port

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
ACTIONS = [
    {"action": "sql", "args": {"query": "DROP TABLE users"}},
    {"action": "file_read", "args": {"path": "/srv/report.txt"}},
]


async def _until_ready(port: int, proc: asyncio.subprocess.Process) -> dict[str, Any]:
    """The worker's /readyz report once it answers 200 (it may not be listening yet)."""

    async def ready() -> dict[str, Any] | None:
        if proc.returncode is not None:
            raise AssertionError(f"worker exited with {proc.returncode}")
        try:
            status, body = await http_get(port, "/readyz")
        except OSError:  # not listening yet
            return None
        return dict(json.loads(body)) if status == 200 else None

    report: dict[str, Any] = await eventually(ready, 30.0, "/readyz answering 200")
    return report


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name{labels}`` in a Prometheus text scrape (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _spans(text: str) -> list[dict[str, Any]]:
    """Every JSON object in ``text`` (the console exporter prints indented objects)."""
    decoder, spans, i = json.JSONDecoder(), [], 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return spans
        obj, i = decoder.raw_decode(text, i)
        spans.append(obj)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, Path]:
    kernel, agent = AgentIdentity.create("kernel-1", "k"), AgentIdentity.create("agent-1", "a")
    kernel.save(tmp_path / "kernel.key")
    agent.save(tmp_path / "agent.key")
    written = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    written.register(kernel, TrustLevel.KERNEL)
    written.register(agent)
    return tmp_path / "kernel.key", tmp_path / "agent.key", tmp_path / "registry.json"


async def test_one_trace_per_action_across_processes(
    servers: Servers, tmp_path: Path, keys: tuple[Path, Path, Path]
) -> None:
    url = servers.bus_url("nats")
    kernel_key, agent_key, registry = keys
    port = free_port()
    env = {
        **os.environ,
        "AGENT_OS_METRICS_PORT": str(port),
        "AGENT_OS_TRACING": "true",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "kernel-worker",
    }
    worker_log = (tmp_path / "worker.log").open("w")
    worker = await asyncio.create_subprocess_exec(
        str(BIN / "agent-os"), "worker", "--bus", url, "--policy", "strict",
        "--key", str(kernel_key), "--registry", str(registry),
        stdout=asyncio.subprocess.PIPE, stderr=worker_log, env=env,
    )  # fmt: skip
    try:
        ready = await _until_ready(port, worker)
        assert ready["checks"] == {
            "bus": "ok",
            "policy": "ok",
            "registry": "ok",
            "nonce_store": "ok",
            "replicas": "ok",
        }
        assert (await http_get(port, "/healthz"))[0] == 200
        agent_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        agent = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "traced_agent.py"), url, str(agent_key),
            str(kernel_key), str(tmp_path / "agent-spans.jsonl"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=agent_env,
        )  # fmt: skip
        lines = "".join(json.dumps(a) + "\n" for a in ACTIONS).encode()
        out, _ = await asyncio.wait_for(agent.communicate(lines), 120)
        assert agent.returncode == 0
        verdicts = [json.loads(line) for line in out.decode().splitlines()]
        assert [v["decision"] for v in verdicts] == ["deny", "allow"], verdicts
        # The worker acks and audits after it has replied: its handler may still be
        # finishing the last request when the agent has its verdict.
        for _ in range(200):
            status, metrics = await http_get(port, "/metrics")
            assert status == 200
            if _sample(metrics, "agent_os_worker_request_duration_seconds_count") >= 2:
                break
            await asyncio.sleep(0.05)
        assert _sample(metrics, "agent_os_worker_request_duration_seconds_count") >= 2, metrics
        assert _sample(metrics, "agent_os_verdicts_total", decision="deny") >= 1, metrics
    finally:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
        stdout, _ = await asyncio.wait_for(worker.communicate(), 60)
        worker_log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()

    worker_spans = _spans(stdout.decode())
    agent_spans = [json.loads(x) for x in (tmp_path / "agent-spans.jsonl").read_text().splitlines()]
    checks = [s for s in agent_spans if s["name"] == "agentos.check"]
    # Counted per trace: the session's server may hold requests other tests left on the
    # subject, which this worker also judges (in traces of their own).
    assert len(checks) == 2
    assert {s["resource"]["attributes"]["service.name"] for s in worker_spans} == {"kernel-worker"}
    for check, verdict in zip(checks, verdicts, strict=True):
        trace = check["context"]["trace_id"]
        mine = [s for s in agent_spans + worker_spans if s["context"]["trace_id"] == trace]
        names = {s["name"] for s in mine}
        assert {
            "agentos.check",
            "publish agentos.v1.action",
            "process agentos.v1.action",
            "agentos.verify",
            "agentos.policy",
            "agentos.verdict",
            "agentos.receive",
        } <= names, names
        # A redelivery (a loaded machine, a 2 s ack wait) is processed again in the same trace.
        for policy in [s for s in mine if s["name"] == "agentos.policy"]:
            assert policy["attributes"]["agentos.decision"] == verdict["decision"]
            assert policy["attributes"]["agentos.policy"] == "strict"
            assert policy["attributes"].get("agentos.rule") == verdict["rule"]
        (publish,) = [s for s in mine if s["name"] == "publish agentos.v1.action"]
        for process in [s for s in mine if s["name"] == "process agentos.v1.action"]:
            assert process["parent_id"] == publish["context"]["span_id"]  # across the bus
        assert publish["attributes"]["messaging.system"] == "nats"
    assert checks[0]["context"]["trace_id"] != checks[1]["context"]["trace_id"]


async def test_audit_sink_serves_health(servers: Servers, tmp_path: Path) -> None:
    url = servers.bus_url("nats")
    registry = tmp_path / "registry.json"
    TrustRegistry(FileTrustStore(registry)).register(AgentIdentity.create("kernel-1"))
    port = free_port()
    env = {**os.environ, "AGENT_OS_METRICS_PORT": str(port), "AGENT_OS_BUS_URL": url}
    sink = await asyncio.create_subprocess_exec(
        str(BIN / "agent-os"), "audit", "sink", "--sqlite", str(tmp_path / "audit.db"),
        "--registry", str(registry),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        ready = await _until_ready(port, sink)
        assert ready["checks"] == {"bus": "ok", "registry": "ok"}
        assert (await http_get(port, "/healthz"))[0] == 200
    finally:
        if sink.returncode is None:
            sink.send_signal(signal.SIGTERM)
        await asyncio.wait_for(sink.wait(), 60)
    assert sink.returncode == 0


async def test_readiness_follows_the_broker_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_os.bus import connect
    from agent_os.kernel_worker import Worker, load_policy
    from agent_os.observability import Readiness
    from tests.servers import nats as nats_server

    # A server of its own, even where the environment names one: this test stops it.
    monkeypatch.delenv("AGENT_OS_TEST_NATS_URL", raising=False)
    server = nats_server.start(tmp_path)
    bus = await connect(server.url)
    kernel, agent = AgentIdentity.create("kernel-1"), AgentIdentity.create("agent-1")
    registry = TrustRegistry()
    registry.register(agent)
    worker = Worker(bus, identity=kernel, registry=registry, policies=load_policy("strict"))
    readiness = Readiness()
    readiness.add("bus", worker.health_checks()["bus"])

    async def bus_state(want: str) -> None:
        async def reached() -> bool:
            return bool((await readiness.report())["bus"] == want)

        await eventually(reached, 20.0, f"bus readiness {want!r}")

    try:
        await worker.start()
        await bus_state("ok")
        server.stop()
        await bus_state("bus disconnected")
        server.start()  # same port: nats-py reconnects
        await bus_state("ok")
    finally:
        await worker.shutdown()
        await bus.close()
        server.stop()
