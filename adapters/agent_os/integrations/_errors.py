"""Errors of the framework integrations.

::

    IntegrationError            (code)
     ├── MissingExtra           the framework is not installed (names the extra)
     ├── UnsupportedObject      wrap() was given something it cannot govern
     └── LoopBlocked            a sync call would wait on the event loop it runs on
"""

from __future__ import annotations

__all__ = ["IntegrationError", "LoopBlocked", "MissingExtra", "UnsupportedObject"]


class IntegrationError(Exception):
    """Base of the integrations' errors; ``code`` is stable."""

    code = "integration_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class MissingExtra(IntegrationError, ImportError):
    """A framework integration was used without its package installed."""

    code = "missing_extra"

    @classmethod
    def for_extra(cls, extra: str, package: str) -> MissingExtra:
        return cls(f"{package} is not installed: pip install 'agent-os[{extra}]'")


class UnsupportedObject(IntegrationError, TypeError):
    """``wrap()`` was given an object it does not know how to govern."""

    code = "unsupported_object"


class LoopBlocked(IntegrationError):
    """A sync call would block the event loop that must answer it (use the async API)."""

    code = "loop_blocked"
