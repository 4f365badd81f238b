"""SQLite's ways to write files: ``ATTACH DATABASE 'file'`` and ``VACUUM INTO 'file'``.

Either creates (or overwrites) a file at a path the statement names, with
content the next statements choose: ``ATTACH '/var/www/html/shell.php' AS x;
CREATE TABLE x.t (c); INSERT INTO x.t VALUES ('<?php ...')`` drops a web shell,
and the same onto ``~/.ssh/authorized_keys`` adds a key (sshd skips the lines it
cannot read). Both are ``sql:file-access`` unless the file is one an agent
working on its own database would name:

* ``''`` and ``':memory:'`` (also ``file::memory:`` and a URI with
  ``mode=memory``): no file at all;
* a relative path without ``..`` whose name ends as a database's does
  (``analytics.db``, ``data/cache.sqlite3``): a database in the working directory.

Anything else is stopped: an absolute, home (``~``), drive or UNC path, a ``..``
step, a variable or percent-escape, a name without a database extension
(``shell.php``, ``authorized_keys``), and, in certain SQL, a target that is not
one literal (``'/var/www/' || 'x.php'``, ``(SELECT path FROM t)``): what it names
cannot be seen. SQLite reads a bare name (``ATTACH shell AS x``) as the file
name, so it is judged the same way. Outside certain SQL (a ``query`` field of a
tool) only the statement shapes count: ``ATTACH [DATABASE] 'file' AS name`` at
a statement's start, ``VACUUM [schema] INTO 'file'``.

``load_extension(...)`` (native code: ``sql:command-exec``) and the sqlite3
shell's ``readfile`` / ``writefile`` / ``fsdir`` are function calls the judge
flags by name.

The sqlite3 shell's dot-commands, at a statement's start (its input reaches the
analyser through ``sqlite3 db "..."`` and SQL fields a CLI runs): ``.shell`` /
``.system`` run a command and ``.load`` loads native code (``sql:command-exec``).
``.output``, ``.once``, ``.log`` and ``.trace`` (a file written), ``.import`` and
``.read`` (a file's rows or statements) and ``.cd`` are ``sql:command-exec`` with
``|cmd`` and ``sql:file-access`` onto a path outside the working directory;
``.backup`` / ``.save`` / ``.clone`` / ``.open`` onto anything but a database file
there are ``sql:file-access``. The shell reads its dot-command lines itself:
``--csv`` there is an option, not a comment (``_sql_tokens.readings``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._sql_judge import Judge

__all__ = [
    "DOT_COMMANDS", "attach", "dot_command", "dot_handler", "safe_database_file", "vacuum",
]  # fmt: skip

#: Extensions of SQLite database files.
_DB_EXTENSIONS = frozenset(
    {".db", ".sqlite", ".sqlite3", ".db3", ".s3db", ".sl3", ".sdb", ".sqlitedb"}
)


def safe_database_file(name: str) -> bool:
    """Whether ``ATTACH`` / ``VACUUM INTO`` of ``name`` stays a database in the working
    directory (or in memory); see the module docstring.
    """
    path = name.strip()
    if path in ("", ":memory:"):
        return True
    if path[:5].lower() == "file:":  # a URI filename: file:x.db?mode=ro
        path, _, query = path[5:].partition("?")
        if "mode=memory" in query.lower() or path in ("", ":memory:"):
            return True
    if path[:1] in ("/", "\\", "~", "$", "%") or "%" in path or (path[1:2] == ":"):
        return False  # absolute, home, UNC, variable, escaped, drive (C:)
    steps = path.replace("\\", "/").split("/")
    if ".." in steps or "\x00" in path:
        return False
    last = steps[-1]
    dot = last.rfind(".")
    return dot > 0 and last[dot:].lower() in _DB_EXTENSIONS


def attach(judge: Judge, i: int, prev: str, at_start: bool) -> None:
    """``ATTACH [DATABASE] target AS name`` at a statement's start."""
    if not at_start:
        return  # a column named attach
    j = i + 2 if judge.word(i + 1) == "database" else i + 1
    _target(judge, i, j, "as")


def vacuum(judge: Judge, i: int, prev: str, at_start: bool) -> None:
    """``VACUUM [schema] INTO target`` at a statement's start (a copy of the database)."""
    if not at_start:
        return
    j = i + 1
    if judge.word(j) != "into" and judge.kind(j) in ("w", "q"):
        j += 1  # the schema: VACUUM main INTO 'f'
    if judge.word(j) == "into":
        _target(judge, i, j + 1, "")


def _statement_ends(judge: Judge, j: int) -> bool:
    """``AS name`` is followed by the statement's end (or SQLCipher's ``KEY``)."""
    return judge.kind(j) is None or judge.punct(j, ";") or judge.word(j) == "key"


def _target(judge: Judge, i: int, j: int, closing: str) -> None:
    """Judge the file named at token ``j``; ``closing`` is the word that must follow it
    (``AS`` for ATTACH; nothing for VACUUM INTO, which ends its statement).
    """
    kind = judge.kind(j)
    if kind is None:
        return
    after = j + 1
    single = kind in ("s", "q", "w") and (
        judge.word(after) == closing
        if closing
        else judge.kind(after) is None or judge.punct(after, ";")
    )
    if single:
        if not judge.sql and (kind == "w" or (closing and not _statement_ends(judge, after + 2))):
            return  # prose: "attach it as ...", "attach 'a.pdf' as evidence for ..."
        if not safe_database_file(judge.values[j]):
            judge.flag("sql:file-access", i)
        return
    if not judge.sql:
        # A tool's query field: a literal built up (``'/var/www/' || 'x.php'``) still counts.
        if kind != "s" or not judge.punct(after, "|+"):
            return
        end = judge.end_of_statement(i, frozenset())
        if closing and judge.has_word(after, end, closing) < 0:
            return
    judge.flag("sql:file-access", i)  # a target that is not one name: unknown


_DOT_EXEC = frozenset({"shell", "system", "load"})
_DOT_COPY = frozenset({"backup", "save", "clone", "open"})
#: Write a file (``.output``, ``.once``, ``.log``, ``.trace``), read one (``.import``,
#: ``.read``: its rows or statements) or change the directory the rest resolve against
#: (``.cd``); each takes ``|cmd`` for a command, and options (``--csv``) before its file.
_DOT_FILES = frozenset({"output", "once", "import", "read", "log", "trace", "cd"})
#: How many words after a dot-command :func:`dot_command` reads (its options and file).
_DOT_WORDS = 12
#: Dot-commands :func:`dot_command` judges.
DOT_COMMANDS = _DOT_EXEC | _DOT_COPY | _DOT_FILES


def dot_handler(judge: Judge, i: int, prev: str, at_start: bool) -> None:
    """The judge's handler for the words of :data:`DOT_COMMANDS`."""
    dot_command(judge, i)


def dot_command(judge: Judge, i: int) -> bool:
    """Judge the sqlite3 shell's ``.name ...`` when word ``i`` is one at a statement's
    start; True when it was one.
    """
    if i - 1 != judge.start or not judge.punct(i - 1, "."):
        return False
    name = judge.values[i]
    if name in _DOT_EXEC:
        judge.flag("sql:command-exec", i)
        return True
    if name in _DOT_FILES:
        _dot_file(judge, i)
        return True
    j = i + 1
    while name == "open" and judge.punct(j, "-") and judge.kind(j + 1) == "w":
        j += 2  # .open -readonly FILE (``--new``: see readings)
    if name == "backup" and judge.kind(j) in ("w", "q") and judge.kind(j + 1) not in (None, "p"):
        j += 1  # .backup main FILE
    kind = judge.kind(j)
    if kind is None or judge.punct(j, ";"):
        return True
    if kind == "s" or kind == "q":
        target = judge.values[j]
        if target.startswith("|"):
            judge.flag("sql:command-exec", i)
        elif not safe_database_file(target):
            judge.flag("sql:file-access", i)
        return True
    if judge.punct(j, "|"):
        judge.flag("sql:command-exec", i)
        return True
    parent = judge.punct(j, ".") and judge.punct(j + 1, ".")
    if parent or (kind == "p" and judge.values[j] in "/\\~$%"):
        judge.flag("sql:file-access", i)  # absolute, home, variable, ../
        return True
    if kind == "w":
        parts = [judge.values[j]]  # name.ext as the tokens spell it: name . ext
        while judge.punct(j + 1, ".") and judge.kind(j + 2) == "w":
            parts.append(judge.values[j + 2])
            j += 2
        if not safe_database_file(".".join(parts)):
            judge.flag("sql:file-access", i)
    return True


def _dot_file(judge: Judge, i: int) -> None:
    """One of :data:`_DOT_FILES` (word ``i``): a pipe is a
    command (``sql:command-exec``); a file outside the working directory (absolute,
    home, variable, ``..``) is ``sql:file-access``. Options and the file are read
    among the next :data:`_DOT_WORDS` tokens of the statement."""
    end = min(judge.end_of_statement(i, frozenset()), i + 1 + _DOT_WORDS)
    for j in range(i + 1, end):
        kind = judge.kind(j)
        if kind == "s" or kind == "q":
            target = judge.values[j]
            if target.lstrip().startswith("|"):
                judge.flag("sql:command-exec", i)
                return
            if not _inside(target):
                judge.flag("sql:file-access", i)
                return
        elif kind == "p":
            mark = judge.values[j]
            if mark == "|":
                judge.flag("sql:command-exec", i)
                return
            # A path's first character: right after the name, an option (``-csv``) or an
            # option's number (``-skip 1``).
            led = mark in "/\\~$%" and (
                j == i + 1 or judge.punct(j - 2, "-") or judge.kind(j - 1) == "n"
            )
            if led or (mark == "." and judge.punct(j + 1, ".")):
                judge.flag("sql:file-access", i)  # absolute, home, variable, ../
                return


def _inside(path: str) -> bool:
    """A relative path without ``..`` (any extension): a file in the working directory."""
    path = path.strip()
    if path[:1] in ("/", "\\", "~", "$", "%") or path[1:2] == ":":
        return False
    return ".." not in path.replace("\\", "/").split("/")
