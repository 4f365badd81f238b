"""Tool classification and field meanings (policies/_classify, _fields, _shapes, _catalogue)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os.policies import _classify as classify_module
from agent_os.policies._catalogue import CATALOGUE, KINDS, MEANINGS, tool_key
from agent_os.policies._classify import (
    Classification,
    classify,
    command_text,
    field_texts,
    read_fields,
)
from agent_os.policies._read import WORK
from agent_os.policies._shapes import shape


def kinds(tool: str, args: object = None, hints: dict[str, Any] | None = None) -> tuple[str, ...]:
    return classify(tool, {} if args is None else args, hints).kinds


# -- the catalogue --------------------------------------------------------------------------


def test_catalogue_entries_name_known_kinds_and_meanings() -> None:
    assert len(CATALOGUE) >= 150
    for key, spec in CATALOGUE.items():
        assert key == tool_key(key), key
        assert spec.kinds and set(spec.kinds) <= set(KINDS), key
        assert set(spec.fields.values()) <= set(MEANINGS), key
        assert spec.primary in MEANINGS, key
        for op_kinds in spec.op_kinds.values():
            assert set(op_kinds) <= set(KINDS), key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # CrewAI's own sanitiser gives the same spellings (camelCase split, quotes dropped).
        ("File Writer Tool", "file_writer_tool"),
        ("Read a file's content", "read_a_files_content"),
        ("FileWriterTool", "file_writer_tool"),
        ("QuerySQLDataBaseTool", "query_sql_data_base_tool"),
        ("Python_REPL", "python_repl"),
        ("writeFile", "write_file"),
        ("run-command", "run_command"),
        ("\uff57\uff52\uff49\uff54\uff45_\uff46\uff49\uff4c\uff45", "write_file"),  # full-width
        ("", ""),
    ],
)
def test_tool_key(name: str, key: str) -> None:
    assert tool_key(name) == key


@pytest.mark.parametrize(
    ("tool", "hints", "want"),
    [
        ("terminal", None, ("shell_exec",)),
        ("Python_REPL", None, ("code_exec",)),
        ("python_repl_ast", None, ("code_exec",)),
        ("sql_db_query", None, ("sql",)),
        ("requests_post", None, ("http_request",)),
        ("duckduckgo_search", None, ("web_search",)),
        ("list_directory", None, ("file_read",)),
        ("move_file", None, ("file_write", "file_delete")),
        ("Read website content", {"class": "ScrapeWebsiteTool"}, ("http_request",)),
        ("custom name", {"class": "FileWriterTool"}, ("file_write",)),
        ("mcp__filesystem__edit_file", None, ("file_modify",)),
        ("filesystem.read_text_file", None, ("file_read",)),
        ("files_write_file", {"server": "files"}, ("file_write",)),
        ("git_reset", None, ("file_modify",)),
        ("local_shell", None, ("shell_exec",)),
    ],
)
def test_catalogue_hits(tool: str, hints: dict[str, Any] | None, want: tuple[str, ...]) -> None:
    found = classify(tool, {}, hints)
    assert found.kinds == want
    assert found.source == "catalogue"


def test_a_class_hint_beats_the_name() -> None:
    # A renamed ShellTool is still a shell.
    found = classify("helpful_assistant", {"commands": ["ls"]}, {"class": "ShellTool"})
    assert (found.kinds, found.source) == (("shell_exec",), "catalogue")


def test_an_op_argument_picks_the_kinds() -> None:
    editor = "str_replace_based_edit_tool"
    assert kinds(editor, {"command": "view", "path": "a"}) == ("file_read",)
    assert kinds(editor, {"command": "create", "path": "a"}) == ("file_write",)
    assert kinds(editor, {"command": "str_replace", "path": "a"}) == ("file_modify",)
    # An unknown or missing operation takes every kind the tool can have (fail closed).
    assert set(kinds(editor, {"command": "explode", "path": "a"})) == {"file_write", "file_modify"}
    assert set(kinds(editor, {"path": "a"})) == {"file_write", "file_modify"}
    assert kinds("apply_patch", {"operation": {"type": "delete_file", "path": "a"}}) == (
        "file_delete",
    )


# -- sources in order --------------------------------------------------------------------------


def test_a_declaration_comes_first() -> None:
    found = classify("helper", {"target": "a.txt"}, {"action": "file_read"})
    assert (found.kinds, found.source) == (("file_read",), "declared")
    # A declaration adds kinds first but never drops what the catalogue or name say.
    found = classify("terminal", {"commands": ["ls"]}, {"action": "file_read"})
    assert (found.kinds, found.source) == (("file_read", "shell_exec"), "declared")
    assert found.fields["commands"] == "command"
    assert kinds("delete_file", {"file_path": "a"}, {"action": "file_read"}) == (
        "file_read",
        "file_delete",
    )
    assert classify("", {"a": 1}, {"action": ["file_write", "http_request"]}).kinds == (
        "file_write",
        "http_request",
    )
    # "tool_call" declares nothing.
    assert classify("terminal", {}, {"action": "tool_call"}).source == "catalogue"


@pytest.mark.parametrize(
    ("tool", "want"),
    [
        ("file_write", ("file_write",)),
        ("delete_file_now", ("file_delete",)),
        ("removeFile", ("file_delete",)),
        ("writefile", ("file_write",)),
        ("deletefolder", ("file_delete",)),
        ("rename-file", ("file_write", "file_delete")),
        ("duplicate_file", ("file_read", "file_write")),
        ("patchFile", ("file_modify",)),
        ("runShellCmd", ("shell_exec",)),
        ("exec", ("shell_exec",)),
        ("run_script", ("shell_exec",)),
        ("execute_python", ("code_exec",)),
        ("code_executor", ("code_exec",)),
        ("jupyter", ("code_exec",)),
        ("exec-sql", ("sql",)),
        ("run_query", ("sql",)),
        ("db", ("sql",)),
        ("snowflake_tool", ("sql",)),
        ("http_get", ("http_request",)),
        ("download_file", ("http_request", "file_write")),
        ("search_news", ("web_search",)),
        ("send_slack_message", ("message_send",)),
        ("kubectl_delete", ("shell_exec",)),
        ("docker-run", ("shell_exec",)),
        ("terraformApply", ("shell_exec",)),
        ("git", ("shell_exec",)),
    ],
)
def test_the_name(tool: str, want: tuple[str, ...]) -> None:
    found = classify(tool, {})
    assert set(found.kinds) == set(want), found
    assert found.source == "name"


@pytest.mark.parametrize(
    "tool",
    ["get_weather", "search_code_review", "format_code", "summarize", "query", "write_email"],
)
def test_names_that_say_nothing_dangerous(tool: str) -> None:
    assert not set(kinds(tool)) & {"shell_exec", "code_exec", "file_write", "file_delete"}


def test_a_bare_verb_is_a_file_operation_only_beside_a_path() -> None:
    assert kinds("delete", {"id": 7}) == ()
    assert kinds("delete", {"path": "/tmp/x"}) == ("file_delete",)
    assert kinds("write", {"path": "a", "content": "b"}) == ("file_write",)


def test_a_file_tool_without_a_verb_reads_its_operation() -> None:
    assert kinds("file_manager", {"operation": "delete", "path": "a"}) == ("file_delete",)
    assert kinds("filesystem", {"action": "read", "path": "a"}) == ("file_read",)


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ({"command": "kubectl delete namespace prod"}, ("shell_exec",)),
        ({"cmd": "git status"}, ("shell_exec",)),
        ({"commands": ["ls", "pwd"]}, ("shell_exec",)),
        ({"query": "DELETE FROM users WHERE id = 1"}, ("sql",)),
        ({"sql": "select 1"}, ("sql",)),
        ({"url": "https://example.com"}, ("http_request",)),
        ({"target": "http://10.0.0.1/"}, ("http_request",)),
        ({"path": "a.txt", "content": "x"}, ("file_write",)),
        ({"path": "a.txt", "old_string": "x", "new_string": "y"}, ("file_modify",)),
        # Not a command line, not SQL: no kind.
        ({"command": "turn on the lights"}, ()),
        ({"query": "cache.delete('k')"}, ()),
        ({"query": "how do I delete a git branch"}, ()),
        ({"path": "/etc/hosts"}, ()),
    ],
)
def test_argument_shapes(args: dict[str, Any], want: tuple[str, ...]) -> None:
    found = classify("do_it", args)
    assert found.kinds == want
    assert found.source == ("args" if want else "none")


def test_annotations_classify_only_what_nothing_else_does() -> None:
    destructive = {"annotations": {"destructiveHint": True}}
    read_only = {"annotations": {"readOnlyHint": True}}
    assert classify("warm_cache", {}, destructive).kinds == ("file_write",)
    assert classify("warm_cache", {}, destructive).source == "declared"
    # MCP: a tool that is not read-only is destructive unless it says otherwise.
    assert kinds("warm_cache", {}, {"annotations": {"readOnlyHint": False}}) == ("file_write",)
    assert kinds("warm_cache", {}, {"readOnlyHint": False, "destructiveHint": False}) == ()
    assert kinds("get_forecast", {}, read_only) == ("file_read",)
    # Hints come from the agent's side: they never relax what the name or arguments say.
    assert kinds("delete_file", {"path": "a"}, read_only) == ("file_delete",)
    assert kinds("do_it", {"command": "rm -rf /"}, read_only) == ("shell_exec",)


def test_a_name_that_destroys_or_stops_a_resource_is_a_deletion_or_a_change() -> None:
    for tool in (
        "delete_project",
        "drop-database",
        "r2_bucket_delete",
        "delete-many",
        "d1_database_delete",
        "DeleteIndex",
        "terminate_instances",
        "purge_queue",
    ):
        assert kinds(tool, {"name": "prod"}) == ("file_delete",), tool
    for tool in ("cancel_subscription", "pause_project", "revoke_token"):
        assert kinds(tool, {"id": "x"}) == ("file_modify",), tool
    # Reads that name what was deleted, and names without such a verb, stay as they were.
    for tool in (
        "list_deleted_items",
        "get_cancelled_orders",
        "describe_drop_policy",
        "get_weather",
        "create_issue",
    ):
        assert "file_delete" not in kinds(tool, {"id": "x"}), tool
    # A path still makes a bare verb a file operation.
    assert kinds("delete", {"path": "/srv/a.txt"}) == ("file_delete",)
    # remove / stop / archive count with an object they destroy or stop; who may act
    # on something is a change too.
    assert kinds("remove_container", {"id": "x"}) == ("file_delete",)
    for tool in (
        "stop_container",
        "slack_archive_channel",
        "add_collaborator",
        "update_member_role",
        "update_branch_protection",
    ):
        assert kinds(tool, {"id": "x"}) == ("file_modify",), tool
    for tool in (
        "remove_background",
        "stop_recording",
        "remove_stopwords",
        "get_member_role",
        "list_collaborators",
    ):
        assert kinds(tool, {"id": "x"}) == (), tool


def test_unnamed_text_handed_to_a_model_is_prose() -> None:
    args = {"document": "Cleanup: DELETE FROM sessions WHERE expires_at < now();", "n": 80}
    found = classify("summarize_document", args)
    assert found.kinds == ("message_send",)
    assert read_fields(args, found) == {"prose": [args["document"]]}


def test_nothing_classifies() -> None:
    found = classify("get_weather", {"city": "Berlin"})
    assert found == Classification((), "none", {})


# -- field meanings ---------------------------------------------------------------------------


def test_every_string_lands_in_exactly_one_meaning() -> None:
    args = {
        "query": "weather in berlin",
        "path": "/srv/a.txt",
        "url": "https://example.com",
        "nested": {"sql": "SELECT 1", "notes": ["a note here", "x"]},
        "count": 3,
    }
    found = classify("custom", args)
    read = read_fields(args, found)
    assert set(read) <= set(MEANINGS)
    assert sorted(t for texts in read.values() for t in texts) == sorted(
        ["weather in berlin", "/srv/a.txt", "https://example.com", "SELECT 1", "a note here", "x"]
    )
    assert read["path"] == ["/srv/a.txt"]
    assert read["url"] == ["https://example.com"]
    assert read["sql"] == ["SELECT 1"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "b", "text", "value", "name"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


@settings(max_examples=200, deadline=None)
@given(
    args=json_values, tool=st.sampled_from(["custom", "web_search", "write_file", "sql_db_query"])
)
def test_read_fields_loses_no_string(args: object, tool: str) -> None:
    found = classify(tool, args)
    read = read_fields(args, found)
    got = sorted(t for texts in read.values() for t in texts)
    # No argv or command-list joins (no command fields) and no JSON objects here,
    # so every string comes out exactly once, under a meaning.
    if not any(s.lstrip().startswith("{") for s in _strings(args)):
        assert got == sorted(_strings(args))
    assert set(read) <= set(MEANINGS)
    assert sorted(t for _, _, t in field_texts(args, found)) == got


@pytest.mark.parametrize(
    ("tool", "args", "meaning"),
    [
        # A search query is prose however dangerous it sounds.
        ("tavily_search_results_json", {"query": "DROP TABLE users"}, "prose"),
        ("duckduckgo_search", {"query": "rm -rf / meaning"}, "prose"),
        ("Search the internet with Serper", {"search_query": "curl x | sh"}, "prose"),
        # A SQL tool's query is SQL, a REPL's query is code.
        ("sql_db_query", {"query": "SELECT 1"}, "sql"),
        ("python_repl_ast", {"query": "df.head()"}, "code"),
        # A writer's content is data, its path a path.
        ("write_file", {"text": "rm -rf /"}, "data"),
        ("File Writer Tool", {"filename": "a.txt"}, "path"),
        ("Read website content", {"website_url": "https://example.com"}, "url"),
        # Names that say what they hold, in any case or spelling.
        ("custom", {"File-Path": "x"}, "path"),
        ("custom", {"websiteUrl": "https://x.org"}, "url"),
        ("custom", {"expression": "eval (user_input)"}, "code"),
        # Compound names take the role their last word says.
        ("custom", {"config_path": "x"}, "path"),
        ("custom", {"outputDir": "x"}, "path"),
        ("custom", {"callback_url": "https://x.org"}, "url"),
        ("custom", {"zip_code": "10115"}, "data"),
        ("custom", {"prompt": "DROP TABLE users"}, "prose"),
    ],
)
def test_field_meaning(tool: str, args: dict[str, Any], meaning: str) -> None:
    read = read_fields(args, classify(tool, args))
    assert list(read) == [meaning], read


def test_unnamed_single_input_takes_the_tools_primary_meaning() -> None:
    for args in ({"__arg1": "ls -la"}, {"tool_input": "ls -la"}, "ls -la"):
        assert read_fields(args, classify("terminal", args)) == {"command": ["ls -la"]}
    assert read_fields("https://a.b/", classify("requests_get", "https://a.b/")) == {
        "url": ["https://a.b/"]
    }


def test_typed_actions_read_every_string_as_their_kind() -> None:
    shell = classify(
        "", {"command": "ls", "script": "echo hi", "cwd": "/tmp"}, {"action": "shell_exec"}
    )
    read = read_fields({"command": "ls", "script": "echo hi", "cwd": "/tmp"}, shell)
    assert read == {"command": ["ls", "echo hi"], "path": ["/tmp"]}
    sql = classify("", {"statement": "DROP TABLE t", "database": "prod"}, {"action": "sql"})
    assert read_fields({"statement": "DROP TABLE t", "database": "prod"}, sql) == {
        "sql": ["DROP TABLE t"],
        "data": ["prod"],
    }
    # code_exec in a shell language is shell text.
    args = {"code": "rm -rf /", "language": "bash"}
    assert read_fields(args, classify("", args, {"action": "code_exec"}))["command"] == ["rm -rf /"]
    args = {"code": "print(1)", "language": "python"}
    assert read_fields(args, classify("", args, {"action": "code_exec"}))["code"] == ["print(1)"]


def test_typed_shell_exec_and_the_terminal_tool_read_the_same_command() -> None:
    typed = command_text(
        {"command": "rm -rf /"}, classify("", {"command": "rm -rf /"}, {"action": "shell_exec"})
    )
    tool = command_text(
        {"commands": ["rm -rf /"]}, classify("terminal", {"commands": ["rm -rf /"]})
    )
    assert typed == tool == ["rm -rf /"]


@pytest.mark.parametrize(
    ("tool", "args", "want"),
    [
        ("run_command", {"command": "rm", "args": ["-rf", "/"]}, ["rm -rf /"]),
        ("custom", {"command": "rm", "args": ["-rf", "/"]}, ["rm -rf /"]),
        ("custom", {"cmd": "git", "arguments": "push --force"}, ["git push --force"]),
        ("shell_execute", {"command": ["bash", "-c", "rm -rf ~"]}, ['bash -c "rm -rf ~"']),
        ("terminal", {"commands": ["cd /", "rm -rf *"]}, ["cd /\nrm -rf *"]),
        ("terminal", {"commands": "ls"}, ["ls"]),
        (
            "local_shell",
            {"action": {"type": "exec", "command": ["sh", "-c", 'echo "$(id)"']}},
            ['sh -c "echo \\"$(id)\\""'],
        ),
        ("custom", {"program": "ls", "params": ["-la", "/a b"]}, ['ls -la "/a b"']),
    ],
)
def test_command_text_joins_argv(tool: str, args: dict[str, Any], want: list[str]) -> None:
    assert command_text(args, classify(tool, args)) == want


def test_json_text_in_a_data_field_is_read_field_by_field() -> None:
    args = {"text": '{"url": "http://169.254.169.254/latest/api/token", "data": {"ttl": 1}}'}
    read = read_fields(args, classify("requests_post", args))
    assert read["url"] == ["http://169.254.169.254/latest/api/token"]
    hidden = {"payload": '{"command": "rm -rf /"}'}
    assert read_fields(hidden, classify("custom", hidden))["command"] == ["rm -rf /"]


def test_field_texts_tell_which_field_was_read_as_what() -> None:
    args = {"action": {"command": ["ls"], "working_directory": "/tmp"}}
    assert sorted(field_texts(args, classify("local_shell", args))) == [
        ("action.command", "command", "ls"),
        ("action.working_directory", "path", "/tmp"),
    ]
    keyed = {"os.system('id')": True}
    assert field_texts(keyed, classify("", keyed)) == [
        ("os.system('id')", "code", "os.system('id')")
    ]


def test_deep_nesting_is_refused() -> None:
    args: object = "x"
    for _ in range(70):
        args = {"a": args}
    with pytest.raises(ValueError, match="nested too deeply"):
        read_fields(args, classify("custom", args))


# -- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("DROP TABLE users", "sql"),
        ("select id, name from users", "sql"),
        ("x; DELETE FROM accounts", "sql"),
        ("UPDATE t SET a = 1", "sql"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "sql"),
        ("delete git branch", "prose"),
        ("update python version on ubuntu", "prose"),
        ("drop shipping suppliers europe", "prose"),
        ("cache.delete('k')", "data"),
        ("rm -rf /", "command"),
        ("sudo systemctl restart nginx", "command"),
        ("FOO=1 ./deploy.sh --prod", "command"),
        ("cd /tmp; rm x", "command"),
        ("$(curl -s x)", "command"),
        ("Explain what sudo rm -rf / would do.", "prose"),
        ("Shutdown procedures for the office are posted by the door.", "prose"),
        ("make sure the tests pass", "prose"),
        ("import os\nos.system('id')", "code"),
        ("__import__('os').popen('id')", "code"),
        ("The operating system (Linux) schedules the process.", "prose"),
        ('{"width": 200, "tags": ["a"]}', "data"),
        ("{ rm notes.txt; }", "command"),
        ("https://example.com/a", "url"),
        ("www.example.com", "url"),
        ("file:///etc/passwd", "path"),
        ("~/.ssh/authorized_keys", "path"),
        ("C:\\Windows\\System32", "path"),
        ("Berlin", "data"),
        ("weather in berlin", "prose"),
    ],
)
def test_shape(text: str, meaning: str) -> None:
    assert shape(text) == meaning


def test_a_bare_host_is_a_url_only_where_a_url_may_stand() -> None:
    assert shape("169.254.169.254", "shape") == "url"
    assert shape("169.254.169.254") == "data"
    assert read_fields(
        {"host": "metadata.internal"}, classify("x", {"host": "metadata.internal"})
    ) == {"url": ["metadata.internal"]}


# -- purity and caching ---------------------------------------------------------------------------


def test_classify_does_not_touch_its_arguments() -> None:
    args = {"commands": ["ls"], "nested": {"a": ["b"]}}
    hints = {"class": "ShellTool", "annotations": {"readOnlyHint": True}}
    classify("terminal", args, hints)
    read_fields(args, classify("terminal", args, hints))
    assert args == {"commands": ["ls"], "nested": {"a": ["b"]}}
    assert hints == {"class": "ShellTool", "annotations": {"readOnlyHint": True}}


def test_results_are_reused_when_no_value_was_looked_at() -> None:
    first = classify("read_file", {"file_path": "a"})
    assert classify("read_file", {"file_path": "b"}) is first
    # A value that decides the kinds is looked at every time.
    editor = "str_replace_based_edit_tool"
    assert (
        classify(editor, {"command": "view"}).kinds != classify(editor, {"command": "create"}).kinds
    )
    with pytest.raises(TypeError):
        first.fields["file_path"] = "url"  # type: ignore[index]
    # A field that needed its value (JSON text, a container) never leaves a result behind.
    assert kinds("cache_probe", {"query": '{"a": 1}'}) == ()
    assert kinds("cache_probe", {"query": "DELETE FROM t WHERE id = 1"}) == ("sql",)
    assert kinds("cache_probe", {"query": ["x"]}) == ()
    assert kinds("cache_probe", {"query": "DROP TABLE t"}) == ("sql",)
    assert kinds("cache_probe", {"command": "turn on the lights"}) == ()
    assert kinds("cache_probe", {"command": "rm -rf /"}) == ("shell_exec",)
    assert kinds("file_manager", {"operation": 5}) == ()
    assert kinds("file_manager", {"operation": "delete"}) == ("file_delete",)


def test_caches_are_bounded() -> None:
    for index in range(5000):
        classify(f"tool_{index}", {f"key_{index}": "v"})
    assert len(classify_module._BASES) <= 4096


hint_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.lists(
        st.text(max_size=8) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        max_size=3,
    )
)


@settings(max_examples=300, deadline=None)
@given(
    tool=st.text(max_size=30),
    args=json_values,
    hints=st.none()
    | st.dictionaries(
        st.sampled_from(["action", "class", "server", "annotations", "readOnlyHint"]),
        hint_values
        | st.dictionaries(st.sampled_from(["readOnlyHint", "destructiveHint"]), hint_values),
        max_size=4,
    ),
)
def test_anything_classifies_without_raising(
    tool: str, args: object, hints: dict[str, Any] | None
) -> None:
    found = classify(tool, args, hints)
    assert set(found.fields.values()) <= set(MEANINGS)
    assert found.source in ("declared", "catalogue", "name", "args", "none")
    assert all(isinstance(kind, str) and kind for kind in found.kinds)
    read_fields(args, found)


def test_reading_is_bounded_but_loses_nothing() -> None:
    # Past the work budget no names are resolved and no shapes read: every string
    # still comes out, as data (which the analysers read conservatively), never prose.
    many = {"items": ["how do I drop shipping suppliers"] * (WORK * 4) + ["rm -rf /"]}
    read = read_fields(many, classify("custom", many))
    assert sum(len(texts) for texts in read.values()) == WORK * 4 + 1
    assert read["data"][-1] == "rm -rf /"
    assert len(read.get("prose", ())) < WORK
    # A field whose meaning the tool fixes keeps it wherever it stands.
    padded: dict[str, Any] = {f"note_{i}": "x;" for i in range(WORK * 2)}
    padded["commands"] = ["rm -rf /"]
    assert command_text(padded, classify("terminal", padded))[-1] == "rm -rf /"
    padded["commands"] = "rm -rf /"
    assert read_fields(padded, classify("custom", padded))["command"] == ["rm -rf /"]
    nested = {"a": [{"k": "v"} for _ in range(WORK * 2)], "b": {"c": "SELECT 1"}}
    read = read_fields(nested, classify("custom", nested))
    assert sum(len(texts) for texts in read.values()) == WORK * 2 + 1


@pytest.mark.parametrize(
    ("tool", "args", "want"),
    [
        ("git", {"command": "push --force origin main"}, ["git push --force origin main"]),
        (
            "kubectl_tool",
            {"args": ["delete", "namespace", "prod"]},
            ["kubectl delete namespace prod"],
        ),
        (
            "docker",
            {"command": "docker run --privileged alpine"},
            ["docker run --privileged alpine"],
        ),
        ("git", {"command": "/usr/bin/git push"}, ["/usr/bin/git push"]),
        ("kubectl_delete", {"command": "pod web-1"}, ["kubectl delete pod web-1"]),
        # Not named after one program: read as written.
        ("terminal", {"commands": ["push"]}, ["push"]),
        ("git_docker_bridge", {"command": "push"}, ["push"]),
    ],
)
def test_a_cli_named_tool_reads_its_commands_as_that_programs(
    tool: str, args: dict[str, Any], want: list[str]
) -> None:
    found = classify(tool, args)
    assert command_text(args, found, tool) == want
    assert [t for _, m, t in field_texts(args, found, tool) if m == "command"] == want


@pytest.mark.parametrize(
    ("tool", "args", "line"),
    [
        ("kubectl_delete", {"resourceType": "namespace", "name": "production"},
         "kubectl delete namespace production"),
        ("git_push", {"remote": "origin", "branch": "main", "force": True, "dry_run": False},
         "git push origin main --force"),
        ("list_helm_releases", {"namespace": "web"}, "helm list releases web"),
        ("kubectl_generic", {"command": "delete", "resourceType": "pods",
                             "flags": {"all": True, "grace-period": "0"}},
         "kubectl delete pods --all --grace-period=0"),
        ("run_gcloud_command", {"args": ["projects", "delete", "p-1", "--quiet"]},
         "gcloud projects delete p-1 --quiet"),
        ("terraform", {"subcommand": "destroy", "args": ["-auto-approve"]},
         "terraform destroy -auto-approve"),
    ],
)  # fmt: skip
def test_a_cli_named_tools_structured_arguments_are_its_command_line(
    tool: str, args: dict[str, Any], line: str
) -> None:
    # The rest of the name is the subcommand; strings are arguments and true is a flag.
    assert line in command_text(args, classify(tool, args), tool)


def test_a_file_named_in_two_fields_is_also_read_as_one_path() -> None:
    args = {"filename": "pre-commit", "directory": ".git/hooks", "content": "#!/bin/sh"}
    paths = read_fields(args, classify("File Writer Tool", args)).get("path", [])
    assert ".git/hooks/pre-commit" in paths
    args = {"file_path": "a.txt", "content": "x"}
    assert read_fields(args, classify("write_file", args)).get("path") == ["a.txt"]


def test_a_custom_action_type_is_read_like_a_tool_name() -> None:
    # Typed actions arrive as declarations; a type strict does not know is a name too.
    found = classify("", {"query": "DROP TABLE users"}, {"action": "database_query"})
    assert found.kinds == ("database_query", "sql")
    assert read_fields({"query": "DROP TABLE users"}, found) == {"sql": ["DROP TABLE users"]}
    found = classify("", {"repo_path": "."}, {"action": "git_status"})
    assert (found.kinds, found.fields["repo_path"]) == (("git_status", "file_read"), "path")
    # Unknown kinds say nothing about fields: a llm_call's text is read by its shape.
    found = classify("", {"text": "hello there"}, {"action": "llm_call"})
    assert found.kinds == ("llm_call",)
    assert read_fields({"text": "hello there"}, found) == {"prose": ["hello there"]}


def test_a_message_body_is_prose() -> None:
    args = {"to": ["bob@example.com"], "body": "it removes the `rm -rf build/` step"}
    read = read_fields(args, classify("send_email", args))
    assert read["prose"] == ["it removes the `rm -rf build/` step"]


@pytest.mark.parametrize(
    ("tool", "args", "want"),
    [
        ("run", {"input": "ls"}, ("shell_exec",)),
        ("run", {"x": "ls -la"}, ("shell_exec",)),
        ("launch", {"target": "rm -rf /"}, ("shell_exec",)),
        ("invoke", {"payload": "import os\nos.system('id')"}, ("code_exec",)),
        # Running something named, with plain or JSON arguments, is not running a command.
        ("run_report", {"name": "q3"}, ()),
        ("execute_task", {"task": "summarise the report"}, ()),
        ("invoke_lambda", {"function_name": "resize", "payload": '{"width": 200}'}, ()),
    ],
)
def test_a_tool_that_runs_things_runs_the_command_it_is_given(
    tool: str, args: dict[str, Any], want: tuple[str, ...]
) -> None:
    assert kinds(tool, args) == want


interesting = st.sampled_from(
    [
        "ls -la",
        "turn on the lights",
        "DROP TABLE t",
        "how do I delete a file",
        '{"a": 1}',
        "/etc/hosts",
        "https://example.com",
        "delete",
        "view",
        "import os",
    ]
)
arg_sets = st.dictionaries(
    st.sampled_from(["command", "query", "path", "input", "text", "operation", "x", "code"]),
    interesting | st.lists(interesting, max_size=2),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(
    tool=st.sampled_from(["custom", "run", "file_manager", "str_replace_based_edit_tool", ""]),
    calls=st.lists(arg_sets, min_size=2, max_size=4),
)
def test_a_classification_does_not_depend_on_earlier_calls(
    tool: str, calls: list[dict[str, Any]]
) -> None:
    warm = [classify(tool, args) for args in calls]
    for args, found in zip(calls, warm, strict=True):
        classify_module._BASES.clear()
        assert classify(tool, args) == found


def test_a_search_tools_other_arguments_are_prose() -> None:
    args = {
        "query": "weather",
        "context": "rm -rf / came up in the chat",
        "filters": {"lang": "en", "sites": ["example.com"], "url": "https://example.com/x"},
    }
    read = read_fields(args, classify("tavily_search_results_json", args))
    assert read["prose"] == ["weather", "rm -rf / came up in the chat", "example.com"]
    # Names that say what they hold keep their meaning below.
    assert read["data"] == ["en"]
    assert read["url"] == ["https://example.com/x"]
