"""The SQL analyser's cheap paths: plain tokens in C time, a judge that visits only keywords.

Plain text (ASCII, no quote, comment, bracket, dollar or backslash) is tokenized
by one ``findall``; everything else by the full lexer. The judge visits only the
words it can act on. Both must give exactly what the full reading gives: the
tests compare them on generated text, then check attacks that must still be
caught and benign shapes that must still pass.
"""

from __future__ import annotations

import random
import re

import pytest

from agent_os.policies.analysis._normalise import strip_sql_comments
from agent_os.policies.analysis._sql import _analyse, analyse_sql
from agent_os.policies.analysis._sql_judge import _NOT_COLUMN, _QUALIFIED, _STATEMENTS, Judge
from agent_os.policies.analysis._sql_tokens import Tokens, lex, plain, tokenize

_PIECES = [
    *"aAeEzZ_nN09 \t\n\x1c\x0b.,;:?@#-+*/()=!%^&|<>~{}",
    "DELETE", "delete", "FROM", "drop", "TABLE", "update", "SET", "WHERE", "where", "id",
    "1e5", "1E5", "2.5", "x1", " from ", "grant", "to", "set role", "shutdown", "exec",
    "xp_cmdshell", "mysql.user", "pg_read_file(", "user$", "copy", "into", "alter", "'",
    '"', "`", "[", "]", "$", "$$", "\\", "--", "/*", "*/", "/*!", "é", "\u00a0",
]  # fmt: skip


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(_PIECES, k=rng.randint(0, 40))) for _ in range(count)]


def test_plain_tokens_are_the_full_lexers() -> None:
    checked = 0
    for text in _texts(40_000, 1):
        assert tokenize(text) == lex(text), text
        checked += plain(text)
    assert checked > 5_000  # the generator reaches the fast path often


@pytest.mark.parametrize(
    "text",
    [
        "SELECT a FROM t -- DROP TABLE t",  # a comment
        "SELECT a /* DELETE FROM t */ FROM t",
        "SELECT [drop] FROM t",  # a bracketed name
        "SELECT $$DROP TABLE t$$",  # dollar quotes
        "SELECT 'a\\'; DROP TABLE t; --'",  # a backslash reading
        "SELECT 1E5 FROM t",  # an upper-case exponent
        "SELECT é FROM t",  # not ASCII
    ],
)
def test_text_the_fast_path_cannot_read_goes_to_the_full_lexer(text: str) -> None:
    assert not plain(text)


_ONE_COMMENT = re.compile(r"/\*(?!!)[\s\S]*?(?:\*/|\Z)|--[^\n]*")
_ONE_MARK = re.compile(r"/\*!\d*|\*/")


def _comment_by_comment(text: str) -> str:
    """Comments removed one match at a time (the reference for runs of comments)."""
    text = _ONE_COMMENT.sub("", text)
    return _ONE_MARK.sub("", text) if "/*!" in text else text


def test_runs_of_comments_are_removed_as_comment_by_comment() -> None:
    rng = random.Random(5)
    pieces = ["/*", "*/", "/**/", "--", "-", "/", "*", "!", "1", "\n", "a", " ", "/*!", "/*!5"]
    for _ in range(50_000):
        text = "".join(rng.choices(pieces, k=rng.randint(0, 16)))
        assert strip_sql_comments(text) == _comment_by_comment(text), text


@pytest.mark.parametrize(
    "text",
    [
        "DR/**/OP TABLE t",
        "/* a /**/ DROP TABLE t",  # the first */ ends the comment
        "/*/**/ DROP TABLE t",
        "SELECT 1 /**//**/--x\n; DROP TABLE t",
        "SELECT 1 " + "/**/" * 1_000 + "; DROP TABLE t",
    ],
)
def test_comments_do_not_hide_a_statement(text: str) -> None:
    assert "sql:drop" in dict(analyse_sql(text, sql_action=True))


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 'DROP TABLE t'",  # a literal
        "SELECT N'It''s' , E'x', U&'d0061', X'FF'",
        'SELECT "DROP" FROM t',  # quoted names
        "SELECT `delete` FROM t",
        "SELECT \"it's\" FROM t WHERE a = 'unclosed",
        "DELETE FROM customers WHERE name = 'O''Brien'; -" + "- no",
    ],
)
def test_literals_and_quoted_names_are_read_in_c_time_as_the_full_lexer_reads_them(
    text: str,
) -> None:
    assert plain(text) == ("--" not in text)
    assert tokenize(text) == lex(text)


class _EveryToken(Judge):
    """The judge as it read before: a step for every token (the reference)."""

    def run(self) -> None:
        tokens = list(zip(self.kinds, self.values, strict=True))
        at_start = True
        for i, (kind, value) in enumerate(tokens):
            if kind == "p" and value == ";":
                at_start = True
                self.start = i + 1
                continue
            if kind == "w":
                prev = tokens[i - 1] if i else ("", "")
                if prev != ("p", ".") or value in _QUALIFIED:
                    self.keyword(i, value, prev[1] if prev[0] == "w" else "", at_start)
            elif kind == "q" and value.lower().rsplit(".", 1)[-1] == "xp_cmdshell":
                self.flag("sql:command-exec", i)
            at_start = False


class _Scanning(_EveryToken):
    """The judge's look-ahead as it read before: a scan per keyword (the reference)."""

    def end_of_statement(self, i: int, stop_words: frozenset[str] = _STATEMENTS) -> int:
        depth = 0
        j = i + 1
        while j < len(self.kinds):
            kind, value = self.kinds[j], self.values[j]
            if kind == "p":
                if value == ";" and depth == 0:
                    return j
                if value == "(":
                    depth += 1
                elif value == ")":
                    depth = max(0, depth - 1)
            elif kind == "w" and depth == 0 and value in stop_words:
                return j
            j += 1
        return j

    def has_word(self, start: int, end: int, *words: str) -> int:
        for j in range(start, min(end, len(self.kinds))):
            if self.kinds[j] == "w" and self.values[j] in words:
                return j
        return -1

    def names_column(self, start: int, end: int) -> bool:
        return any(
            kind == "q" or (kind == "w" and value not in _NOT_COLUMN)
            for kind, value in zip(self.kinds[start:end], self.values[start:end], strict=True)
        )

    def copy(self, i: int, prev: str, at_start: bool) -> None:
        if not at_start:
            return
        end = self.end_of_statement(i, frozenset())
        if self.has_word(i + 1, end, "program") >= 0:
            self.flag("sql:command-exec", i)
            return
        for j in range(i + 1, min(end, len(self.kinds) - 1)):
            word = self.word(j)
            following = self.kind(j + 1)
            if (word in ("to", "from") and following == "s") or (
                word == "into" and following in ("s", "v")
            ):
                self.flag("sql:file-access", i)
                return


_STATEMENT_PIECES = [
    "UPDATE t SET a = 1", "WHERE", "where 1 = 1", "AND", "b", "(", ")", "((", "))", ";", " ",
    "GRANT SELECT ON t TO u", "REVOKE ALL ON t FROM u", "grant", "to", "from", "into", "'f'",
    "@s", "COPY t", "COPY t TO 'x'", "PROGRAM", "CREATE FUNCTION f()", "LANGUAGE plpythonu",
    "language", "DROP TABLE t", "ALTER TABLE t", "drop", "alter", "DELETE FROM t", "select",
    "set", "insert", "EXEC('DR' + 'OP TABLE t')", "exec(", "null", "true", "\"c\"", ",",
    "MERGE INTO t", "WHEN MATCHED THEN UPDATE SET", "then", "delete", "1",
]  # fmt: skip


def test_the_look_ahead_finds_what_a_scan_per_keyword_finds() -> None:
    rng = random.Random(4)
    flagged = 0
    for _ in range(20_000):
        text = " ".join(rng.choices(_STATEMENT_PIECES, k=rng.randint(1, 24)))
        tokens = lex(text)
        for sql in (True, False):
            want = _findings(_Scanning, tokens, sql)
            assert _findings(Judge, tokens, sql) == want, (text, sql)
            flagged += bool(want)
    assert flagged > 10_000


def _findings(judge: type[Judge], tokens: Tokens, sql: bool) -> list[tuple[str, str]]:
    findings: dict[str, str] = {}
    judge(tokens, sql, 0, findings, _analyse).run()
    return list(findings.items())


def test_the_keyword_walk_finds_what_every_token_walk_finds() -> None:
    flagged = 0
    for text in _texts(20_000, 2):
        tokens = lex(text)
        for sql in (True, False):
            want = _findings(_EveryToken, tokens, sql)
            assert _findings(Judge, tokens, sql) == want, (text, sql)
            flagged += bool(want)
    assert flagged > 2_000


_PROSE = " Two vendors changed their bank details this quarter; please review the totals."


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("DELETE FROM customers" + _PROSE * 10, "sql:delete"),
        ("delete from customers", "sql:delete"),
        ("SELECT 1; DELETE FROM t", "sql:delete"),  # a second statement
        ("SELECT 1;DELETE FROM t" + _PROSE * 5, "sql:delete"),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone", "sql:delete"),
        ("WITH x AS (SELECT 1) DELETE FROM t", "sql:delete"),
        ("DEL/**/ETE FROM t", "sql:delete"),  # a comment inside the keyword
        ("SELECT 1 -- harmless\nDELETE FROM t", "sql:delete"),  # after a line comment
        ("SELECT '1';DROP TABLE t", "sql:drop"),
        ("SELECT 'a\\'; DROP TABLE t; --'", "sql:drop"),  # MySQL's reading of the literal
        ("SELECT `a`; DROP TABLE t", "sql:drop"),
        ("SELECT [a]; DROP TABLE t", "sql:drop"),
        ("SELECT $$x$$; DROP TABLE t", "sql:drop"),
        ("/*!50000 DROP TABLE t */", "sql:drop"),  # MySQL runs an executable comment
        ("UPDATE t SET a = 1" + _PROSE, "sql:update-all-rows"),
        ("UPDATE t SET a = 1 WHERE 1 = 1", "sql:update-all-rows"),
        ("SELECT 1; SET ROLE admin", "sql:privilege"),
        ("SELECT 1;shutdown", "sql:shutdown"),
        ("GRANT ALL ON t TO bob", "sql:privilege"),
        ("SELECT authentication_string FROM mysql.user", "sql:credential-read"),
        ("SELECT pg_catalog.pg_read_file('/etc/passwd')", "sql:file-access"),
        ("EXEC master..xp_cmdshell 'dir'", "sql:command-exec"),
        ("EXEC('DR' + 'OP TABLE t')", "sql:drop"),
        ("EXECUTE IMMEDIATE :stmt", "sql:dynamic"),
        ("TRUNCATE TABLE t", "sql:truncate"),
        ("DELETE FROM t WHERE a = 1E5", "sql:delete"),
        ("\uff24\uff25\uff2c\uff25\uff34\uff25 FROM t", "sql:delete"),  # full-width letters
        ("COPY t TO '/tmp/f'", "sql:file-access"),
        ("COPY INTO @stage FROM t", "sql:file-access"),
        ("SELECT 1; COPY t (a, b) FROM STDIN; COPY t TO '/tmp/f'", "sql:file-access"),
        ("COPY t FROM PROGRAM 'id'", "sql:command-exec"),
        ("UPDATE t SET a = (" * 300, "sql:update-all-rows"),  # nested, never closed
        ("DROP TABLE a, " * 400 + "; ALTER TABLE t DROP COLUMN c", "sql:alter-drop"),
    ],
)
def test_attacks_are_still_caught(text: str, check: str) -> None:
    assert check in dict(analyse_sql(text, sql_action=True))


@pytest.mark.parametrize(
    "text",
    [
        "DELETE FROM customers;" + _PROSE * 10,
        "SELECT 1; DELETE FROM t WHERE id = 5",
        "UPDATE t SET a = 1",
        "GRANT SELECT ON t TO bob",
    ],
)
def test_shapes_prose_must_not_hide_outside_certain_sql(text: str) -> None:
    assert analyse_sql(text, sql_action=False)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id, total FROM orders WHERE total > 100",
        "SELECT id FROM t WHERE a = :a AND b = ? AND c = @c",
        "SELECT 'DROP TABLE t' AS note",
        "SELECT a FROM t -- DELETE FROM t",
        "UPDATE t SET a = 1 WHERE id = 5",
        "INSERT INTO t (a) VALUES (1); SELECT a FROM t",
        "SELECT * FROM t ORDER BY 2.5E3",
        "CREATE TABLE t (id INT REFERENCES u ON DELETE CASCADE)",
        "Please update the doc: delete stale notes, drop the old plan and grant access.",
        "COPY t FROM STDIN",
        "COPY (SELECT 1) TO STDOUT WITH (FORMAT csv); SELECT 'to'",
        "UPDATE t SET a = (SELECT b FROM u) WHERE id = 1",
    ],
)
def test_benign_shapes_still_pass(text: str) -> None:
    assert analyse_sql(text, sql_action="Please" not in text) == []
