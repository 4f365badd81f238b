"""What each argument of an action is: command, SQL, code, path, URL, prose or data.

A field's meaning comes from, in order: the catalogue entry of the tool
(``_catalogue``), the field's name read against the tool's kinds
(``command`` of a shell tool is a command; ``query`` of a search tool is
prose, of a SQL tool SQL), and, for names that say nothing, the shape of the
value (a URL, a SQL statement, a shell command line, program source, a
path). Every string of an action lands in exactly one meaning, so each check
can run only where it fits: execution checks on commands and code, SQL
analysis on SQL, path rules on paths, network rules on URLs, secret checks
everywhere.

Commands are read whole: argv split over fields (``{"command": "rm",
"args": ["-rf", "/"]}``), an argv list (``{"command": ["bash", "-c",
"..."]}``) and a list of commands (``{"commands": ["cd /", "rm -rf *"]}``)
each come out as one shell text (:func:`command_text`).

Shape tests are RE2 (linear time) and only run on fields whose name says
nothing, so a catalogue hit never looks at a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._catalogue import C, D, K, P, S, T, U
from ._shapes import command_shaped, shape, sql_shaped, url_shaped

__all__ = [
    "EXEC_DEFAULT",
    "command_of",
    "command_shaped",
    "exec_default",
    "field_meaning",
    "join_argv",
    "walk",
]

# Key name -> role. A role is resolved against the tool's kinds and, for the
# ambiguous ones, the value's shape (see field_meaning).
_ROLES: dict[str, str] = {
    **dict.fromkeys(
        ("command", "cmd", "commands", "cmds", "cmdline", "command_line", "shell_command",
         "bash_command", "cmd_line", "script", "scripts", "program", "executable"),
        "command",
    ),
    **dict.fromkeys(("args", "arguments", "argv", "parameters", "params", "stdin"), "argv"),
    **dict.fromkeys(
        ("code", "source_code", "python_code", "js_code", "javascript_code", "snippet",
         "code_snippet", "python", "javascript", "expression", "function", "cell_source",
         "source_cell", "expr", "formula"),
        "code",
    ),
    **dict.fromkeys(
        ("sql", "sql_query", "raw_sql", "sql_statement", "sql_statements", "sql_text"), "sql"
    ),
    **dict.fromkeys(("query", "queries", "statement", "statements", "stmt"), "sqlish"),
    **dict.fromkeys(
        ("url", "urls", "uri", "uris", "href", "website_url", "page_url", "base_url",
         "target_url", "request_url", "feed_url", "image_url", "webhook_url", "download_url",
         "repo_url", "endpoint_url", "api_url", "site_url", "link_url", "callback_url",
         "redirect_url", "source_url", "search_url", "host", "hostname", "domain"),
        "url",
    ),
    **dict.fromkeys(
        ("link", "links", "website", "site", "page", "endpoint", "target", "address", "server",
         "resource", "src", "source", "destination", "dest",
         "location", "image_path_url", "pdf", "txt", "csv", "docx", "input", "tool_input",
         "__arg1", "arg"),
        "shape",
    ),
    **dict.fromkeys(
        ("path", "paths", "file", "files", "file_path", "filepath", "file_paths", "filename",
         "file_name", "filenames", "dir", "dirs", "dir_path", "dirpath", "directory",
         "directory_path", "folder", "folder_path", "source_path", "src_path",
         "destination_path", "dest_path", "target_path", "target_file", "input_path",
         "output_path", "input_file", "output_file", "repo_path", "repository_path",
         "working_dir", "working_directory", "workdir", "cwd", "root_dir", "base_dir",
         "image_path", "notebook_path", "old_path", "new_path", "from_path", "to_path",
         "json_path", "save_path", "log_path"),
        "path",
    ),
    **dict.fromkeys(
        ("q", "search_query", "search_queries", "question", "questions", "prompt", "message",
         "messages", "subject", "title", "description", "instructions", "instruction", "task",
         "objective", "topic", "summary", "comment", "note", "notes", "caption", "input_text",
         "user_prompt", "search_term", "search_terms", "keywords", "keyword", "explanation",
         "reason", "image_description", "insight"),
        "prose",
    ),
    **dict.fromkeys(
        ("content", "contents", "text", "body", "data", "file_text", "new_str", "old_str",
         "new_string", "old_string", "new_text", "old_text", "oldtext", "newtext", "patch",
         "diff", "edits", "payload", "json", "new_source", "insert_text", "replacement"),
        "content",
    ),
    **dict.fromkeys(
        ("action", "operation", "op", "mode", "method", "type", "format", "encoding",
         "language", "lang", "timeout", "timeout_ms", "headers", "env", "envs", "environment",
         "id", "ids", "limit", "offset", "count", "max_results", "branch", "branch_name", "ref",
         "revision", "sha", "owner", "repo", "shell", "user", "username", "to", "cc", "bcc",
         "channel", "table_name", "table_names", "database", "schema", "catalog", "pattern"),
        "data",
    ),
}  # fmt: skip

#: Meaning of an unnamed string under each executing kind (typed actions read every string).
EXEC_DEFAULT: Mapping[str, str] = {"shell_exec": C, "code_exec": K, "sql": S}
_FILE_KINDS = frozenset({"file_read", "file_write", "file_modify", "file_delete"})
_CONTENT_KINDS = _FILE_KINDS | {"http_request", "message_send"}
_ARGV_KEYS = frozenset(("args", "arguments", "argv", "parameters", "params"))
_COMMAND_KEYS = frozenset(("command", "cmd", "program", "executable"))
_FIXED = {"prose": T, "data": D, "sql": S, "url": U}
_LIST_KEYS = frozenset(("commands", "cmds", "scripts", "cmdline", "stdin"))
_SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "zsh", "dash", "ksh", "console"})


def field_meaning(key: str, value: object, kinds: Iterable[str], default: str | None) -> str:
    """The meaning of field ``key`` holding ``value`` in a tool of ``kinds``.

    ``default`` is the meaning of an unnamed string under the tool's executing
    kind (``EXEC_DEFAULT``), ``None`` when the tool executes nothing.
    """
    role = _role(key)
    if role is None:
        return default or _shape_of(value, "")
    fixed = _FIXED.get(role)
    if fixed is not None:
        return fixed
    kinds = frozenset(kinds)
    if role == "path":
        if isinstance(value, str) and "://" in value[:40] and url_shaped(value):
            return P if value.lstrip()[:5].lower() == "file:" else U
        return P
    if role == "command":
        if default is not None or not kinds or command_shaped(value):
            return C if default != K or key not in ("script", "program") else K
        return D
    if role == "argv":
        return default if default == C else _shape_of(value, "")
    if role == "code":
        return C if default == C else K
    if role == "sqlish":
        if default is not None:
            return default
        if kinds:
            return T
        return S if isinstance(value, str) and sql_shaped(value) else T
    if role == "content":
        if default is not None:
            return default
        if kinds & _CONTENT_KINDS:
            return D
        return _shape_of(value, "")
    # "shape": a name that could hold a URL, a path or anything else.
    if default is not None and key in ("input", "tool_input", "__arg1", "arg"):
        return default
    if kinds & _FILE_KINDS and isinstance(value, str) and not url_shaped(value):
        return P
    return _shape_of(value, role)


def _shape_of(value: object, role: str) -> str:
    if isinstance(value, str):
        return shape(value, role)
    if isinstance(value, list | tuple):
        for item in value[:64]:
            if isinstance(item, str):
                return shape(item, role)
    return D


def exec_default(kinds: Iterable[str], args: object) -> str | None:
    """The meaning of unnamed strings for a tool of ``kinds`` (``None``: not executing)."""
    for kind in kinds:
        meaning = EXEC_DEFAULT.get(kind)
        if meaning is None:
            continue
        if meaning == K and isinstance(args, Mapping):
            language = args.get("language", args.get("lang"))
            if isinstance(language, str) and language.strip().lower() in _SHELL_LANGUAGES:
                return C
        return meaning
    return None


def join_argv(words: Iterable[object]) -> str:
    """One shell text from an argv list.

    A word with whitespace is double-quoted so it stays one word; expansions
    inside it stay visible to the shell analyser (fail closed: a server that
    joins argv into a shell line would expand them).
    """
    out = []
    for word in words:
        text = word if isinstance(word, str) else str(word)
        if not text or any(c.isspace() for c in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(text)
    return " ".join(out)


def command_of(key: str, value: object) -> str | None:
    """The shell text of a command-meaning value: argv lists joined, command lists one per line."""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        if key in _LIST_KEYS:
            return "\n".join(v if isinstance(v, str) else str(v) for v in value)
        return join_argv(value)
    return None


_MAX_DEPTH = 64


def walk(
    node: object,
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    emit: Any,
    prefix: str = "",
    inherited: str | None = None,
    depth: int = 0,
) -> None:
    """Call ``emit(meaning, text, path)`` for every string in ``node``.

    ``fields`` gives fixed meanings by path; below a fixed meaning, lists
    inherit it and mappings resolve their own keys first. Raises
    ``ValueError`` past 64 levels of nesting.
    """
    if depth > _MAX_DEPTH:
        raise ValueError("arguments are nested too deeply")
    kind = type(node)
    if kind is str or (kind is not dict and isinstance(node, str)):
        fixed = fields.get(prefix) or inherited
        if fixed is None and kinds and _executes(kinds):
            fixed = exec_default(kinds, None)
        _text(fixed, str(node), prefix, fields, kinds, emit, depth)
    elif kind is dict or (kind is not list and isinstance(node, Mapping)):
        _walk_mapping(node, fields, kinds, emit, prefix, inherited, depth)  # type: ignore[arg-type]
    elif isinstance(node, list | tuple):
        meaning = fields.get(prefix) or inherited
        if meaning == C:
            text = command_of(prefix.rpartition(".")[2], node)
            if text is not None:
                emit(C, text, prefix)
                return
        for item in node:
            walk(item, fields, kinds, emit, prefix, meaning, depth + 1)
    elif isinstance(node, bytes | bytearray):
        walk(bytes(node).decode("utf-8", "replace"), fields, kinds, emit, prefix, inherited, depth)


_ROLE_CACHE: dict[str, str | None] = {}
_EXECUTES: dict[tuple[str, ...], bool] = {}


def _executes(kinds: tuple[str, ...]) -> bool:
    """Whether any of ``kinds`` reads unnamed strings as its own (cached per kinds tuple)."""
    found = _EXECUTES.get(kinds)
    if found is None:
        if len(_EXECUTES) >= 1024:
            _EXECUTES.clear()  # declared kinds come from callers: bound the memory
        found = _EXECUTES[kinds] = any(k in EXEC_DEFAULT for k in kinds)
    return found


def _role(key: str) -> str | None:
    """The role of a field name (any case, ``-`` or ``_``); cached, misses included."""
    try:
        return _ROLE_CACHE[key]
    except KeyError:
        pass
    lower = key.lower()
    role = _ROLES.get(lower) or _ROLES.get(lower.replace("-", "_"))
    if len(_ROLE_CACHE) >= 4096:
        _ROLE_CACHE.clear()  # field names come from agents: bound the memory they can take
    _ROLE_CACHE[key] = role
    return role


def _walk_mapping(
    node: Mapping[Any, Any],
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    emit: Any,
    prefix: str,
    inherited: str | None,
    depth: int,
) -> None:
    default = exec_default(kinds, node) if kinds and _executes(kinds) else None
    later: list[tuple[str, object, str | None, str]] = []  # containers, commands and argv
    head: str | None = None
    for key, value in node.items():
        skey = key if type(key) is str else str(key)
        path = f"{prefix}.{skey}" if prefix else skey
        meaning = fields.get(path)
        shaped = False
        if meaning is None and not skey.isidentifier() and skey:
            # A field name that is no name ({"os.system('id')": true}) is read like a value.
            emit(shape(skey), skey, path)
        if meaning is None:
            role = _role(skey)
            if role is None and inherited is not None:
                meaning = inherited
            elif role is None and default is None:
                if type(value) is str:
                    _text(None, value, path, fields, kinds, emit, depth)
                    continue
                shaped = True
            else:
                meaning = field_meaning(skey, value, kinds, default)
                shaped = default is None and role in _SHAPED
        if type(value) is str:
            if meaning == C and skey in _COMMAND_KEYS and head is None:
                head = skey
            elif skey not in _ARGV_KEYS:
                pending = shaped and value[:1] == "{"  # JSON text: decode before judging shape
                _text(None if pending else meaning, value, path, fields, kinds, emit, depth)
                continue
        later.append((skey, value, None if shaped else meaning, path))
    # Argv split over fields: {"command": "rm", "args": ["-rf", "/"]} is one command.
    if head is not None:
        words: list[object] = []
        for skey, value, _, _ in later:
            if skey in _ARGV_KEYS and isinstance(value, list | tuple | str):
                words.extend(value if isinstance(value, list | tuple) else value.split())
        text = node[head]
        emit(
            C,
            f"{text} {join_argv(words)}" if words else text,
            f"{prefix}.{head}" if prefix else head,
        )
    for skey, value, meaning, path in later:
        if head is not None and (
            skey == head or (skey in _ARGV_KEYS and isinstance(value, list | tuple | str))
        ):
            continue
        if isinstance(value, str):
            _text(meaning, value, path, fields, kinds, emit, depth)
        elif meaning == C and isinstance(value, list | tuple):
            text = command_of(skey.lower(), value)
            if text is not None:
                emit(C, text, path)
            else:
                walk(value, fields, kinds, emit, path, C, depth + 1)
        elif isinstance(value, Mapping):
            fixed = fields.get(path)
            walk(
                value, fields, kinds, emit, path, fixed if fixed in _INHERITED else None, depth + 1
            )
        elif isinstance(value, list | tuple | bytes | bytearray):
            walk(value, fields, kinds, emit, path, meaning, depth + 1)


def _text(
    meaning: str | None,
    text: str,
    path: str,
    fields: Mapping[str, str],
    kinds: tuple[str, ...],
    emit: Any,
    depth: int,
) -> None:
    """Emit one string (``meaning`` ``None``: read by shape).

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
            emit(D, text, path)
            walk(decoded, fields, kinds, emit, path, None, depth + 1)
            return
    emit(meaning or shape(text), text, path)


_MAX_JSON = 65_536
_SHAPED = frozenset(("shape", "content", "argv"))
_INHERITED = frozenset((C, S, K, D))
