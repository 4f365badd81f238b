"""Tool classification: what a tool call does, and what each of its arguments is.

:func:`classify` names the action kinds a call belongs to (``file_write``,
``shell_exec``, ``sql``, ``http_request``...; the ones ``strict`` and the
structural rules know) and the meaning of each argument (``_fields``,
``_read``). Sources, in order; the first that classifies names the source:

1. ``declared``: ``hints["action"]``, what the caller or the adapter's
   configuration says the tool is (``@kernel.register(action="file_write")``).
   Its kinds come first; what the catalogue or the name say is added to them,
   never dropped (a declaration comes from the agent's side);
2. ``catalogue``: a well-known tool, by ``hints["class"]`` or by its name
   (``_catalogue``: LangChain, CrewAI, MCP reference servers, OpenAI and
   Anthropic tools), server prefixes (``mcp__fs__write_file``) stripped;
3. ``name``: the words of the tool's name (``_names``: ``delete_file``,
   ``runCommand``, ``sql-query``, ``kubectl_delete``, glued ``writefile``);
4. ``args``: argument shapes (a command line under ``command``, SQL under
   ``query``, a URL under ``url``, a path beside file content);
5. ``declared`` again, weakest: MCP tool annotations (``readOnlyHint`` reads,
   ``destructiveHint`` or ``readOnlyHint: false`` writes). Annotations come
   from the tool's server, so they only classify what nothing else did and
   never relax anything.

Nothing classifying gives ``kinds == ()`` and source ``"none"``. Whatever the
kinds, every argument still gets a meaning. Pure and synchronous; results
are cached per (tool, hints) and per argument-key set when no value had to be
looked at, so a catalogue hit costs a couple of dictionary look-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from types import MappingProxyType
from typing import Any

from ._catalogue import CATALOGUE, KINDS, MEANINGS, ToolSpec, tool_key
from ._fields import command_shaped, exec_default, resolve, role_of
from ._names import EDIT_KEYS, OP_KEYS, WRITE_KEYS, Name, name_words, program_of, verb_kinds
from ._read import located, read
from ._shapes import shape

__all__ = [
    "KINDS",
    "MEANINGS",
    "Classification",
    "classify",
    "classify_keyed",
    "command_text",
    "field_texts",
    "read_fields",
]


@dataclass(frozen=True, slots=True)
class Classification:
    """What a tool call is.

    ``kinds``: action kinds (``()`` when nothing classifies); ``source``:
    ``"declared"``, ``"catalogue"``, ``"name"``, ``"args"`` or ``"none"``;
    ``fields``: argument path (``""`` for arguments that are a bare string,
    ``"a.b"`` nested, list levels not counted) -> meaning, one of
    :data:`MEANINGS`, for every field whose name (or the tool's kind) decides
    its meaning; a catalogue entry lists all its tool's fields. A field whose
    name says nothing has no entry: :func:`read_fields` reads its value's
    shape, and :func:`field_texts` tells what it was read as.
    """

    kinds: tuple[str, ...]
    source: str
    fields: Mapping[str, str]


_EMPTY: Mapping[str, str] = MappingProxyType({})
_KNOWN = frozenset(KINDS)
_IGNORED_DECLARATIONS = frozenset({"", "tool_call", "tool"})
_MAX_CACHE = 4096
_MAX_KEYS = 64  # argument fields classify names; read_fields reads any more (on a budget)


class _Base:
    """Everything about a (tool, hints) pair that does not depend on the argument values."""

    __slots__ = ("by_keys", "declared", "fallback", "kinds", "name", "source", "spec")

    def __init__(self, tool: str, hints: Mapping[str, object] | None) -> None:
        self.by_keys: dict[tuple[object, ...], Classification] = {}
        self.spec: ToolSpec | None = None
        self.name: Name | None = None
        self.fallback: tuple[str, ...] = ()
        hints = hints or {}
        # A declaration comes from the caller's side: it names kinds first and may add
        # kinds, but never drops what the catalogue or the name say (a `terminal`
        # declared file_read still executes shell).
        self.declared = _declared(hints.get("action"))
        klass = hints.get("class")
        server = hints.get("server")
        if isinstance(klass, str):
            self.spec = CATALOGUE.get(tool_key(klass))
        if self.spec is None and tool:
            self.spec = _lookup(tool, server if isinstance(server, str) else "")
        if self.spec is not None:
            self.kinds, self.source = self.spec.kinds, "catalogue"
        else:
            name = Name(tool)
            self.kinds, self.source = name.kinds, "name" if name.kinds else "none"
            if not self.declared:
                self.name = name  # arguments may still classify it (see _refine)
                self.fallback = _annotated(hints)
        if self.declared:
            kinds = self.kinds
            for kind in self.declared:
                if kind not in _KNOWN:
                    # A custom action type is a name too: "git_status" reads, "database_query"
                    # runs SQL; a catalogued one brings its fields when no tool did.
                    spec = _lookup(kind, "")
                    if spec is not None and self.spec is None:
                        self.spec = spec
                    kinds = _merge(kinds, spec.kinds if spec is not None else Name(kind).kinds)
            self.kinds, self.source = _merge(self.declared, kinds), "declared"


def _merge(first: tuple[str, ...], then: tuple[str, ...]) -> tuple[str, ...]:
    return first + tuple(kind for kind in then if kind not in first)


def _declared(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list | tuple) else []
    kinds = (v.strip().lower() for v in items if isinstance(v, str))
    return tuple(dict.fromkeys(k for k in kinds if k not in _IGNORED_DECLARATIONS))


def _annotated(hints: Mapping[str, object]) -> tuple[str, ...]:
    annotations = hints.get("annotations")
    source: Mapping[str, object] = annotations if isinstance(annotations, Mapping) else hints
    read_only = source.get("readOnlyHint")
    destructive = source.get("destructiveHint")
    if read_only is True and destructive is not True:
        return ("file_read",)
    # MCP: destructiveHint defaults to true for a tool that is not read-only.
    if destructive is True or (read_only is False and destructive is not False):
        return ("file_write",)
    return ()


def _lookup(tool: str, server: str) -> ToolSpec | None:
    key = tool_key(tool)
    spec = CATALOGUE.get(key)
    if spec is not None:
        return spec
    for sep in ("__", ".", "/", ":"):
        if sep in tool:
            spec = CATALOGUE.get(tool_key(tool.rsplit(sep, 1)[1]))
            if spec is not None:
                return spec
    if server:
        prefix = tool_key(server) + "_"
        if key.startswith(prefix):
            return CATALOGUE.get(key[len(prefix) :])
    return None


def _hint_key(hints: Mapping[str, object]) -> tuple[object, ...]:
    """The parts of ``hints`` that classification reads, hashable whatever the caller sent."""
    action = hints.get("action")
    klass = hints.get("class")
    server = hints.get("server")
    annotations = hints.get("annotations")
    source = annotations if annotations is not None and isinstance(annotations, Mapping) else hints
    read_only = source.get("readOnlyHint")
    destructive = source.get("destructiveHint")
    return (
        action if type(action) is str else _declared(action),
        klass if type(klass) is str else None,
        server if type(server) is str else None,
        read_only if type(read_only) is bool else None,
        destructive if type(destructive) is bool else None,
    )


_BASES: dict[tuple[object, ...], _Base] = {}


def _base(tool: str, hints: Mapping[str, object] | None) -> _Base:
    key = (tool,) if not hints else (tool, *_hint_key(hints))
    base = _BASES.get(key)
    if base is None:
        if len(_BASES) >= _MAX_CACHE:
            _BASES.clear()  # tool names come from agents: bound the memory they can take
        base = _BASES[key] = _Base(tool, hints)
    return base


def classify(tool: str, args: object, hints: Mapping[str, object] | None = None) -> Classification:
    """Classify one call of ``tool`` with ``args`` (see the module docstring for the sources).

    ``hints`` may carry ``action`` (declared kind or kinds), ``class`` (the
    framework's tool class), ``annotations`` (MCP tool annotations; their
    ``readOnlyHint`` / ``destructiveHint`` are also read at top level) and
    ``server`` (the MCP server's name, stripped from prefixed tool names).
    """
    return classify_keyed(tool, args, hints)[0]


def classify_keyed(
    tool: str, args: object, hints: Mapping[str, object] | None = None
) -> tuple[Classification, bool]:
    """:func:`classify`, and whether the result follows from the tool, the hints and the
    argument names alone (no value was looked at), so a caller may remember it by them."""
    base = _base(tool if isinstance(tool, str) else "", hints)
    keys: tuple[object, ...] | None = None
    if type(args) is dict:
        keys = tuple(args)
        found = base.by_keys.get(keys)
        if found is not None:
            return found, True
    spec = base.spec
    kinds = base.kinds
    fields: dict[str, str] = dict(spec.fields) if spec is not None else {}
    looked = False  # whether any value was looked at (then the result is not cached)
    if spec is not None and spec.op:
        kinds = _merge(base.declared, _op_kinds(spec, args))
        looked = True
    if isinstance(args, Mapping):
        default = exec_default(kinds, args)
        kinds_set = frozenset(kinds) & _KNOWN  # custom declared kinds say nothing about fields
        if default is not None and ("language" in args or "lang" in args):
            looked = True
        if len(args) > _MAX_KEYS:
            looked = True  # not worth caching; fields past the first few are read by the walk
        for index, (key, value) in enumerate(args.items()):
            if index >= _MAX_KEYS:
                break
            skey = key if isinstance(key, str) else str(key)
            if skey in fields:
                continue
            role = role_of(skey)
            if spec is not None and role in (None, "shape") and skey in _UNNAMED:
                fields[skey] = spec.primary
                continue
            if role is None and default is None:
                if spec is not None and spec.rest:
                    fields[skey] = spec.rest  # the tool says what its other arguments are
                continue  # else a name that says nothing: read_fields reads the value's shape
            if role in _SHAPED_ROLES and default is None and not _plain_text(value):
                # JSON text or a container under a name that needs the value's shape:
                # read_fields reads it; the value decided, so the result is not cached.
                looked = True
                continue
            fields[skey], by_value = resolve(skey, value, kinds_set, default)
            looked = looked or by_value
    elif args is not None:
        looked = True
        fields[""] = spec.primary if spec is not None else ""
        if not fields[""]:
            del fields[""]
    source = base.source
    name = base.name
    if name is not None and isinstance(args, Mapping):
        kinds, source, looked = _refine(name, base, args, fields, kinds, source, looked)
    result = Classification(kinds, source, MappingProxyType(fields) if fields else _EMPTY)
    if keys is not None and not looked:
        if len(base.by_keys) >= 64:
            base.by_keys.clear()
        base.by_keys[keys] = result
        return result, True
    return result, False


_UNNAMED = frozenset(("__arg1", "tool_input", "input", "arg"))


def _plain_text(value: object) -> bool:
    return isinstance(value, str) and value[:1] != "{"


_SHAPED_ROLES = frozenset((None, "shape", "content", "argv", "sqlish"))


def _op_kinds(spec: ToolSpec, args: object) -> tuple[str, ...]:
    value: object = args
    for part in spec.op.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return spec.op_kinds.get(value.strip().lower(), spec.kinds)
    return spec.kinds


def _refine(
    name: Name,
    base: _Base,
    args: Mapping[Any, Any],
    fields: dict[str, str],
    kinds: tuple[str, ...],
    source: str,
    looked: bool,
) -> tuple[tuple[str, ...], str, bool]:
    """Name-classified tools: kinds that wait on arguments, then argument shapes, then hints."""
    meanings = set(fields.values())
    if name.op:
        looked = True  # the operation's value picks the kinds
        for key in OP_KEYS:
            value = args.get(key)
            if isinstance(value, str):
                verbs = verb_kinds(name_words(value))
                if verbs:
                    return (*kinds, *(v for v in verbs if v not in kinds)), "name", looked
    if name.if_path and "path" in meanings:
        return (*kinds, *(v for v in name.if_path if v not in kinds)), "name", looked
    if kinds:
        return kinds, source, looked
    found: list[str] = []
    if name.exec_verb:
        # A tool whose name says it runs something (run, exec, invoke...) runs a
        # command line or code it is given, whatever the field is called.
        looked = True
        for key, value in islice(args.items(), _MAX_KEYS):
            if isinstance(value, str) and (fields.get(str(key)) or shape(value)) in (
                "command",
                "code",
            ):
                found.append("shell_exec" if command_shaped(value) else "code_exec")
    for key, meaning in fields.items():
        role = role_of(key)
        if meaning == "command" and role == "command":
            looked = True  # whether it reads as a command line is the value's to say
            if command_shaped(args.get(key)):
                found.append("shell_exec")
        elif meaning == "sql":
            found.append("sql")
        elif meaning == "code" and role == "code" and name.exec_verb:
            found.append("code_exec")
        elif meaning == "url":
            found.append("http_request")
    if "path" in meanings:
        lowered = {str(k).lower() for k in islice(args, _MAX_KEYS)}
        if lowered & EDIT_KEYS:
            found.append("file_modify")
        elif lowered & WRITE_KEYS:
            found.append("file_write")
    if found:
        return tuple(dict.fromkeys(found)), "args", looked
    if base.fallback:
        return base.fallback, "declared", looked
    return (), "none", looked


# -- reading arguments by meaning --------------------------------------------------------


def read_fields(
    args: object, classification: Classification, tool: str = ""
) -> dict[str, list[str]]:
    """Every string of ``args`` grouped by meaning: ``{"command": [...], "url": [...]}``.

    Each string lands in exactly one group; argv split over fields and lists
    of commands come out as one shell text each (:func:`command_text`). With
    ``tool``, a tool named after a CLI (``git``, ``kubectl``) has its command
    and argv fields read as that program's arguments (``{"command": "push
    --force"}`` is ``git push --force``). Cost is bounded (``_read.WORK``): past
    the budget, strings whose name says nothing are read as data. Raises
    ``ValueError`` when ``args`` nest deeper than 64 levels.
    """
    program = program_of(tool) if tool else ""
    return read(args, classification.fields, classification.kinds, program)


def field_texts(
    args: object, classification: Classification, tool: str = ""
) -> list[tuple[str, str, str]]:
    """``(path, meaning, text)`` for every string of ``args``: which field was read as what."""
    program = program_of(tool) if tool else ""
    return located(args, classification.fields, classification.kinds, program)


def command_text(args: object, classification: Classification, tool: str = "") -> list[str]:
    """The shell texts in ``args``.

    ``{"command": "rm", "args": ["-rf", "/"]}`` gives ``["rm -rf /"]``.
    """
    return read_fields(args, classification, tool).get("command", [])
