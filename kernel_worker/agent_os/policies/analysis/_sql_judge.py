"""The SQL analyser's judgement over one reading's tokens: statement shapes, keyword by keyword.

:class:`Judge` walks tokens once. Each keyword with a handler looks at its
neighbours and the rest of its statement (bounded by ``;`` or the next
statement keyword) and records findings; string-built SQL is folded and handed
back to the analyser through the ``analyse`` callback (``_sql._analyse``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

from ._sql_reading import Reading, indices
from ._sql_sqlite import DOT_COMMANDS, attach, dot_command, dot_handler, vacuum
from ._sql_tokens import Tokens
from ._sql_where import UPDATE_END, every_row, replace, upsert

__all__ = ["Judge"]

Analyse = Callable[[str, bool, int], list[tuple[str, str]]]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DROP_KINDS = _words(
    "table database schema view materialized index user role login group function procedure "
    "trigger sequence tablespace extension owned warehouse stage stream pipe task share "
    "integration catalog type domain server policy event collection column constraint "
    "publication subscription aggregate rule cluster keyspace dataset external temporary "
    "temp if transient secure dynamic iceberg hybrid"
)
_DROP_SKIP = _words(
    "temporary temp external materialized if exists unique global local transient secure "
    "dynamic iceberg hybrid"
)
_PRINCIPALS = frozenset({"user", "role", "login", "group", "application"})
_ALTER_PRIV = _PRINCIPALS | {"default", "server", "authorization", "system"}
_NOT_COLUMN = _words(
    "true false null and or not is in like ilike between exists unknown any all some"
)
_STATEMENTS = _words(
    "update delete insert drop truncate merge alter create grant revoke exec execute select "
    "with copy set"
)
_FILE_FUNCS = _words(
    "load_file pg_read_file pg_read_binary_file pg_ls_dir pg_stat_file pg_file_write lo_import "
    "lo_export openrowset opendatasource xp_dirtree xp_fileexist xp_subdirs sys_exec sys_eval "
    "pg_ls_logdir pg_ls_waldir readfile writefile fsdir"
)
_PRIV_PROCS = _words(
    "sp_addsrvrolemember sp_addrolemember sp_addlogin sp_grantlogin sp_changedbowner sp_configure "
    "sp_adduser sp_grantdbaccess sp_password sp_droprolemember"
)
_PRIVILEGES = _words(
    "select insert update delete all usage execute role connect create references trigger "
    "temporary temp ownership monitor operate modify apply imported alter drop truncate "
    "superuser file process super reload shutdown grant"
)
_NETWORK_FUNCS = _words(
    "dblink dblink_exec dblink_connect dblink_send_query http_get http_post utl_http utl_tcp "
    "utl_smtp openquery"
)
_COMMAND_PROCS = frozenset(
    {"xp_cmdshell", "sp_oacreate", "sp_oamethod", "sys_exec", "sys_eval", "dbms_java"}
)
#: Functions that load native code into the server (SQLite's extensions).
_NATIVE_FUNCS = frozenset({"load_extension"})
#: Procedural languages that reach the operating system (untrusted, native code).
_UNTRUSTED = _words("plpythonu plpython2u plpython3u plperlu pltclu plsh c internal plv8u")
_DYNAMIC_PROCS = frozenset({"sp_executesql", "sp_sqlexec"})
#: Names that stay dangerous behind a schema (``master..xp_cmdshell``, ``pg_catalog.pg_read_file``).
#: Catalogue tables and columns that hold the server's password hashes.
_PASSWORD_HASHES = _words("pg_shadow pg_authid authentication_string sql_logins syslogins user$")
_QUALIFIED = (
    _FILE_FUNCS
    | _PRIV_PROCS
    | _DYNAMIC_PROCS
    | _COMMAND_PROCS
    | _NETWORK_FUNCS
    | _PASSWORD_HASHES
    | _NATIVE_FUNCS
    | DOT_COMMANDS
    | {"utl_file", "user"}
)
_BEFORE_UPDATE = frozenset({"on", "then", "for", "key", "do", "of", "before", "after", "instead"})


def _name_tokens(kinds: str) -> list[int]:
    """Indices of the words and quoted names (in C time)."""
    return [m.start() for m in _WORDS_OR_QUOTED(kinds)]


_WORDS_OR_QUOTED = re.compile("[wq]").finditer


class Judge(Reading):
    """One pass over one reading's tokens."""

    __slots__ = ("_columns", "_file_targets", "_folded", "analyse", "depth", "sql", "wheres")

    def __init__(
        self,
        tokens: Tokens,
        sql_action: bool,
        depth: int,
        findings: dict[str, str],
        analyse: Analyse,
    ) -> None:
        super().__init__(tokens, findings)
        self.analyse = analyse
        self.sql = sql_action
        self.depth = depth
        self._columns: list[int] | None = None  # indices of tokens that name a column
        self._folded: dict[str, list[tuple[str, str]]] = {}
        self._file_targets: list[int] | None = None  # COPY's TO 'f', FROM 'f', INTO 'f' / @s
        self.wheres: dict[int, bool] = {}  # WHERE index -> its condition is always true

    def run(self) -> None:
        """Visit, in order, the tokens :meth:`keyword` can act on (words of :data:`_ACTIVE`,
        quoted names), each with its statement's start: every other token is only read
        around them. The statement starts after the last ``;`` before the token, and the
        token is at the start when nothing lies between.
        """
        kinds, values = self.kinds, self.values
        visit = [i for i in indices(values, _ACTIVE.intersection(values)) if kinds[i] == "w"]
        if "q" in kinds:
            visit.extend(indices(kinds, ("q",)))
        visit.sort()
        ends = [i for i in indices(values, (";",)) if kinds[i] == "p"] if ";" in values else []
        ends.append(len(kinds))
        end = 0  # ends[end]: the first ``;`` after the statement's start
        for i in visit:
            while ends[end] < i:
                self.start = ends[end] + 1
                end += 1
            value = values[i]
            if kinds[i] == "w":
                if not self.punct(i - 1, ".") or value in _QUALIFIED:
                    prev = values[i - 1] if i and kinds[i - 1] == "w" else ""
                    self.keyword(i, value, prev, i == self.start)
            elif value.lower().rsplit(".", 1)[-1] == "xp_cmdshell":
                self.flag("sql:command-exec", i)

    # -- one keyword --------------------------------------------------------------------

    def keyword(self, i: int, value: str, prev: str, at_start: bool) -> None:
        handler = _HANDLERS.get(value)
        if handler is not None:
            handler(self, i, prev, at_start)
        elif value in _FILE_FUNCS and self.punct(i + 1, "("):
            self.flag("sql:file-access", i)
        elif value in _NATIVE_FUNCS and self.punct(i + 1, "("):
            self.flag("sql:command-exec", i)  # SQLite: load_extension('/tmp/x.so')
        elif value in _NETWORK_FUNCS and self.punct(i + 1, "(."):
            self.flag("sql:server-network", i)  # dblink(...), utl_http.request(...)
        elif value in _COMMAND_PROCS:
            self.flag("sql:command-exec", i)
        elif value in _PRIV_PROCS and (at_start or prev in ("exec", "execute")):
            self.flag("sql:privilege", i)
        elif value == "utl_file":
            self.flag("sql:file-access", i)
        elif value == "soname":
            self.flag("sql:command-exec", i)  # CREATE FUNCTION / INSTALL PLUGIN: native code
        elif value == "shutdown" and at_start:
            self.flag("sql:shutdown", i)
        elif value in _PASSWORD_HASHES or (value == "user" and prev == "" and self._after_mysql(i)):
            self.flag("sql:credential-read", i)

    def _after_mysql(self, i: int) -> bool:
        """``mysql.user``: the account table (password hashes), by its schema."""
        return i >= 2 and self.word(i - 2) == "mysql" and self.punct(i - 1, ".")

    def drop(self, i: int, prev: str, at_start: bool) -> None:
        j = i + 1
        while self.word(j) in _DROP_SKIP:
            j += 1
        target = self.word(j)
        if target is None and not self.sql:
            return
        if target is None and self.kind(j) is None:
            self.flag("sql:unparseable", i)
            return
        if self.sql or target in _DROP_KINDS:
            altering = self.has_word(self.start, i, "alter") >= 0
            self.flag("sql:alter-drop" if altering else "sql:drop", i)

    def delete(self, i: int, prev: str, at_start: bool) -> None:
        if prev == "on":
            return  # ON DELETE CASCADE
        if prev == "then":
            self.flag("sql:delete", i)  # MERGE ... WHEN MATCHED THEN DELETE
            return
        nxt = self.word(i + 1)
        if self.sql:
            if self.punct(i + 1, "("):
                return  # a function called delete(...)
            self.flag("sql:delete" if self.kind(i + 1) else "sql:unparseable", i)
            return
        j = i + 2 if nxt == "from" else i + 1
        if self.kind(j) not in ("w", "q"):
            return
        j += 1
        while self.punct(j, ".") and self.kind(j + 1) in ("w", "q"):
            j += 2
        after = self.word(j)
        if (
            self.kind(j) is None
            or self.punct(j, ";")
            or after in ("where", "returning", "using", "limit", "output")
            or (nxt == "from" and after is not None and self.word(j + 1) == "where")
        ):
            self.flag("sql:delete", i)

    def truncate(self, i: int, prev: str, at_start: bool) -> None:
        nxt = self.word(i + 1)
        if nxt == "table" or (self.sql and self.kind(i + 1) in ("w", "q")):
            self.flag("sql:truncate", i)
        elif self.sql and self.kind(i + 1) is None:
            self.flag("sql:unparseable", i)

    def update(self, i: int, prev: str, at_start: bool) -> None:
        if prev in _BEFORE_UPDATE:
            return
        end = self.end_of_statement(i, UPDATE_END)
        set_at = self.has_word(i + 1, end, "set")
        if set_at < 0:
            if self.sql and self.kind(i + 1) is not None and not self.punct(i + 1, "("):
                self.flag("sql:unparseable", i)
            return
        if every_row(self, i, set_at, end):
            self.flag("sql:update-all-rows", i)

    def names_column(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` names a column (a quoted name, a word but
        ``_NOT_COLUMN``'s): one bisect in the reading's column tokens, found once.
        """
        at = self._columns
        if at is None:
            kinds, values = self.kinds, self.values
            at = self._columns = [
                j for j in _name_tokens(kinds) if kinds[j] == "q" or values[j] not in _NOT_COLUMN
            ]
        k = bisect_left(at, start)
        return k < len(at) and at[k] < end

    def alter(self, i: int, prev: str, at_start: bool) -> None:
        if self.word(i + 1) in _ALTER_PRIV:
            self.flag("sql:privilege", i)

    def create(self, i: int, prev: str, at_start: bool) -> None:
        j = i + 1
        replace = False
        while self.word(j) in ("or", "replace", "temporary", "temp", "global", "local",
                               "transient", "secure", "if", "not", "exists"):  # fmt: skip
            replace = replace or self.word(j) == "replace"
            j += 1
        target = self.word(j)
        if target in _PRINCIPALS:
            self.flag("sql:privilege", i)
        elif replace and target == "table":
            self.flag("sql:overwrite", i)
        elif target in ("function", "procedure", "language"):
            end = self.end_of_statement(i, frozenset())
            language = self.has_word(j, end, "language")
            if language >= 0 and (self.word(language + 1) or "") in _UNTRUSTED:
                self.flag("sql:command-exec", i)  # code that runs on the server's OS

    def insert(self, i: int, prev: str, at_start: bool) -> None:
        if self.word(i + 1) == "overwrite":
            self.flag("sql:overwrite", i)
        elif at_start:
            upsert(self, i)  # INSERT ... SELECT ... ON CONFLICT DO UPDATE: a mass UPDATE

    def grant(self, i: int, prev: str, at_start: bool) -> None:
        end = self.end_of_statement(
            i,
            _STATEMENTS
            - {"select", "delete", "update", "insert", "execute", "exec", "create", "alter"},
        )
        closing = "from" if self.values[i] == "revoke" else "to"
        # Outside certain SQL: "GRANT <privilege> ... TO", not "grant me access to".
        privilege = self.word(i + 1) or ""
        if self.sql or (
            (privilege in _PRIVILEGES or privilege.startswith("pg_"))
            and self.has_word(i + 1, end, closing) >= 0
        ):
            self.flag("sql:privilege", i)

    def set_(self, i: int, prev: str, at_start: bool) -> None:
        if not at_start:
            return
        nxt = self.word(i + 1)
        if nxt in ("session", "local"):
            nxt = self.word(i + 2)
        if nxt in ("role", "authorization"):
            self.flag("sql:privilege", i)

    def use(self, i: int, prev: str, at_start: bool) -> None:
        if at_start and self.word(i + 1) in ("role", "secondary"):
            self.flag("sql:privilege", i)

    def execute(self, i: int, prev: str, at_start: bool) -> None:
        if prev in ("grant", "revoke") or self.word(i + 1) in ("function", "procedure", "on"):
            return
        kind = self.kind(i + 1)
        nxt = self.word(i + 1)
        if kind is None:
            if self.sql:
                self.flag("sql:unparseable", i)
            return
        if nxt == "as":
            self.flag("sql:privilege", i)
        elif self.punct(i + 1, "("):
            self.run_string(i, i + 1)
        elif nxt == "immediate":
            self.run_string(i, i + 2)
        elif kind == "v":
            self.flag("sql:dynamic", i)
        elif kind in ("w", "q"):
            name = self.dotted(i + 1)
            if name in _COMMAND_PROCS:
                self.flag("sql:command-exec", i)
            elif name in _DYNAMIC_PROCS:
                self.run_string(i, self.after_dotted(i + 1))
            elif name in _PRIV_PROCS:
                self.flag("sql:privilege", i)
        elif kind == "s":
            self.run_string(i, i + 1)

    def dotted(self, j: int) -> str:
        """The last part of a dotted name starting at ``j`` (``master..xp_cmdshell``)."""
        end = self.after_dotted(j) - 1
        return self.values[end].lower().rsplit(".", 1)[-1]

    def after_dotted(self, j: int) -> int:
        """Index just past the dotted name starting at ``j``."""
        while self.punct(j + 1, "."):
            j += 1
            while self.punct(j + 1, "."):
                j += 1
            if self.kind(j + 1) not in ("w", "q"):
                return j + 1
            j += 1
        return j + 1

    def prepare(self, i: int, prev: str, at_start: bool) -> None:
        if self.word(i + 2) == "from":
            self.run_string(i, i + 3)

    def do(self, i: int, prev: str, at_start: bool) -> None:
        if at_start and (self.sql or self.kind(i + 1) == "s"):
            self.flag("sql:dynamic", i)

    def copy(self, i: int, prev: str, at_start: bool) -> None:
        if not at_start:
            return
        end = self.end_of_statement(i, frozenset())
        if self.has_word(i + 1, end, "program") >= 0:
            self.flag("sql:command-exec", i)
            return
        # TO / FROM 'file', INTO 'file' / @stage, anywhere in the statement.
        targets = self._file_targets
        if targets is None:
            found = [self.positions(w, f) for w, f in (("to", "s"), ("from", "s"), ("into", "sv"))]
            targets = self._file_targets = sorted(j for at in found for j in at)
        k = bisect_left(targets, i + 1)
        if k < len(targets) and targets[k] < min(end, len(self.kinds) - 1):
            self.flag("sql:file-access", i)

    def into(self, i: int, prev: str, at_start: bool) -> None:
        if self.word(i + 1) in ("outfile", "dumpfile"):
            self.flag("sql:file-access", i)

    def load(self, i: int, prev: str, at_start: bool) -> None:
        if dot_command(self, i):
            return  # the sqlite3 shell's .load
        if self.word(i + 1) in ("data", "xml") and self.has_word(i + 2, i + 6, "infile") >= 0:
            self.flag("sql:file-access", i)

    def bulk(self, i: int, prev: str, at_start: bool) -> None:
        if self.word(i + 1) == "insert":
            self.flag("sql:file-access", i)

    def setuser(self, i: int, prev: str, at_start: bool) -> None:
        if at_start:
            self.flag("sql:privilege", i)

    # -- string-built SQL ---------------------------------------------------------------

    def run_string(self, at: int, start: int) -> None:
        """Fold the literal-only expression at ``start`` and judge it; anything else is dynamic."""
        kinds, values = self.kinds, self.values
        parts: list[str] = []
        depth = 0
        j = start
        while j < len(kinds):
            kind, value = kinds[j], values[j]
            if kind == "s":
                parts.append(value)
            elif kind == "p" and value == "(":
                depth += 1
            elif kind == "p" and value == ")":
                depth -= 1
                if depth <= 0:
                    break
            elif value in _GLUE and kind in ("p", "w"):
                pass  # 'DR' + 'OP', 'DR' || 'OP', CONCAT('DR', 'OP'), N'...'
            elif depth <= 0 and kind in ("w", "p"):
                break  # the expression ended (a keyword, ';' or ',' after it)
            else:
                self.flag("sql:dynamic", at)
                return
            j += 1
        if not parts:
            self.flag("sql:dynamic", at)
            return
        text = "".join(parts)
        found = self._folded.get(text)
        if found is None:  # a batch repeats its EXEC('...'): each string is judged once
            found = self._folded[text] = self.analyse(text, True, self.depth + 1)
        for check, excerpt in found:
            self.findings.setdefault(check, excerpt)


_GLUE = frozenset({"+", "|", "concat", "n", ","})

_HANDLERS: dict[str, Callable[[Judge, int, str, bool], None]] = {
    "drop": Judge.drop,
    "delete": Judge.delete,
    "truncate": Judge.truncate,
    "update": Judge.update,
    "alter": Judge.alter,
    "create": Judge.create,
    "insert": Judge.insert,
    "grant": Judge.grant,
    "revoke": Judge.grant,
    "set": Judge.set_,
    "use": Judge.use,
    "exec": Judge.execute,
    "execute": Judge.execute,
    "prepare": Judge.prepare,
    "do": Judge.do,
    "copy": Judge.copy,
    "into": Judge.into,
    "load": Judge.load,
    "bulk": Judge.bulk,
    "setuser": Judge.setuser,
    "replace": replace,
    "attach": attach,
    "vacuum": vacuum,
    **dict.fromkeys(DOT_COMMANDS - {"load"}, dot_handler),
}

#: Words :meth:`Judge.keyword` can act on; it does nothing for any other word.
_ACTIVE = (
    frozenset(_HANDLERS)
    | _FILE_FUNCS
    | _NETWORK_FUNCS
    | _COMMAND_PROCS
    | _PRIV_PROCS
    | _PASSWORD_HASHES
    | _NATIVE_FUNCS
    | {"utl_file", "soname", "shutdown", "user"}
)
