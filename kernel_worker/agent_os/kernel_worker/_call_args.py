"""A Python call as the arguments of an action: bound by name, JSON-safe.

``KernelSpace`` and the bus client both judge calls of plain functions; they
read the call the same way, so one function gets one verdict wherever it is
governed.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

_MAX_DEPTH = 16


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` for the policy to read (``repr`` for the rest)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth >= _MAX_DEPTH:
        return repr(value)
    if isinstance(value, Enum):
        return json_safe(value.value, depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth + 1) for v in value]
    return repr(value)


def signature_of(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none
        return None


def bind_call(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults applied.

    ``self``/``cls`` are dropped and ``**kwargs`` are merged in. A TypeError is
    the one the call itself would raise.
    """
    if signature is None:
        return {"args": list(args), **kwargs}
    call = signature.bind(*args, **kwargs)
    call.apply_defaults()
    params = signature.parameters
    bound: dict[str, Any] = {}
    for index, (name, value) in enumerate(call.arguments.items()):
        if index == 0 and name in ("self", "cls"):
            continue
        if params[name].kind is inspect.Parameter.VAR_KEYWORD:
            for key, item in value.items():
                bound.setdefault(key, item)
        else:
            bound[name] = value
    return bound


def call_args(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``fn(*args, **kwargs)`` as action arguments: bound by name, JSON-safe."""
    safe: dict[str, Any] = json_safe(bind_call(signature_of(fn), args, kwargs))
    return safe
