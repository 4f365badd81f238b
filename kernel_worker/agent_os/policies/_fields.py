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
each come out as one shell text (:func:`command_of`, :func:`join_argv`;
the walk over whole arguments is ``_read``).

Shape tests are RE2 (linear time) and only run on fields whose name says
nothing, so a catalogue hit never looks at a value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping

from ._catalogue import C, D, K, P, S, T, U, tool_key
from ._shapes import command_shaped, shape, sql_shaped, url_shaped

__all__ = [
    "ARGV_KEYS",
    "COMMAND_KEYS",
    "EXEC_DEFAULT",
    "ROLES",
    "command_of",
    "command_shaped",
    "exec_default",
    "field_meaning",
    "for_people",
    "join_argv",
    "path_or_url",
    "resolve",
    "role_of",
    "written_as",
]

#: Field name (lower case) -> role. A role is resolved against the tool's kinds and, for the
# ambiguous ones, the value's shape (see field_meaning).
ROLES: dict[str, str] = {
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
         "__arg1", "arg", "shell", "bash", "sh", "zsh", "powershell", "pwsh", "exec", "run"),
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
         "revision", "sha", "owner", "repo", "user", "username", "to", "cc", "bcc",
         "channel", "table_name", "table_names", "database", "schema", "catalog", "pattern"),
        "data",
    ),
}  # fmt: skip

#: Meaning of an unnamed string under each executing kind (typed actions read every string).
EXEC_DEFAULT: Mapping[str, str] = {"shell_exec": C, "code_exec": K, "sql": S}
_FILE_KINDS = frozenset({"file_read", "file_write", "file_modify", "file_delete"})
_CONTENT_KINDS = _FILE_KINDS | {"http_request", "message_send"}
ARGV_KEYS = frozenset(("args", "arguments", "argv", "parameters", "params"))
COMMAND_KEYS = frozenset(("command", "cmd", "program", "executable", "subcommand", "sub_command"))
_FIXED = {"prose": T, "data": D, "sql": S, "url": U}
_LIST_KEYS = frozenset(("commands", "cmds", "scripts", "cmdline", "stdin"))
_SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "zsh", "dash", "ksh", "console"})


def field_meaning(key: str, value: object, kinds: Iterable[str], default: str | None) -> str:
    """The meaning of field ``key`` holding ``value`` in a tool of ``kinds``.

    ``default`` is the meaning of an unnamed string under the tool's executing
    kind (``EXEC_DEFAULT``), ``None`` when the tool executes nothing.
    """
    return resolve(key, value, frozenset(kinds), default)[0]


def resolve(
    key: str, value: object, kinds: frozenset[str], default: str | None
) -> tuple[str, bool]:
    """:func:`field_meaning`, and whether the value (not only the name) decided it."""
    role = role_of(key)
    if role is None:
        if default:
            return default, False
        found = _shape_of(value, "")
        spoken = for_people(found, kinds)
        return spoken, spoken == found
    fixed = _FIXED.get(role)
    if fixed is not None:
        return fixed, False
    if role == "path":
        return P, False  # a URL in a path field is read as a URL by the walk, per value
    if role == "code":
        return (C if default == C else K), False
    if default is not None:
        if role == "command":
            return (K if default == K and key in ("script", "program") else C), False
        if role == "argv":
            return (C, False) if default == C else (_shape_of(value, ""), True)
        return default, False  # sqlish, content, shape: an executing tool's unnamed text
    if role == "command":
        if not kinds:
            return C, False
        return (C if command_shaped(value) else D), True
    if role == "argv":
        return _shape_of(value, ""), True
    if role == "sqlish":
        if kinds:
            return T, False
        return (S if isinstance(value, str) and sql_shaped(value) else T), True
    if role == "content":
        if "message_send" in kinds:
            return T, False  # a message's body is prose: secret checks, not execution checks
        if kinds & _CONTENT_KINDS:
            return D, False
        found = _shape_of(value, "")
        return (D if found == P else found), True  # text that names a path accesses nothing
    # "shape": a name that could hold a URL, a path or anything else.
    if kinds & _FILE_KINDS and isinstance(value, str) and not url_shaped(value):
        return P, True
    return _shape_of(value, role), True


_RUN = frozenset((S, C, K))


_FOR_PEOPLE = frozenset({"message_send", "web_search"})


def for_people(found: str, kinds: Collection[str]) -> str:
    """``found``, the shape of a field no name explains, as a tool of ``kinds`` reads it:
    text for people, a model or a search engine is prose (summarize_document's document,
    search_documentation's search_phrase), though a path or URL it names (an attachment)
    is still read as one."""
    return T if found in _RUN and not _FOR_PEOPLE.isdisjoint(kinds) else found


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


_ROLE_CACHE: dict[str, str | None] = {}
# Last words that say what a compound field name holds (``code`` is not one: zip_code).
_SUFFIX_ROLES = {
    **dict.fromkeys(("path", "paths", "file", "files", "dir", "directory", "filename"), "path"),
    **dict.fromkeys(("url", "urls", "uri", "endpoint"), "url"),
    **dict.fromkeys(("command", "cmd", "commands"), "command"),
    "sql": "sql",
}


def role_of(key: str) -> str | None:
    """The role of a field name (any case, camelCase, ``-`` or ``_``); cached, misses included.

    A name not in :data:`ROLES` takes the role its last word says when that word
    is unambiguous: ``config_path`` / ``configFile`` / ``log_dir`` are paths,
    ``callback_url`` is a URL, ``restart_command`` a command.
    """
    try:
        return _ROLE_CACHE[key]
    except KeyError:
        pass
    lower = key.lower()
    role = ROLES.get(lower) or ROLES.get(lower.replace("-", "_"))
    if role is None and len(key) <= 64:
        snake = tool_key(key)
        role = ROLES.get(snake) or _SUFFIX_ROLES.get(
            snake.rpartition("_")[2] if "_" in snake else ""
        )
        if role is None:
            # Numbered fields (``command1``, ``url_2``) mean what the name without the number does.
            base = snake.rstrip("0123456789").rstrip("_")
            if base and base != snake:
                role = role_of(base)
    if len(_ROLE_CACHE) >= 4096:
        _ROLE_CACHE.clear()  # field names come from agents: bound the memory they can take
    _ROLE_CACHE[key] = role
    return role


def path_or_url(text: str) -> str:
    """A path field holding a URL (``http://...``) is read as a URL; ``file:`` stays a path."""
    if "://" in text[:40] and url_shaped(text) and text.lstrip()[:5].lower() != "file:":
        return U
    return P


#: Meaning :func:`written_as` gives a Makefile: its recipes are commands, the rest data.
MAKEFILE = "makefile"
_DOCUMENTS = frozenset(("md", "markdown", "mdx", "rst", "txt", "text", "adoc", "asciidoc", "org"))
_DOCUMENT_NAMES = frozenset(
    ("readme", "license", "licence", "changelog", "changes", "notice", "authors", "contributing",
     "copying", "history", "todo", "contributors", "codeowners")
)  # fmt: skip
_EXAMPLES = frozenset(("example", "sample", "template"))
_SCRIPTS = frozenset(("sh", "bash", "zsh", "ksh", "dash"))
# Languages the code checks read (their lexers know these strings and comments).
_PROGRAMS = frozenset(("py", "pyw", "pyi", "js", "mjs", "cjs", "jsx", "ts", "tsx", "mts", "cts"))
_MAKEFILES = frozenset(("makefile", "gnumakefile"))
#: Where a file runs unattended or is read by the system: CI, hooks, rc files and any
#: other dot-directory or dotfile, a path that climbs (``..``), system directories,
#: schedulers, services and start-up folders. Content written there keeps the data
#: reading whatever the file's type.
_UNATTENDED = re.compile(
    r"(?:^|/)(?:\.[^/.]|\.\.(?:/|$))"
    r"|^(?:[a-z]:)?/+(?:etc|usr|var|lib|lib32|lib64|boot|root|bin|sbin|opt|srv|sys|proc|run"
    r"|system|library|private|windows|programdata|applications)(?:/|$)"
    r"|cron|systemd|init\.d|rc\.d|rc\.local|profile\.d|autostart|launch(?:agents|daemons)"
    r"|sudoers|startup|jenkinsfile|/run/user"
    # Files a tool or an agent acts on: install lists, build scripts, agent instructions.
    r"|(?:^|/)(?:requirements|constraints|cmakelists)[^/]*$|(?:^|/)(?:claude|agents|gemini)\.md$",
    re.IGNORECASE,
)


def written_as(path: str) -> str | None:
    """The meaning of content written to ``path``, by the file's type; ``None``: data.

    A document or an example file is prose (secret checks only), a shell script is
    commands, a Python or JavaScript program is code (string literals are data, the code
    checks run), a ``.sql`` file is SQL: it runs later (``psql -f``, a migration runner
    at deploy), so it is judged as the statements it holds, as a script is. A Makefile is
    :data:`MAKEFILE` (its recipes are commands). Anything else (configuration, unknown
    types), and any file under :data:`_UNATTENDED`, stays data.
    """
    if not path or len(path) > 4096 or "://" in path[:40]:
        return None
    norm = path.strip().replace("\\", "/")
    if _UNATTENDED.search(norm) is not None:
        return None
    name = norm.rstrip("/").rpartition("/")[2].lower()
    stem, dot, ext = name.partition(".")
    if not dot:
        if name in _MAKEFILES:
            return MAKEFILE
        return T if name in _DOCUMENT_NAMES else None
    ext = name.rpartition(".")[2]
    if ext in _DOCUMENTS or ext in _EXAMPLES:
        return T
    if ext in _SCRIPTS:
        return C
    if ext in _PROGRAMS:
        return K
    if ext == "sql":
        return S
    if ext == "mk" or stem in _MAKEFILES:
        return MAKEFILE
    return T if stem in _DOCUMENT_NAMES and ext in ("", "txt") else None
