"""Errors of the audit trail.

AuditError           base; ``code`` is stable and may cross a process boundary
└── AuditStoreError  a store cannot be opened, read or written
"""

from __future__ import annotations


class AuditError(Exception):
    """An audit record is malformed ("malformed_audit") or cannot be written."""

    code: str = "audit_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
