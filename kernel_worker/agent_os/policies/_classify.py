"""Tool classification: what a tool call does, and what each of its arguments is.

:func:`classify` names the action kinds a call belongs to (``file_write``,
``shell_exec``, ``sql``, ``http_request``...; the ones ``strict`` and the
structural rules know) and the meaning of each argument (``_fields``).
Sources, first that classifies wins:

1. ``declared``: ``hints["action"]``, what the caller or the adapter's
   configuration says the tool is (``@kernel.register(action="file_write")``);
2. ``catalogue``: a well-known tool, by ``hints["class"]`` or by its name
   (``_catalogue``: LangChain, CrewAI, MCP reference servers, OpenAI and
   Anthropic tools);
3. ``name``: the words of the tool's name (``delete_file``, ``runCommand``,
   ``sql-query``, ``web_search``; glued words such as ``writefile`` too);
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
from types import MappingProxyType
from typing import Any

from ._catalogue import CATALOGUE, KINDS, MEANINGS, ToolSpec, tool_key
from ._fields import (
    EXEC_DEFAULT,
    _role,
    command_of,
    command_shaped,
    exec_default,
    field_meaning,
    walk,
)
from ._shapes import shape

__all__ = [
    "KINDS",
    "MEANINGS",
    "Classification",
    "classify",
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
_IGNORED_DECLARATIONS = frozenset({"", "tool_call", "tool"})
_MAX_CACHE = 4096

# -- name words ---------------------------------------------------------------------------


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_DELETE = _set("delete remove rm rmdir unlink erase destroy purge wipe trash del shred")
_WRITE = _set("write save create make append put store touch mkdir makedirs overwrite dump new add")
_MODIFY = _set("edit modify patch update replace change chmod chown insert apply")
_MOVE = _set("move mv rename")
_COPY = _set("copy cp duplicate")
_READ = _set(
    "read cat get open load view show head tail list ls stat info describe tree find "
    "search grep glob exists check inspect preview lookup scan walk size du"
)
_FILE = _set(
    "file files dir dirs directory directories folder folders fs filesystem path paths disk editor"
)
_FILLER = _set("tool tools fn func function to a an the from in on my local safe")
_SHELL = _set(
    "shell bash sh zsh terminal cmd command commands powershell pwsh console subprocess cli"
)
_EXEC = _set("run exec execute eval evaluate interpret invoke spawn launch")
_CODE = _set(
    "python py code repl interpreter js javascript node nodejs typescript ruby julia "
    "notebook jupyter snippet cell"
)
_REPL = _set("repl interpreter jupyter notebook")
_SQL = _set(
    "sql tsql mysql postgres postgresql psql sqlite sqlite3 duckdb snowflake bigquery "
    "redshift clickhouse mssql"
)
_DB = _set("database db")
_HTTP = _set(
    "http https request requests curl wget fetch url urls webpage website webhook scrape "
    "scraper crawl crawler browse browser navigate download visit"
)
_WEB = _set(
    "web internet google bing duckduckgo ddg brave serper serp serpapi tavily searx "
    "searxng exa perplexity wikipedia wiki arxiv pubmed news scholar kagi"
)
_SEND = _set("send post reply notify forward")
_MESSAGE = _set(
    "email emails mail message messages msg sms slack chat tweet notification gmail dm "
    "teams discord telegram whatsapp"
)
_VOCAB = (
    _DELETE | _WRITE | _MODIFY | _MOVE | _COPY | _READ | _FILE | _SHELL | _EXEC | _CODE
    | _SQL | _DB | _HTTP | _WEB | _SEND | _MESSAGE | {"query", "script"}
)  # fmt: skip
_OP_KEYS = ("action", "operation", "op", "command", "mode")
_EDIT_KEYS = _set("old_str new_str old_string new_string oldtext newtext edits patch diff")
_WRITE_KEYS = _set("content contents file_text text data new_content")


def _segment(token: str) -> list[str]:
    """Split a glued token into vocabulary words (``writefile`` -> write, file), or keep it."""
    if token in _VOCAB or len(token) > 40:
        return [token]
    best: list[list[str] | None] = [[]] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - 12), end - 1):
            prefix = best[start]
            if prefix is not None and token[start:end] in _VOCAB:
                best[end] = [*prefix, token[start:end]]
                break
    found = best[len(token)]
    return found if found else [token]


def _words(tool: str) -> frozenset[str]:
    out: list[str] = []
    for token in tool_key(tool).split("_"):
        if token:
            out.extend(_segment(token))
    return frozenset(out)


def _verb_kinds(words: frozenset[str]) -> list[str]:
    kinds: list[str] = []
    if words & _DELETE:
        kinds.append("file_delete")
    if words & _MOVE:
        kinds += ["file_write", "file_delete"]
    if words & _COPY:
        kinds += ["file_read", "file_write"]
    if words & _WRITE:
        kinds.append("file_write")
    if words & _MODIFY:
        kinds.append("file_modify")
    if words & _READ and not kinds:
        kinds.append("file_read")
    return kinds


class _Name:
    """What a tool's name says: kinds, and kinds that wait for a path or an op argument."""

    __slots__ = ("exec_verb", "if_path", "kinds", "op")

    def __init__(self, tool: str) -> None:
        words = _words(tool)
        self.exec_verb = bool(words & _EXEC)
        self.if_path: tuple[str, ...] = ()
        self.op = False
        kinds: list[str] = []
        has_file = bool(words & _FILE)
        code = words & _CODE
        if (
            words & _SHELL
            or words in ({"exec"}, {"execute"})
            or ("script" in words and self.exec_verb and not code)
        ):
            kinds.append("shell_exec")
        if code and (self.exec_verb or words & _REPL or len(words) == 1):
            kinds.append("code_exec")
        db = words & _DB
        if (
            words & _SQL
            or ("query" in words and (self.exec_verb or db))
            or (db and (self.exec_verb or not words - _DB - _FILLER - _READ))
        ):
            kinds.append("sql")
        if has_file:
            verbs = _verb_kinds(words)
            kinds += verbs
            self.op = not verbs
        elif not words - _DELETE - _WRITE - _MODIFY - _MOVE - _COPY - _READ - _FILLER:
            self.if_path = tuple(_verb_kinds(words))
        if words & _HTTP:
            kinds.append("http_request")
            if "download" in words:
                kinds.append("file_write")
        if not has_file and (words & _WEB or ("search" in words and not words & (_DB | _SQL))):
            kinds.append("web_search")
        if words & _SEND and words & _MESSAGE:
            kinds.append("message_send")
        self.kinds = tuple(dict.fromkeys(kinds))


class _Base:
    """Everything about a (tool, hints) pair that does not depend on the argument values."""

    __slots__ = ("by_keys", "fallback", "kinds", "name", "source", "spec")

    def __init__(self, tool: str, hints: Mapping[str, object] | None) -> None:
        self.by_keys: dict[tuple[object, ...], Classification] = {}
        self.spec: ToolSpec | None = None
        self.name: _Name | None = None
        self.fallback: tuple[str, ...] = ()
        hints = hints or {}
        declared = _declared(hints.get("action"))
        klass = hints.get("class")
        server = hints.get("server")
        if isinstance(klass, str):
            self.spec = CATALOGUE.get(tool_key(klass))
        if self.spec is None and tool:
            self.spec = _lookup(tool, server if isinstance(server, str) else "")
        if declared:
            self.kinds, self.source = declared, "declared"
        elif self.spec is not None:
            self.kinds, self.source = self.spec.kinds, "catalogue"
        else:
            self.name = _Name(tool)
            self.kinds, self.source = self.name.kinds, "name" if self.name.kinds else "none"
            self.fallback = _annotated(hints)


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
    return (
        _declared(hints.get("action")),
        _text_or_none(hints.get("class")),
        _text_or_none(hints.get("server")),
        _annotated(hints),
    )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


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
    base = _base(tool if isinstance(tool, str) else "", hints)
    keys: tuple[object, ...] | None = None
    if type(args) is dict:
        keys = tuple(args)
        found = base.by_keys.get(keys)
        if found is not None:
            return found
    spec = base.spec
    kinds = base.kinds
    fields: dict[str, str] = dict(spec.fields) if spec is not None else {}
    looked = False  # whether any value was looked at (then the result is not cached)
    if spec is not None and spec.op and base.source == "catalogue":
        kinds = _op_kinds(spec, args)
        looked = True
    if isinstance(args, Mapping):
        default = exec_default(kinds, args)
        if default is not None and ("language" in args or "lang" in args):
            looked = True
        for key, value in args.items():
            skey = key if isinstance(key, str) else str(key)
            if skey in fields:
                continue
            role = _role(skey)
            if spec is not None and role in (None, "shape") and skey in _UNNAMED:
                fields[skey] = spec.primary
                continue
            if role is None and default is None:
                continue  # a name that says nothing: read_fields reads the value's shape
            if role in _SHAPED_ROLES and default is None and _json_text(value):
                continue  # JSON text: read_fields decodes it and reads its fields
            if isinstance(value, str) or default is not None or role not in _SHAPED_ROLES:
                fields[skey] = field_meaning(skey, value, kinds, default)
                if default is None and (role in _SHAPED_ROLES or (role == "command" and kinds)):
                    looked = True
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
    return result


_UNNAMED = frozenset(("__arg1", "tool_input", "input", "arg"))


def _json_text(value: object) -> bool:
    return isinstance(value, str) and value[:1] == "{"


_SHAPED_ROLES = frozenset((None, "shape", "content", "argv", "sqlish"))


def _op_kinds(spec: ToolSpec, args: object) -> tuple[str, ...]:
    value: object = args
    for part in spec.op.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return spec.op_kinds.get(value.strip().lower(), spec.kinds)
    return spec.kinds


def _refine(
    name: _Name,
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
        for key in _OP_KEYS:
            value = args.get(key)
            if isinstance(value, str):
                looked = True
                verbs = _verb_kinds(_words(value))
                if verbs:
                    return (*kinds, *(v for v in verbs if v not in kinds)), "name", looked
    if name.if_path and "path" in meanings:
        return (*kinds, *(v for v in name.if_path if v not in kinds)), "name", looked
    if kinds:
        return kinds, source, looked
    found: list[str] = []
    for key, meaning in fields.items():
        role = _role(key)
        if meaning == "command" and role == "command" and command_shaped(args.get(key)):
            found.append("shell_exec")
            looked = True
        elif meaning == "sql":
            found.append("sql")
        elif meaning == "code" and role == "code" and name.exec_verb:
            found.append("code_exec")
        elif meaning == "url":
            found.append("http_request")
    if "path" in meanings:
        lowered = {str(k).lower() for k in args}
        if lowered & _EDIT_KEYS:
            found.append("file_modify")
        elif lowered & _WRITE_KEYS:
            found.append("file_write")
    if found:
        return tuple(dict.fromkeys(found)), "args", looked
    if base.fallback:
        return base.fallback, "declared", looked
    return (), "none", looked


# -- reading arguments by meaning --------------------------------------------------------


def read_fields(args: object, classification: Classification) -> dict[str, list[str]]:
    """Every string of ``args`` grouped by meaning: ``{"command": [...], "url": [...]}``.

    Each string lands in exactly one group; argv split over fields and lists
    of commands come out as one shell text each (:func:`command_text`).
    Raises ``ValueError`` when ``args`` nest deeper than 64 levels.
    """
    out: dict[str, list[str]] = {}
    fields = classification.fields
    if type(args) is dict:
        # Hot path: flat arguments, each string's meaning fixed by its field or
        # (for a field whose name says nothing, in a tool that executes nothing) by its shape.
        executes: bool | None = None
        for key, value in args.items():
            if type(key) is not str or not key.isidentifier():
                break  # a field name that is no name is read like a value (walk)
            kind = type(value)
            if kind is str:
                meaning = fields.get(key)
                if key in _ARGV or value[:1] == "{":
                    break
                if meaning is None:
                    if _role(key) is not None:
                        break
                    if executes is None:
                        executes = any(k in EXEC_DEFAULT for k in classification.kinds)
                    if executes:
                        break
                    meaning = shape(value)
                bucket = out.get(meaning)
                if bucket is None:
                    out[meaning] = [value]
                else:
                    bucket.append(value)
            elif kind is list and key not in _ARGV and fields.get(key) is not None:
                # A list of strings under a fixed meaning: commands join into one text.
                meaning = fields[key]
                if not all(type(item) is str for item in value):
                    break
                texts: list[str] = value
                if meaning == "command":
                    texts = [command_of(key.lower(), value) or ""]
                bucket = out.get(meaning)
                if bucket is None:
                    out[meaning] = list(texts)
                else:
                    bucket.extend(texts)
            elif kind not in _SCALARS:
                break
        else:
            return out
        out = {}

    def emit(meaning: str, text: str, path: str) -> None:
        bucket = out.get(meaning)
        if bucket is None:
            out[meaning] = [text]
        else:
            bucket.append(text)

    walk(args, fields, classification.kinds, emit)
    return out


_SCALARS = frozenset((int, float, bool, type(None)))
_ARGV = frozenset(("args", "arguments", "argv", "parameters", "params"))


def field_texts(args: object, classification: Classification) -> list[tuple[str, str, str]]:
    """``(path, meaning, text)`` for every string of ``args``: which field was read as what."""
    out: list[tuple[str, str, str]] = []
    walk(
        args,
        classification.fields,
        classification.kinds,
        lambda meaning, text, path: out.append((path, meaning, text)),
    )
    return out


def command_text(args: object, classification: Classification) -> list[str]:
    """The shell texts in ``args``.

    ``{"command": "rm", "args": ["-rf", "/"]}`` gives ``["rm -rf /"]``.
    """
    return read_fields(args, classification).get("command", [])
