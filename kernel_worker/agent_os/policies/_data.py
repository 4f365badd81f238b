"""Named values that tool-rule conditions read as ``data.*``: inline, or a YAML / JSON file.

A file is read at load (a file that cannot be read or is not a mapping is a
load error) and re-read when it changes, without a restart: the policy looks
at the file's modification time and size at most every
:data:`RECHECK_SECONDS` (a ``stat`` call, only on actions that evaluate a
condition reading ``data``). A changed file that no longer parses does not
silently keep the old values: conditions that read ``data`` fail (deny with
code ``condition_error``) until the file is fixed. :meth:`PolicyData.reload`
forces a look now, for a caller that knows the file changed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from ._errors import PolicyLoadError

__all__ = ["RECHECK_SECONDS", "PolicyData"]

#: Seconds between two looks at a data file's modification time.
RECHECK_SECONDS = 0.25


class PolicyData:
    """The ``data`` of one policy: a fixed mapping or a watched file."""

    __slots__ = ("_checked", "_error", "_lock", "_path", "_stamp", "_value")

    def __init__(self, source: Mapping[str, Any] | str | os.PathLike[str] | None) -> None:
        self._lock = threading.Lock()
        self._path: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._error: str | None = None
        self._checked = 0.0
        if source is None:
            self._value: Mapping[str, Any] = {}
        elif isinstance(source, Mapping):
            self._value = _checked(dict(source), "inline data")
        elif isinstance(source, str | os.PathLike):
            self._path = os.fspath(source)
            try:
                self._value, self._stamp = _read(self._path)
            except ValueError as exc:
                raise PolicyLoadError(str(exc), field="data") from None
            self._checked = time.monotonic()
        else:
            raise PolicyLoadError(
                f"expected a mapping or a file path, got {type(source).__name__}", field="data"
            )

    @property
    def path(self) -> str | None:
        """The data file, or ``None`` for inline data."""
        return self._path

    def inline(self) -> Mapping[str, Any] | None:
        """The inline mapping (``None`` for a file)."""
        return None if self._path is not None else self._value

    def current(self) -> Mapping[str, Any]:
        """The values now; raises ``ValueError`` while a changed file does not parse."""
        if self._path is not None and time.monotonic() - self._checked >= RECHECK_SECONDS:
            self.reload(only_if_changed=True)
        if self._error is not None:
            raise ValueError(self._error)
        return self._value

    def reload(self, *, only_if_changed: bool = False) -> bool:
        """Re-read the file (inline data: nothing to do). True when the values changed."""
        if self._path is None:
            return False
        with self._lock:
            self._checked = time.monotonic()
            try:
                stat = os.stat(self._path)
                stamp = (stat.st_mtime_ns, stat.st_size)
            except OSError as exc:
                self._error = f"data file {self._path!r} is unreadable: {exc.strerror}"
                return False
            if only_if_changed and stamp == self._stamp and self._error is None:
                return False
            try:
                value, stamp = _read(self._path)
            except ValueError as exc:
                self._error = str(exc)
                self._stamp = stamp
                return False
            changed = value != self._value
            self._value, self._stamp, self._error = value, stamp, None
            return changed


def _read(path: str) -> tuple[Mapping[str, Any], tuple[int, int]]:
    try:
        stat = os.stat(path)
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read data file {path!r}: {exc}") from None
    try:
        value = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"data file {path!r} does not parse: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"data file {path!r} must hold a mapping with string keys")
    try:
        checked = _checked(dict(value), f"data file {path!r}")
    except PolicyLoadError as exc:
        raise ValueError(exc.detail) from None
    return checked, (stat.st_mtime_ns, stat.st_size)


def _checked(value: dict[str, Any], what: str) -> dict[str, Any]:
    """``value`` if it is JSON-like data (string keys all the way down); dates become ISO text.

    Data goes into the policy's content hash and into CEL; YAML's own types
    (dates) are given as the text they were written as.
    """
    try:
        plain = json.loads(json.dumps(value, sort_keys=True, default=_iso))
    except (TypeError, ValueError) as exc:
        raise PolicyLoadError(f"{what} is not JSON-like data: {exc}", field="data") from None
    if not isinstance(plain, dict) or not _string_keys(value):
        raise PolicyLoadError(f"{what} must be a mapping with string keys", field="data")
    return dict(plain)


def _iso(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not data")


def _string_keys(value: object, depth: int = 0) -> bool:
    if depth > 64:
        return False
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _string_keys(v, depth + 1) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_string_keys(v, depth + 1) for v in value)
    return True
