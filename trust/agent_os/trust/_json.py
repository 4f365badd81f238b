"""Strict JSON for everything that crosses a process boundary.

Python's ``json`` accepts documents other parsers read differently: with a
duplicated key the last value wins (another parser may keep the first), and
``NaN``, ``Infinity`` and numbers such as ``1e999`` (which overflow to
infinity) are not JSON at all. A policy that judged one reading while a tool
runs another would be a bypass, so signed contents, headers and verdicts are
read with :func:`strict_loads`, which refuses all of them with a stable code:

* ``"duplicate_key"`` — an object names the same key twice;
* ``"non_finite_number"`` — ``NaN``, ``Infinity``, ``-Infinity`` or a number
  too large for a float;
* ``"too_deep"`` — nested past the parser's recursion limit;
* ``"malformed"`` — not JSON (bad syntax, not UTF-8).
"""

from __future__ import annotations

import json
import math
from typing import Any, NoReturn

from ._errors import MalformedMessage


class StrictJSONError(MalformedMessage):
    """A document is not strict JSON; ``code`` says why (see the module docstring)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, code=code)


class _Refused(ValueError):
    """Raised inside the decoder's hooks; turned into ``StrictJSONError`` at the edge."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise _Refused(f"duplicate key {dup!r}", "duplicate_key")
    return out


def _no_constant(name: str) -> NoReturn:
    raise _Refused(f"{name} is not a JSON number", "non_finite_number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is not finite as a float", "non_finite_number")
    return value


# Built once: json.loads with options builds a new decoder per call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float
)


def strict_loads(data: bytes | str) -> Any:
    """Decode ``data`` (UTF-8 bytes or text) as strict JSON; raise ``StrictJSONError``."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return _DECODER.decode(text)
    except _Refused as exc:
        raise StrictJSONError(str(exc), exc.code) from None
    except RecursionError:
        raise StrictJSONError("JSON nests too deeply", "too_deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise StrictJSONError(f"not JSON: {exc}", "malformed") from None
