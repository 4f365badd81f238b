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
    # crewai 1.15's own import trips an ImportWarning in its lazily loaded
    # ``crewai.rag`` package; it is upstream's and harmless, and would
    # otherwise fail collection (warnings are errors). Import it once here.
    warnings.simplefilter("ignore", ImportWarning)
    import crewai  # noqa: F401
