"""The public names of agent_os.observability, pinned."""

import agent_os.observability

EXPECTED = {
    "DURATION_BUCKETS",
    "ROUND_TRIP_BUCKETS",
    "Check",
    "ClientObserver",
    "Decide",
    "HealthServer",
    "Metrics",
    "MetricsError",
    "ObservabilityError",
    "Readiness",
    "TracingError",
    "WorkerObserver",
    "disable_tracing",
    "enable_tracing",
    "instrumented",
    "observed",
    "spanned",
    "start_metrics_server",
    "tracing_enabled",
}


def test_exported_names_are_pinned() -> None:
    assert set(agent_os.observability.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(agent_os.observability, name), name


def test_importing_needs_neither_prometheus_nor_opentelemetry() -> None:
    # Both are optional: the kernel imports this package whether metrics/tracing are used or not.
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"
        "sys.modules['opentelemetry'] = None\n"
        "import agent_os.observability, agent_os.kernel_worker, agent_os.adapters\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
