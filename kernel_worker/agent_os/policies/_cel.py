"""CEL conditions of tool rules: compiled once at load, evaluated against one context per action.

The implementation is ``cel-expr-python`` (Google's C++ CEL behind a Python
binding), chosen by measurement (``benchmarks/cel_engines.py``): it converts a
fresh 1 KB context and evaluates in about 7-12 us, where
``common-expression-language`` needs 40-100 us for the conversion and
``cel-python`` (pure Python) 300 us. Conversion, not evaluation, is the cost,
so the engine keeps it small in three ways:

* a condition sees ``args``, ``tool``, ``action``, ``agent`` (``id``,
  ``capabilities``) and ``data``; the context is built once per action and
  only when a rule with a condition names the action's tool;
* when a condition reads ``args`` or ``data`` only as ``args.NAME`` (or
  ``has(args.NAME)``), only those top-level keys are converted: a 4 KB
  argument object costs what its two read fields cost (:func:`projection`);
* values CEL cannot take (tuples, bytes...) are converted to JSON-like values
  only after a first attempt fails, so the common case pays nothing for it.

Errors at evaluation (a missing field, a wrong type, a non-boolean result)
come back as a message: the engine turns them into a deny with code
``condition_error``, never a skipped rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTEXT_NAMES",
    "Condition",
    "Plan",
    "build_context",
    "compile_condition",
    "evaluate",
    "projection",
]

#: The names a condition can read.
CONTEXT_NAMES = ("args", "tool", "action", "agent", "data")

_WHOLE = None  # projection marker: the whole object is needed


@functools.cache
def _env() -> Any:
    # Imported lazily: policies without conditions never load the C++ runtime.
    from cel_expr_python import cel  # type: ignore[import-untyped]
    from cel_expr_python.ext.ext_strings import ExtStrings  # type: ignore[import-untyped]

    dyn = cel.Type.DYN
    variables = {
        "args": dyn,
        "tool": cel.Type.STRING,
        "action": cel.Type.STRING,
        "agent": dyn,
        "data": dyn,
    }
    return cel.NewEnv(variables=variables, extensions=[ExtStrings()])


@dataclass(frozen=True, slots=True)
class Condition:
    """One compiled CEL condition.

    ``args`` / ``data`` are the top-level keys the condition reads, or
    ``None`` when it needs the whole object (see :func:`projection`);
    ``names`` are the context names it mentions at all (only those are built).
    """

    source: str
    program: Any
    args: frozenset[str] | None
    data: frozenset[str] | None
    names: frozenset[str] = frozenset(CONTEXT_NAMES)


def compile_condition(source: str) -> Condition:
    """Compile ``source``; raise ``ValueError`` with CEL's own message when it does not compile.

    A condition must be boolean: one whose type is known to be something
    else (``args.amount + 1``) is refused here rather than at every call.
    """
    if not isinstance(source, str) or not source.strip():
        raise ValueError("a condition must be a non-empty CEL expression")
    try:
        program = _env().compile(source)
    except RuntimeError as exc:
        raise ValueError(_cel_message(str(exc))) from None
    kind = program.return_type().name()
    if kind not in ("bool", "dyn", "BOOL", "DYN"):
        raise ValueError(f"a condition must be boolean, this one is {kind.lower()}")
    return Condition(
        source,
        program,
        projection(source, "args"),
        projection(source, "data"),
        frozenset(name for name in CONTEXT_NAMES if name in _roots(source)),
    )


def _cel_message(text: str) -> str:
    text = text.removeprefix("INVALID_ARGUMENT: ").removesuffix(" [INVALID_ARGUMENT]")
    return text.replace("<input>:", "")


# A CEL token stream, enough to find identifiers outside string literals.
_TOKEN = re.compile(
    r"""
    (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<dot>\.)
    |(?P<space>\s+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(source: str) -> list[tuple[str | None, str]]:
    return [
        (match.lastgroup, match.group())
        for match in _TOKEN.finditer(source)
        if match.lastgroup != "space"
    ]


def _roots(source: str) -> set[str]:
    """Identifiers of ``source`` that are not field names (not preceded by a dot)."""
    tokens = _tokens(source)
    return {
        text
        for index, (kind, text) in enumerate(tokens)
        if kind == "ident" and (index == 0 or tokens[index - 1][0] != "dot")
    }


def projection(source: str, name: str) -> frozenset[str] | None:
    """The top-level keys of ``name`` that ``source`` reads, or ``None`` for "all of it".

    Only ``name.KEY`` at the root of a selection counts as a projection; any
    other use of ``name`` (``size(args)``, ``args["k"]``, ``args.exists(...)``,
    a comprehension variable called ``args``) needs the whole object.
    Conservative: when in doubt the answer is ``None``.
    """
    tokens = _tokens(source)
    keys: set[str] = set()
    for index, (kind, text) in enumerate(tokens):
        if kind != "ident" or text != name:
            continue
        if index > 0 and tokens[index - 1][0] == "dot":
            continue  # a field called e.g. ``x.args``, not the variable
        if (
            index + 2 < len(tokens)
            and tokens[index + 1][0] == "dot"
            and tokens[index + 2][0] == "ident"
            and not (index + 3 < len(tokens) and tokens[index + 3][1] == "(")
        ):
            keys.add(tokens[index + 2][1])
            continue
        return _WHOLE
    return frozenset(keys)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to convert for a set of conditions: names, and the projections of args and data."""

    names: frozenset[str]
    args: frozenset[str] | None
    data: frozenset[str] | None

    @classmethod
    def of(cls, conditions: list[Condition]) -> Plan:
        """The union of what ``conditions`` read."""
        names: set[str] = set()
        args: set[str] | None = set()
        data: set[str] | None = set()
        for condition in conditions:
            names |= condition.names
            args = None if args is None or condition.args is None else args | condition.args
            data = None if data is None or condition.data is None else data | condition.data
        return cls(
            frozenset(names),
            None if args is None else frozenset(args),
            None if data is None else frozenset(data),
        )


def build_context(
    plan: Plan,
    args: object,
    tool: str,
    action: str,
    agent_id: object,
    capabilities: frozenset[str] | None,
    data: Mapping[str, Any],
) -> Any:
    """The activation every condition of one action is evaluated against (built once).

    Only the names ``plan`` mentions are converted. Raises ``ValueError`` when
    a value cannot be converted even as JSON.
    """
    env = _env()
    names = plan.names
    context: dict[str, Any] = {}
    if "args" in names:
        context["args"] = _project(args, plan.args)
    if "data" in names:
        context["data"] = _project(data, plan.data)
    if "tool" in names:
        context["tool"] = tool
    if "action" in names:
        context["action"] = action
    if "agent" in names:
        context["agent"] = {
            "id": agent_id if isinstance(agent_id, str) else "",
            "capabilities": sorted(capabilities or ()),
        }
    try:
        return env.Activation(context)
    except Exception:
        try:
            return env.Activation(_plain(context, 0))
        except Exception as exc:
            raise ValueError(f"arguments cannot be read by a condition: {exc}") from None


def _project(value: object, keys: frozenset[str] | None) -> object:
    if keys is None or type(value) is not dict:
        return value
    return {key: value[key] for key in keys if key in value}


def _plain(value: object, depth: int) -> object:
    """A JSON-like copy: tuples and sets become lists, bytes text, other objects their str."""
    if depth > 64:
        raise ValueError("nested too deeply")
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def evaluate(condition: Condition, context: Any) -> bool | str:
    """``True`` / ``False``, or the error message when evaluation failed."""
    try:
        result = condition.program.eval(context)
        value = result.value()
    except Exception as exc:
        return f"evaluation failed: {exc}"
    if value is True or value is False:
        return value
    kind = result.type().name()
    if kind.upper() == "ERROR":
        return str(value)
    return f"the condition gave {kind.lower()}, not a boolean"
