"""Structural SQL analysis over tokens: destructive, privileged and file-touching statements.

:func:`analyse_sql` tokenizes text (:mod:`._sql_tokens`: every reading the
dialects allow - standard quoting, MySQL backslash escapes, Postgres dollar
quotes, T-SQL brackets, MySQL backticks and executable comments) and judges
the statements the tokens form. String literals and quoted identifiers are
single tokens, so ``WHERE action = 'DROP TABLE'`` is data. Checks (ids as
they appear in verdicts):

* ``sql:drop``, ``sql:delete`` (also ``MERGE ... THEN DELETE``, T-SQL
  ``DELETE users WHERE ...``, a statement glued to a literal:
  ``SELECT 'a'DELETE FROM t``), ``sql:truncate``, ``sql:alter-drop``;
  dialect objects count: ``DROP WAREHOUSE`` / ``STAGE`` / ``STREAM``...;
* ``sql:update-all-rows``: ``UPDATE ... SET`` without a ``WHERE`` of its own (one
  inside a subquery does not count), or with one that holds for every row: it names no
  column (``WHERE 1=1``), compares a column with itself (``WHERE id = id``) or has such
  an ``OR`` branch (``WHERE 1 = 1 OR id = 5``); also ``REPLACE INTO t ... SELECT ... FROM``
  (``INSERT OR REPLACE``, ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` / ``ON DUPLICATE
  KEY UPDATE``) whose SELECT (or a UNION member) lacks a narrowing ``WHERE`` (:mod:`._sql_where`);
* ``sql:overwrite``: ``CREATE OR REPLACE TABLE``, ``INSERT OVERWRITE``;
* ``sql:privilege``: ``GRANT``, ``REVOKE``, ``CREATE`` / ``ALTER USER``,
  ``ROLE``, ``LOGIN``, ``ALTER DEFAULT PRIVILEGES``, ``ALTER SERVER ROLE``,
  ``SET ROLE``, ``SET SESSION AUTHORIZATION``, ``USE ROLE``, ``EXECUTE AS``,
  ``sp_addsrvrolemember`` and friends, ``sp_configure``;
* ``sql:file-access``: server-side files - ``COPY ... TO / FROM 'file'``,
  ``COPY INTO 's3://...'`` / ``@stage`` (unload), ``INTO OUTFILE`` /
  ``DUMPFILE``, ``LOAD DATA INFILE``, ``BULK INSERT``, ``LOAD_FILE``,
  ``pg_read_file`` / ``pg_read_binary_file`` / ``pg_ls_dir``, ``lo_import`` /
  ``lo_export``, ``OPENROWSET``, ``UTL_FILE``, ``xp_dirtree``; SQLite's ``ATTACH
  DATABASE 'file'`` and ``VACUUM INTO 'file'`` onto anything but a database in the
  working directory or memory (:mod:`._sql_sqlite`), the sqlite3 shell's ``readfile`` /
  ``writefile`` / ``fsdir``;
* ``sql:dynamic``: string-built SQL - ``EXEC(@sql)``, ``EXECUTE IMMEDIATE v``,
  ``PREPARE s FROM @q``, ``sp_executesql @s``, a ``DO`` block. A string built
  from literals only (``EXEC('DR' + 'OP TABLE t')``) is folded and judged;
* ``sql:command-exec``: ``xp_cmdshell``, ``COPY ... PROGRAM``, native code loaded by
  ``SONAME`` (MySQL UDFs, plugins) or SQLite's ``load_extension(...)``, Oracle
  ``DBMS_JAVA``; ``sql:shutdown``: ``SHUTDOWN``;
* ``sql:credential-read``: the server's password hashes - ``pg_shadow``,
  ``pg_authid``, ``mysql.user``'s ``authentication_string``, ``sys.sql_logins``,
  ``syslogins``, Oracle ``sys.user$``;
* ``sql:unparseable``: in certain SQL, a risky keyword in no shape we know
  (fail closed); ``sql:too-complex``: past the token budget (review).

Outside certain SQL (a ``query`` field of a search tool, text of unknown
meaning) prose must not read as SQL: there a ``DELETE`` needs ``FROM`` and a
table, ``DROP`` an object kind, ``UPDATE`` a ``SET``, ``GRANT`` a ``TO``.

Cost: :data:`GATE` (RE2, linear) decides whether any of these keywords is
present; only then are tokens built. Tokenizing and judging are linear and
capped at :data:`_MAX_CHARS`; past it the destructive shapes are found by
regex (``_patterns.SQL_PATTERNS``, linear) and the text is also reported
``sql:too-complex`` (review). Results of repeated texts come
from a bounded cache.
"""

from __future__ import annotations

from functools import lru_cache

import re2

from ._normalise import compat, has_comment, space_insensitive, strip_sql_comments
from ._patterns import SQL_PATTERNS
from ._re import OPTIONS
from ._sql_judge import Judge
from ._sql_tokens import readings

__all__ = ["GATE", "SQL_CHECKS", "analyse_gated", "analyse_sql", "sql_gate"]

#: Check id -> reason.
SQL_CHECKS: dict[str, str] = {
    "sql:drop": "destructive SQL: DROP",
    "sql:delete": "destructive SQL: DELETE",
    "sql:truncate": "destructive SQL: TRUNCATE",
    "sql:alter-drop": "destructive SQL: ALTER ... DROP",
    "sql:update-all-rows": (
        "UPDATE (or REPLACE ... SELECT) of every row: no WHERE, or one always true"
    ),
    "sql:overwrite": "destructive SQL: table replaced (CREATE OR REPLACE / INSERT OVERWRITE)",
    "sql:privilege": "privilege change in SQL (GRANT, REVOKE, users and roles, SET ROLE)",
    "sql:file-access": (
        "SQL reading or writing server files (COPY TO file, OUTFILE, pg_read_file, "
        "SQLite ATTACH / VACUUM INTO a path)"
    ),
    "sql:dynamic": "string-built (dynamic) SQL that cannot be checked before it runs",
    "sql:command-exec": "SQL that runs an operating-system command or loads native code",
    "sql:server-network": "SQL opening network connections from the server (dblink, UTL_HTTP)",
    "sql:shutdown": "SQL that stops the database server (SHUTDOWN)",
    "sql:credential-read": "SQL reading the server's password hashes (pg_shadow, mysql.user)",
    "sql:unparseable": "SQL with a destructive keyword that could not be read",
    "sql:too-complex": "SQL too large to analyse within budget (review)",
}

_KEYWORDS = (
    "dblink|utl_http|utl_tcp|http_get|http_post|sp_oacreate|sp_oamethod|language|openquery|"
    "drop|delete|truncate|alter|update|merge|exec|execute|prepare|copy|replace|overwrite"
    "|xp_cmdshell|sp_executesql|sp_sqlexec|grant|revoke|role|user|login|authorization"
    "|outfile|dumpfile|infile|load_file|pg_read_file|pg_read_binary_file|pg_ls_dir|pg_stat_file"
    "|lo_import|lo_export|bulk|openrowset|opendatasource|utl_file|xp_dirtree|xp_fileexist"
    "|sp_configure|sp_addsrvrolemember|sp_addrolemember|sp_addlogin|sp_grantlogin|setuser"
    "|attach|vacuum|load_extension|readfile|writefile|fsdir"
    "|shutdown|soname|dbms_java|pg_shadow|pg_authid|authentication_string|sql_logins|syslogins|user\\$"
)
#: The prefilter: a superset of the statements :func:`analyse_sql` can flag.
GATE = re2.compile(
    rf"(?:^|[^a-z_])(?:{_KEYWORDS})(?:[^a-z0-9_]|$)|(?:^|;)[^a-z0-9_]*do(?:[^a-z0-9_]|$)"
    r"|(?:^|[;\n])[^a-z0-9_.]*\.[^a-z0-9_]*(?:shell|system|load|output|once|backup|save|clone"
    r"|open|import|read|log|trace|cd)"
    r"(?:[^a-z0-9_]|$)",
    OPTIONS,
)
_GATE_MATCH = GATE._regexp.Match  # the binding's bytes matcher, as in _re.search
_UNANCHORED = re2._Anchor.UNANCHORED
_MAX_CHARS = 8_192  # ~2,000 tokens: a few ms of Python at worst
_MAX_FOLD_DEPTH = 3


def _prepare(text: str) -> str:
    """Compatibility-decomposed, without invisible characters: what tokenizer and gate see."""
    return compat(text)


def sql_gate(text: str) -> bool:
    """True when ``text`` may hold a statement :func:`analyse_sql` would flag (one RE2 scan).

    Short texts (tool names, identifiers, short fields) recur from call to call: their
    answer is remembered.
    """
    if len(text) <= _SHORT:
        return _short_gate(text)
    return _gate(text)


_SHORT = 256


@lru_cache(maxsize=4096)
def _short_gate(text: str) -> bool:
    return _gate(text)


def _gate(text: str) -> bool:
    if not text.isascii():
        text = _prepare(text)
    data = text.encode()
    if _GATE_MATCH(_UNANCHORED, data, 0, len(data))[0][0] >= 0:
        return True
    if has_comment(text):
        data = strip_sql_comments(text).encode()
        return bool(_GATE_MATCH(_UNANCHORED, data, 0, len(data))[0][0] >= 0)
    return False


def analyse_sql(text: str, *, sql_action: bool, depth: int = 0) -> list[tuple[str, str]]:
    """Findings ``(check id, statement excerpt)`` for ``text``; ``[]`` when it is harmless.

    ``sql_action`` says the text is certainly SQL (a ``sql`` action, a string
    passed to ``EXEC``): bare shapes count, and a risky keyword in no known
    shape is ``sql:unparseable``. Never raises.
    """
    if not sql_gate(text):
        return []
    return analyse_gated(text, sql_action=sql_action, depth=depth)


def analyse_gated(text: str, *, sql_action: bool, depth: int = 0) -> list[tuple[str, str]]:
    """:func:`analyse_sql` of a text the caller already found through :func:`sql_gate`."""
    if len(text) <= 4096:
        return list(_cached(text, sql_action, depth))
    return _analyse(text, sql_action, depth)


@lru_cache(maxsize=2048)
def _cached(text: str, sql_action: bool, depth: int) -> tuple[tuple[str, str], ...]:
    return tuple(_analyse(text, sql_action, depth))


def _analyse(text: str, sql_action: bool, depth: int) -> list[tuple[str, str]]:
    """:func:`analyse_sql` without the gate (tests check the gate is a superset of this)."""
    text = _prepare(text)
    if len(text) > _MAX_CHARS:
        return _over_budget(text)
    if depth > _MAX_FOLD_DEPTH:
        return [("sql:dynamic", text[:120])]
    findings: dict[str, str] = {}
    for tokens in readings(text):
        Judge(tokens, sql_action, depth, findings, _analyse).run()
    if "/" in text and "/*" in text:
        # A comment glued inside a word (DR/**/OP): also read the text without comments.
        for tokens in readings(strip_sql_comments(text)):
            Judge(tokens, sql_action, depth, findings, _analyse).run()
    return list(findings.items())


def _regex_set() -> tuple[object, tuple[str, ...]]:
    rule_set = re2.Set.SearchSet(OPTIONS)
    for _, regex, _ in SQL_PATTERNS:
        rule_set.Add(space_insensitive(regex))
    rule_set.Compile()
    return getattr(rule_set, "_set", rule_set), tuple(rule_id for rule_id, _, _ in SQL_PATTERNS)


_REGEX_SET, _REGEX_IDS = _regex_set()


def _over_budget(text: str) -> list[tuple[str, str]]:
    """Past the token budget: the destructive shapes by regex (linear), else a review."""
    findings: dict[str, str] = {}
    for candidate in (text, strip_sql_comments(text)) if has_comment(text) else (text,):
        for index in _REGEX_SET.Match(candidate.encode()) or ():  # type: ignore[attr-defined]
            findings.setdefault(_REGEX_IDS[index], candidate[:120])
    findings.setdefault("sql:too-complex", text[:120])
    return list(findings.items())
