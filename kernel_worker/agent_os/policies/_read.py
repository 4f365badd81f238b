"""Reading an action's arguments by meaning: every string into one group.

The walk applies a classification's fixed meanings (by field path), the
field-name roles and, for names that say nothing, the value's shape
(``_fields``, ``_shapes``). Below a fixed meaning, lists inherit it and
mappings resolve their own keys first. Argv split over fields and lists of
commands come out as one shell text; JSON text in a data field is also read
field by field.

Cost is bounded: every field visited and every string whose shape is read
spends from a budget of :data:`WORK` units (a long string spends one unit per
KB). Past it the walk stops resolving names and reading shapes, and each
remaining string takes its fixed meaning, its inherited one, the tool's
executing kind, or ``data``: a conservative reading, since the analysers read
data for commands, SQL and code too (only prose is spared). So 9,000 tiny list
items or 5,000 keys cost about what one field per string costs, never a shape
scan each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._catalogue import KINDS, C, D, K, P, S, T, U
from ._fields import (
    ARGV_KEYS,
    COMMAND_KEYS,
    EXEC_DEFAULT,
    MAKEFILE,
    ROLES,
    command_of,
    exec_default,
    for_people,
    join_argv,
    path_or_url,
    resolve,
    role_of,
    written_as,
)
from ._shapes import shape

__all__ = ["WORK", "located", "read"]

#: Fields visited and strings shaped (one unit per KB) before the walk turns conservative.
WORK = 512
_MAX_DEPTH = 64
_MAX_JSON = 65_536
_INHERITED = frozenset((C, S, K, D, T))
_KNOWN = frozenset(KINDS)
_READ_AGAIN = frozenset((P, D, T))
# Roles whose name alone fixes a meaning: kept past the budget (argv joins are not).
_NAMED = {
    "command": C,
    "code": K,
    "sql": S,
    "url": U,
    "path": P,
}  # a path may be a URL, data or prose may be JSON text
_SCALARS = frozenset((int, float, bool, type(None)))


class _Sink:
    """Where the walk puts what it reads, and the work it may still spend."""

    __slots__ = ("executes", "known", "out", "program", "texts", "work")

    def __init__(self, located: bool, program: str, kinds: tuple[str, ...]) -> None:
        self.out: dict[str, list[str]] = {}
        self.texts: list[tuple[str, str, str]] | None = [] if located else None
        self.work = WORK
        self.program = program
        # Custom declared kinds say nothing about fields; only executing kinds read
        # unnamed strings as their own.
        self.known = frozenset(kinds) & _KNOWN
        self.executes = any(kind in EXEC_DEFAULT for kind in kinds)

    def add(self, meaning: str, text: str, path: str) -> None:
        bucket = self.out.get(meaning)
        if bucket is None:
            self.out[meaning] = [text]
        else:
            bucket.append(text)
        if self.texts is not None:
            self.texts.append((path, meaning, text))

    def extend(self, meaning: str, texts: list[str], path: str) -> None:
        bucket = self.out.get(meaning)
        if bucket is None:
            self.out[meaning] = list(texts)
        else:
            bucket.extend(texts)
        if self.texts is not None:
            self.texts.extend((path, meaning, text) for text in texts)

    def shape(self, text: str, role: str = "") -> str:
        if self.work <= 0:
            return D
        self.work -= 1 + len(text) // 1024
        return shape(text, role)


def read(
    args: object, fields: Mapping[str, str], kinds: tuple[str, ...], program: str = ""
) -> dict[str, list[str]]:
    """Meaning -> strings of ``args`` (see ``_classify.read_fields``).

    ``program``: the CLI the tool is named after; its command and argv fields
    are read as that program's arguments.
    """
    out: dict[str, list[str]] = {}
    rest = None
    if ("file_write" in kinds or "file_modify" in kinds) and type(args) is dict:
        args, fields, rest = _written(args, fields, kinds)
    if not (type(args) is dict and not program and _flat(args, fields, kinds, out)):
        sink = _Sink(located=False, program=program, kinds=kinds)
        _walk(args, fields, kinds, sink, "", None, 0)
        if program:
            _as_command_line(args, sink)
        out = sink.out
    if rest is not None:
        out.setdefault(D, []).append(rest)
    paths = out.get(P)
    if paths is not None and len(paths) > 1 and isinstance(args, Mapping):
        _joined_path(args, paths)
    return out


_DIR_KEYS = ("directory", "dir", "folder", "dir_path", "directory_path", "base_dir", "base_path")
_NAME_KEYS = ("filename", "file_name", "name", "file", "basename")


def _folder_and_name(values: Mapping[Any, Any]) -> tuple[str | None, str | None]:
    """The strings of ``values``' first folder field and first file-name field."""
    folder = next((values[k] for k in _DIR_KEYS if type(values.get(k)) is str), None)
    name = next((values[k] for k in _NAME_KEYS if type(values.get(k)) is str), None)
    return folder, name


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/\\") + "/" + name.lstrip("/\\")


def _joined_path(args: Mapping[Any, Any], paths: list[str]) -> None:
    """A file named in two fields (CrewAI's ``{"directory": ".git/hooks", "filename":
    "pre-commit"}``) is also the one path they make together."""
    folder, name = _folder_and_name(args)
    if folder and name and name in paths and folder in paths:
        paths.append(_join(folder, name))


def located(
    args: object, fields: Mapping[str, str], kinds: tuple[str, ...], program: str = ""
) -> list[tuple[str, str, str]]:
    """``(path, meaning, text)`` for every string of ``args``."""
    rest = None
    if ("file_write" in kinds or "file_modify" in kinds) and type(args) is dict:
        args, fields, rest = _written(args, fields, kinds)
    sink = _Sink(located=True, program=program, kinds=kinds)
    _walk(args, fields, kinds, sink, "", None, 0)
    if program:
        _as_command_line(args, sink)
    assert sink.texts is not None
    if rest is not None:
        sink.texts.append(("", D, rest))
    return sink.texts


# -- written content: read as what the file is -------------------------------------------

# Content fields (lower case, no underscores) and containers of edits holding them.
_WRITTEN = frozenset(
    ("content", "contents", "text", "filetext", "newstr", "oldstr", "newstring", "oldstring",
     "newtext", "oldtext", "newsource", "inserttext", "replacement", "data", "newcontent")
)  # fmt: skip
_EDITS = frozenset(("edits",))


def _written(
    args: dict[Any, Any], fields: Mapping[str, str], kinds: tuple[str, ...]
) -> tuple[dict[Any, Any], Mapping[str, str], str | None]:
    """A write or edit tool's content read by its target's type (``_fields.written_as``):
    ``(args, fields, rest)``, the fields' meanings updated. A Makefile's content becomes
    its recipes (commands, ``args`` copied) and ``rest``, its other lines (data).
    Unchanged when the tool also executes, the target is not one known path, or its type
    (or place) keeps the data reading."""
    for kind in kinds:
        if kind in EXEC_DEFAULT:
            return args, fields, None
    target = _target(args, fields)
    meaning = written_as(target) if target is not None else None
    if meaning is None:
        return args, fields, None
    updated: dict[str, str] | None = None
    rest = None
    for key, value in args.items():
        if type(key) is not str:
            continue
        fixed = fields.get(key)
        if fixed is not None and fixed != D:
            continue
        name = key.lower().replace("_", "")
        if name in _WRITTEN and type(value) is str:
            if updated is None:
                updated = dict(fields)
            if meaning == MAKEFILE:
                if rest is not None:
                    continue  # one Makefile text per action; any other stays data
                recipes, rest = _makefile(value)
                args = {**args, key: recipes}
                updated[key] = C
            else:
                updated[key] = meaning
        elif name in _EDITS and type(value) is list and meaning != MAKEFILE:
            for item in value[:WORK]:
                if type(item) is not dict:
                    continue
                for sub in item:
                    if type(sub) is str and sub.lower().replace("_", "") in _WRITTEN:
                        if updated is None:
                            updated = dict(fields)
                        updated[f"{key}.{sub}"] = meaning
    return args, (fields if updated is None else updated), rest


def _target(args: dict[Any, Any], fields: Mapping[str, str]) -> str | None:
    """The one file an action writes: its one path field, or a folder and a name."""
    found: list[tuple[str, str]] = []
    for key, value in args.items():
        if type(value) is not str or type(key) is not str:
            continue
        meaning = fields.get(key)
        if meaning == P or (meaning is None and role_of(key) == "path"):
            found.append((key, value))
    if len(found) == 1:
        return found[0][1]
    if len(found) == 2:
        folder, name = _folder_and_name({key.lower(): value for key, value in found})
        if folder is not None and name is not None:
            return _join(folder, name)
    return None


_MAKE_ASSIGN = re.compile(
    r"^\s*(?:override\s+|export\s+)?([A-Za-z_][\w.-]*)\s*(?:::=|:=|\?=|\+=|!=|=)\s*(.*)$"
)
_MAKE_REF = re.compile(
    r"\$\$|\$[(]([A-Za-z_][\w.-]*)[)]|\$[{]([A-Za-z_][\w.-]*)[}]|\$[(][@<^?*+|%][DF]?[)]|\$[@<^?*+|%]"
)


def _makefile(text: str) -> tuple[str, str]:
    """A Makefile's recipe lines as one shell text, and its other lines.

    Recipe prefixes (``@``, ``-``, ``+``) are dropped; ``$$`` is the shell's ``$``; a
    variable the file sets to plain text is replaced by its value, any other variable
    or automatic variable (``$@``) is a shell variable (``$NAME``): an unknown word, as
    conservative as the shell analyser reads one.
    """
    recipes: list[str] = []
    other: list[str] = []
    values: dict[str, str] = {}
    for line in text.splitlines()[:10_000]:
        if line[:1] == "\t":
            recipes.append(line[1:].lstrip(" @+-"))
            continue
        other.append(line)
        assigned = _MAKE_ASSIGN.match(line)
        if assigned is not None and "$" not in assigned.group(2):
            values.setdefault(assigned.group(1), assigned.group(2).strip())

    def expand(found: re.Match[str]) -> str:
        whole = found.group(0)
        if whole == "$$":
            return "$"
        name = found.group(1) or found.group(2)
        if name is None:
            return "$AUTO"
        value = values.get(name)
        return value if value is not None else "$" + name.replace(".", "_").replace("-", "_")

    return _MAKE_REF.sub(expand, "\n".join(recipes)), "\n".join(other)


#: Values that are a command line's words (``True`` is a flag; ``bool`` is not these).
_ARGUMENTS = (str, int, float)


def _as_command_line(args: object, sink: _Sink) -> None:
    """A CLI-named tool's structured arguments as the command line they stand for, when
    no field holds a whole one: ``kubectl_delete {"resourceType": "namespace", "name":
    "prod"}`` is ``kubectl delete namespace prod``, ``git_push {"force": true}`` is ``git
    push --force``, ``kubectl {"command": "delete", "resourceType": "pods", "flags":
    {"all": true}}`` is ``kubectl delete pods --all``. Strings and numbers are arguments,
    ``true`` is a flag, a mapping of flags gives ``--name`` / ``--name=value``."""
    if not isinstance(args, Mapping):
        return
    head = ""
    for key in args:
        if type(key) is not str:
            return
        if key in ARGV_KEYS:
            return  # read as argv already
        if key in COMMAND_KEYS:
            value = args[key]
            if type(value) is not str or len(value.split(None, 1)) > 1 or head:
                return  # a whole command line (or two commands): read as written
            head = value
    words: list[object] = [head] if head else []
    for key, value in list(args.items())[:WORK]:
        if key in COMMAND_KEYS:
            continue
        if value is True:
            words.append("--" + key.replace("_", "-"))
        elif type(value) in _ARGUMENTS:
            words.append(value)
        elif isinstance(value, list | tuple):
            words.extend(v for v in value[:WORK] if type(v) is str)
        elif isinstance(value, Mapping):
            for flag, setting in list(value.items())[:WORK]:
                name = "--" + str(flag).replace("_", "-")
                if setting is True:
                    words.append(name)
                elif type(setting) in _ARGUMENTS:
                    words.append(f"{name}={setting}")
    sink.add(C, f"{sink.program} {join_argv(words)}".rstrip(), "")


def _all_str(values: list[Any]) -> bool:
    """Whether every item of ``values`` is a string."""
    for item in values:  # noqa: SIM110 (all() over a generator costs 2.5x on short lists)
        if type(item) is not str:
            return False
    return True


def _flat(
    args: dict[Any, Any],
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    out: dict[str, list[str]],
) -> bool:
    """The hot path: top-level fields whose meaning their name fixes, or plain strings.

    A container under a data or prose field is walked on its own. ``False``
    (start again with the full walk) when anything needs the mapping as a whole:
    argv, JSON text, a name with a role, an executing tool's unnamed field, a
    field name that is no name, more fields than the budget.
    """
    if len(args) > WORK:
        return False
    sink: _Sink | None = None
    executes: bool | None = None
    for key, value in args.items():
        if type(key) is not str or not key.isidentifier():
            return False  # a field name that is no name is read like a value (walk)
        kind = type(value)
        if kind is str:
            meaning = fields.get(key)
            if key in ARGV_KEYS or value[:1] == "{":
                return False
            if meaning is None:
                if role_of(key) is not None:
                    return False
                if executes is None:
                    executes = any(k in EXEC_DEFAULT for k in kinds)
                if executes:
                    return False
                meaning = for_people(shape(value), kinds)
            elif meaning == P:
                meaning = path_or_url(value)
            bucket = out.get(meaning)
            if bucket is None:
                out[meaning] = [value]
            else:
                bucket.append(value)
        elif kind in _SCALARS:
            continue
        elif key in ARGV_KEYS:
            return False
        else:
            meaning = fields.get(key)
            if kind is list and meaning is not None and meaning != P and _all_str(value):
                # A list of strings under a fixed meaning: commands join into one text.
                texts: list[str] = value
                if meaning == C:
                    texts = [command_of(key.lower(), value) or ""]
                bucket = out.get(meaning)
                if bucket is None:
                    out[meaning] = list(texts)
                else:
                    bucket.extend(texts)
                continue
            if meaning is None or meaning not in (D, T):
                return False
            if sink is None:
                sink = _Sink(located=False, program="", kinds=kinds)
                sink.out = out
            _walk(value, fields, kinds, sink, key, meaning, 1)
    return True


def _walk(
    node: object,
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    sink: _Sink,
    prefix: str,
    inherited: str | None,
    depth: int,
) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError("arguments are nested too deeply")
    kind = type(node)
    if kind is str or (kind is not dict and isinstance(node, str)):
        fixed = fields.get(prefix) or inherited
        if fixed is None and sink.executes:
            fixed = exec_default(kinds, None)
        _text(fixed, str(node), prefix, fields, kinds, sink, depth)
    elif kind is dict or (kind is not list and isinstance(node, Mapping)):
        _mapping(node, fields, kinds, sink, prefix, inherited, depth)  # type: ignore[arg-type]
    elif isinstance(node, list | tuple):
        meaning = fields.get(prefix) or inherited
        if meaning == C:
            text = command_of(prefix.rpartition(".")[2], node)
            if text is not None:
                sink.add(C, text, prefix)
                return
        for index, item in enumerate(node):
            if sink.work <= 0:
                # Past the budget: every remaining string in one go (containers
                # flattened), under the fixed or a conservative meaning.
                rest = node[index:]
                fallback = meaning or (exec_default(kinds, None) if sink.executes else None) or D
                texts: list[str] = []
                _strings(rest, texts, depth)
                sink.extend(fallback, texts, prefix)
                return
            if (
                type(item) is str
                and meaning is not None
                and (meaning not in _READ_AGAIN or (meaning != P and item[:1] != "{"))
            ):
                sink.add(meaning, item, prefix)  # fixed meaning, nothing to read again
            else:
                sink.work -= 1
                _walk(item, fields, kinds, sink, prefix, meaning, depth + 1)
    elif isinstance(node, bytes | bytearray):
        text = bytes(node).decode("utf-8", "replace")
        _walk(text, fields, kinds, sink, prefix, inherited, depth)


def _mapping(
    node: Mapping[Any, Any],
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    sink: _Sink,
    prefix: str,
    inherited: str | None,
    depth: int,
) -> None:
    default = exec_default(kinds, node) if sink.executes else None
    kinds_set = sink.known
    rest: list[str] | None = None
    later: list[tuple[str, object, str | None, str]] = []  # containers, commands and argv
    head: str | None = None
    for key, value in node.items():
        skey = key if type(key) is str else str(key)
        path = f"{prefix}.{skey}" if prefix else skey
        meaning = fields.get(path)
        shaped = False
        if meaning is None and sink.work <= 0:
            # Past the budget: no shapes, only names that say what they hold; one
            # conservative meaning for the rest.
            named = _NAMED.get(ROLES.get(skey) or ROLES.get(skey.lower()) or "")
            if named is not None:
                if type(value) is str:
                    sink.add(named, value, path)
                else:
                    texts: list[str] = []
                    _strings(value, texts, depth + 1)
                    sink.extend(named, texts, path)
                continue
            if rest is None:
                rest = []
            if type(value) is str:
                rest.append(value)
            else:
                _strings(value, rest, depth + 1)
            continue
        elif meaning is None:
            sink.work -= 1
            if not skey.isidentifier() and skey:
                # A field name that is no name ({"os.system('id')": true}) is read like a value.
                sink.add(sink.shape(skey), skey, path)
            role = role_of(skey)
            if role is None and inherited is not None:
                meaning = inherited
            elif role is None and default is None:
                if type(value) is str:
                    _text(None, value, path, fields, kinds, sink, depth)
                    continue
                shaped = True
            else:
                meaning, shaped = resolve(skey, value, kinds_set, default)
        if type(value) is str:
            if meaning == C and skey in COMMAND_KEYS and head is None:
                head = skey
            elif skey not in ARGV_KEYS:
                pending = shaped and value[:1] == "{"  # JSON text: decode before judging shape
                _text(None if pending else meaning, value, path, fields, kinds, sink, depth)
                continue
        later.append((skey, value, None if shaped else meaning, path))
    if rest is not None:
        sink.extend(inherited or default or D, rest, prefix)
    # Argv split over fields: {"command": "rm", "args": ["-rf", "/"]} is one command; so is
    # an argv list alone whose first word is a program: {"argv": ["rm", "-rf", "/"]}.
    argv = (
        [
            skey
            for skey, value, _, _ in later
            if skey in ARGV_KEYS and isinstance(value, list | tuple | str)
        ]
        if later
        else []
    )
    if argv and head is None and not sink.program and not _runs_program(node[argv[0]], sink):
        argv = []
    if head is not None or argv:
        words: list[object] = []
        for skey in argv:
            value = node[skey]
            words.extend(value if isinstance(value, list | tuple) else value.split())
        text = node[head] if head is not None else ""
        joined = f"{text} {join_argv(words)}".strip() if words else text
        if sink.program:
            joined = _run_by(sink.program, joined)
        where = head or argv[0]
        sink.add(C, joined, f"{prefix}.{where}" if prefix else where)
        if head is None:
            head = argv[0]  # the argv fields are read: skip them below
    for skey, value, meaning, path in later:
        if head is not None and (
            skey == head or (skey in ARGV_KEYS and isinstance(value, list | tuple | str))
        ):
            continue
        if isinstance(value, str):
            _text(meaning, value, path, fields, kinds, sink, depth)
        elif meaning == C and isinstance(value, list | tuple):
            text = command_of(skey.lower(), value)
            if text is not None:
                sink.add(C, text, path)
            else:
                _walk(value, fields, kinds, sink, path, C, depth + 1)
        elif type(value) is dict or isinstance(value, Mapping):
            fixed = fields.get(path)
            below = fixed if fixed in _INHERITED else None
            _walk(value, fields, kinds, sink, path, below, depth + 1)
        elif isinstance(value, list | tuple | bytes | bytearray):
            _walk(value, fields, kinds, sink, path, meaning, depth + 1)


def _runs_program(value: object, sink: _Sink) -> bool:
    """An argv list whose first word reads as a program (``rm``, ``terraform``, ``/bin/sh``)."""
    if not isinstance(value, list | tuple) or not value or type(value[0]) is not str:
        return False
    return sink.shape(value[0]) == C


def _run_by(program: str, text: str) -> str:
    """``text`` as arguments of ``program`` (its subcommand too) unless it starts with
    the program."""
    first = text.split(None, 1)[0].rsplit("/", 1)[-1].lower() if text.strip() else ""
    return text if first == program.split(" ", 1)[0] else f"{program} {text}"


def _strings(node: object, out: list[str], depth: int) -> None:
    """Every string below ``node`` (keys excluded), resolving nothing; bounded depth."""
    if depth > _MAX_DEPTH:
        raise ValueError("arguments are nested too deeply")
    kind = type(node)
    if kind is str:
        out.append(node)  # type: ignore[arg-type]
        return
    if kind is dict:
        items: Any = node.values()  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        items = node
    elif isinstance(node, Mapping):
        items = node.values()
    elif isinstance(node, list | tuple):
        items = node
    elif isinstance(node, str):
        out.append(str(node))
        return
    elif isinstance(node, bytes | bytearray):
        out.append(bytes(node).decode("utf-8", "replace"))
        return
    else:
        return
    for item in items:
        if type(item) is str:
            out.append(item)
        elif type(item) not in _SCALARS:
            _strings(item, out, depth + 1)


def _text(
    meaning: str | None,
    text: str,
    path: str,
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    sink: _Sink,
    depth: int,
) -> None:
    """Add one string (``meaning`` ``None``: read by shape).

    A JSON object in a data or prose field, or in one read by shape, is data
    and is also read field by field: LangChain's ``requests_post`` takes
    ``{"url": ..., "data": ...}`` as JSON text, and a command or URL hidden in
    JSON text is still a command or URL.
    """
    if (meaning is None or meaning in (D, T)) and text[:1] == "{" and len(text) <= _MAX_JSON:
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            sink.add(D, text, path)
            sink.work -= len(text) // 1024
            _walk(decoded, fields, kinds, sink, path, None, depth + 1)
            return
    if meaning == P:
        meaning = path_or_url(text)
    sink.add(meaning or sink.shape(text), text, path)
