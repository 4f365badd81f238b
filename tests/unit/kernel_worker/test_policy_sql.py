"""Structural SQL analysis (_sql): findings, literals as data, prose, budget, and the gate."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os.policies.analysis._sql import _analyse, analyse_sql, sql_gate


def checks(text: str, *, sql_action: bool = True) -> set[str]:
    return {check for check, _ in analyse_sql(text, sql_action=sql_action)}


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("SELECT 1; DROP TABLE t", "sql:drop"),
        ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "sql:delete"),
        ("DELETE users WHERE id = 1", "sql:delete"),
        ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "sql:delete"),
        ("TRUNCATE t", "sql:truncate"),
        ("ALTER TABLE t DROP COLUMN c", "sql:alter-drop"),
        ("UPDATE t SET a = 1", "sql:update-all-rows"),
        ("UPDATE t SET a = 1 WHERE 1 = 1", "sql:update-all-rows"),
        ("CREATE OR REPLACE TABLE t AS SELECT 1", "sql:overwrite"),
        ("INSERT OVERWRITE TABLE t SELECT 1", "sql:overwrite"),
        ("EXEC('DR' + 'OP TABLE t')", "sql:drop"),
        ("EXECUTE IMMEDIATE 'DR' || 'OP TABLE t'", "sql:drop"),
        ("EXECUTE sp_executesql N'DR' + N'OP TABLE t'", "sql:drop"),
        ("EXEC(@s)", "sql:dynamic"),
        ("EXECUTE IMMEDIATE v_sql", "sql:dynamic"),
        ("PREPARE st FROM @s", "sql:dynamic"),
        ("EXEC sp_executesql @sql", "sql:dynamic"),
        ("DO $$ BEGIN NULL; END $$", "sql:dynamic"),
        ("EXEC xp_cmdshell 'dir'", "sql:command-exec"),
        ("COPY t TO PROGRAM 'gzip'", "sql:command-exec"),
        ("SELECT 'a'DELETE FROM t", "sql:delete"),
        ("\uff24\uff25\uff2c\uff25\uff34\uff25 users WHERE id = 1", "sql:delete"),
        ("DEL\u200bETE users WHERE id = 1", "sql:delete"),
        ("DROP TABLEE users (((", "sql:drop"),
        ("DROP WAREHOUSE IF EXISTS analytics_wh", "sql:drop"),
        ("GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO PUBLIC", "sql:privilege"),
        ("GRANT SELECT ON t TO analyst WITH GRANT OPTION", "sql:privilege"),
        ("REVOKE CONNECT ON DATABASE prod FROM app_user", "sql:privilege"),
        ("CREATE USER backdoor WITH SUPERUSER PASSWORD 'x'", "sql:privilege"),
        ("ALTER ROLE reporting WITH SUPERUSER", "sql:privilege"),
        ("SET ROLE postgres", "sql:privilege"),
        ("SET SESSION AUTHORIZATION postgres", "sql:privilege"),
        ("USE ROLE ACCOUNTADMIN", "sql:privilege"),
        ("EXEC sp_addsrvrolemember 'me', 'sysadmin'", "sql:privilege"),
        ("COPY users TO '/tmp/users.csv'", "sql:file-access"),
        ("COPY cmd_out FROM PROGRAM 'id'", "sql:command-exec"),
        ("SELECT * FROM t INTO OUTFILE '/tmp/t.csv'", "sql:file-access"),
        ("SELECT pg_read_file('/etc/passwd')", "sql:file-access"),
        ("LOAD DATA INFILE '/etc/shadow' INTO TABLE t", "sql:file-access"),
        ("COPY INTO 's3://bucket/dump/' FROM customers", "sql:file-access"),
        ("SELECT 'a\\'; DROP TABLE t; --'", "sql:drop"),
        ("SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)", "sql:server-network"),
        ("EXEC sp_OACreate 'WScript.Shell', @o OUT", "sql:command-exec"),
        (
            "CREATE FUNCTION f() RETURNS void AS $$ import os $$ LANGUAGE plpython3u",
            "sql:command-exec",
        ),
        ("DO $body$ BEGIN DELETE FROM t; END $body$", "sql:delete"),
    ],
)
def test_destructive_sql_is_found(text: str, check: str) -> None:
    assert check in checks(text)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT id FROM users WHERE deleted_at IS NULL",
        "SELECT drop_rate, update_count FROM metrics",
        "UPDATE t SET a = 1 WHERE id = 3",
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        "EXEC dbo.GetReport @year = 2024",
        "EXECUTE IMMEDIATE 'SELECT 1'",
        "SELECT * FROM t WHERE a = 'DROP TABLE x'",
        "SELECT REPLACE(name, 'a', 'b') FROM users",
        "ALTER TABLE users ADD COLUMN nickname text",
        "SELECT count(*) FROM audit_log WHERE action = 'DROP TABLE'",
        "SELECT 'GRANT ALL ON t TO PUBLIC' AS example",
        "SHOW GRANTS FOR CURRENT_USER",
        "SELECT rolname, rolsuper FROM pg_roles",
        "COPY t TO STDOUT",
        "COPY INTO orders FROM @raw_stage",
        "INSERT INTO notes (body) VALUES ('DROP TABLE tmp after the migration')",
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.v = s.v",
        "SELECT * FROM t FOR UPDATE",
        "CREATE FUNCTION add1(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$",
        "SELECT language, http_get FROM settings",
    ],
)
def test_harmless_sql_is_not_flagged(text: str) -> None:
    assert checks(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "delete git branch",
        "update python version",
        "drop shipping suppliers",
        "do you know",
        "can someone grant me read access to the dashboard",
        "cache.delete('k')",
    ],
)
def test_prose_in_a_query_field_is_not_sql(text: str) -> None:
    assert checks(text, sql_action=False) == set()
    if "grant me" not in text and "cache." not in text:
        assert checks(text) != set()  # the same text as a sql action fails closed


def test_unreadable_text_fails_closed_only_in_sql_actions() -> None:
    assert checks("how do I delete a file?") != set()
    assert checks("update the report") == {"sql:unparseable"}
    assert checks("how do I delete a file?", sql_action=False) == set()


def test_oversized_sql_is_judged_by_regex_and_sent_for_review() -> None:
    text = "SELECT 1; " * 4000 + "DELETE FROM t"
    assert checks(text) == {"sql:delete", "sql:too-complex"}
    assert checks(text, sql_action=False) == {"sql:delete", "sql:too-complex"}
    assert checks("SELECT 1; " * 4000 + "UPDATE t SET a = 1 WHERE id = 2") == {"sql:too-complex"}


def test_a_comment_glued_inside_a_keyword_is_read_both_ways() -> None:
    assert checks("DR/**/OP TABLE t") == {"sql:drop"}
    assert checks("SELECT 1 /* DROP TABLE t */") == set()


def test_gate_lets_plain_text_through_without_parsing() -> None:
    assert not sql_gate("quarterly revenue by region 2024")
    assert not sql_gate("SELECT deleted_at, drop_rate FROM x")
    assert sql_gate("DEL/**/ETE FROM t")
    assert sql_gate("'x'DELETE FROM t")
    assert sql_gate("/* hi */ DO $$ $$")


_PIECES = st.sampled_from(
    [
        "DELETE", "delete", "DROP", "TABLE", "TRUNCATE", "UPDATE", "SET", "a", "=", "1", "WHERE",
        "FROM", "t", "users", "EXEC", "(", ")", "'x'", "'DR'", "+", "'OP TABLE t'", ";", "--",
        "/*", "*/", "\n", " ", "", "_at", "1", "\u200b", "\uff24\uff25\uff2c\uff25\uff34\uff25",
        "MERGE", "INTO", "USING", "s", "ON", "WHEN", "MATCHED", "THEN", "DO", "$$", "PREPARE",
        "@q", "WITH", "x", "AS", "RETURNING", "*", "ALTER", "COLUMN", "c", '"', "[", "]",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, min_size=1, max_size=10).map("".join))
def test_gate_is_a_superset_of_the_parser(text: str) -> None:
    """Whatever the parser flags, the cheap gate must have let through."""
    for sql_action in (False, True):
        found = {c for c, _ in _analyse(text, sql_action, 0)} - {"sql:unparseable"}
        if found:
            assert sql_gate(text), (text, found)
