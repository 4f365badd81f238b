"""CrewAI runs offline here: no telemetry, no tracing prompts, storage under a temp dir."""

from __future__ import annotations

import os
import tempfile
import warnings

# Before crewai is imported by any test module: these are read at import time.
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="crewai-tests-"))

with warnings.catch_warnings():
    # Upstream's import-time warnings, not ours: crewai 1.15 trips an
    # ImportWarning in its lazily loaded ``crewai.rag`` package, and
    # crewai_tools imports a module crewai deprecated. Warnings are errors, so
    # they would fail collection; both are imported once here instead.
    warnings.simplefilter("ignore", ImportWarning)
    warnings.filterwarnings("ignore", "crewai\\..* is deprecated", DeprecationWarning)
    import crewai  # noqa: F401
    import crewai_tools  # noqa: F401
