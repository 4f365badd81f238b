"""Classes of misses and false positives an outside corpus found under ``strict``.

Each case stands for a class (an argv list under any tool, a command under a
field named for a shell, a secret split across fields or by invisible or
line-break characters, prose naming a credential path, SQL literals), not for
the one action that showed it.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent_os.policies import load_policy

STRICT = load_policy("strict")


def tool(name: str, **args: Any) -> tuple[str, str | None]:
    verdict = STRICT.evaluate({"agent_id": "a", "action": "tool_call", "tool": name, "args": args})
    return verdict.decision.value, verdict.rule


def typed(kind: str, **args: Any) -> tuple[str, str | None]:
    verdict = STRICT.evaluate({"agent_id": "a", "action": kind, "args": args})
    return verdict.decision.value, verdict.rule


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"argv": ["rm", "-rf", "/"]}, "shell:rm-rf"),
        ({"argv": ["terraform", "destroy", "-auto-approve"]}, "shell:infra-destroy"),
        ({"args": ["kubectl", "delete", "namespace", "prod"]}, "shell:cluster-delete"),
        ({"task": "cleanup", "shell": "find / -mindepth 1 -delete"}, "shell:rm-rf"),
        ({"bash": "rm -rf ~"}, "shell:rm-rf"),
        ({"run": "git push --force origin main"}, "shell:git-history"),
        # Numbered fields mean what their name without the number does.
        ({"command1": "mkfs.ext4 /dev/sda1"}, "shell:mkfs"),
        ({"command0": "ls", "command1": "r''m -rf /"}, "shell:rm-rf"),
        ({"cmd_2": "rm -rf /var/lib/postgresql"}, "shell:rm-rf"),
    ],
)
def test_commands_under_any_tool_and_shell_named_fields_are_analysed(
    args: dict[str, Any], rule: str
) -> None:
    assert tool("ops_helper", **args) == ("deny", rule)


@pytest.mark.parametrize(
    "args",
    [
        {"args": ["--verbose", "report.txt"]},
        {"params": ["name", "value"]},
        {"shell": "bash", "timeout": 30},
        {"step1": "hello world", "v2": "x"},
    ],
)
def test_argument_lists_that_run_nothing_stay_allowed(args: dict[str, Any]) -> None:
    assert tool("ops_helper", **args) == ("allow", None)


def test_secret_split_across_two_prose_fields_is_joined() -> None:
    decision = tool(
        "create_issue",
        owner="a",
        repo="b",
        title="k",
        body="key part1: ghp_r81HCrlGW5qon7rI",
        labels=["key part2: oDeT2v1lpjlgPBR0O4Na"],
    )
    assert decision == ("deny", "secret:github-token")


def test_secret_split_by_an_invisible_character_or_a_line_break_is_found() -> None:
    zero_width = "AWS AKIA5AWFNL\u200bG79NXL9VBX"
    assert tool("slack_post_message", channel_id="C1", text=zero_width) == (
        "deny",
        "secret:aws-access-key",
    )
    wrapped = (
        "anthropic sk-ant-api03-994MBgSrFOjykzuR_NOOn736w8N\n"
        "pq4MOPUjNUms_3xOwNFAEMWmGSzci-9LHRTkYX2K3s5fA8iA4uNSPHtD1xpOSn1lWJAA"
    )
    assert typed("send_email", to="x@example.org", body=wrapped) == (
        "deny",
        "secret:anthropic-key",
    )


def test_prose_over_several_lines_is_not_a_secret() -> None:
    text = "Release notes\nUpgraded dependencies\nRemoved deprecated endpoints\nThanks everyone"
    assert tool("send_message", channel="#ops", message=text) == ("allow", None)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("duckduckgo_search", {"query": "/etc/shadow file format"}),
        ("wikipedia", {"query": "Shadow password file /etc/shadow"}),
        ("tavily_search_results_json", {"query": "~/.ssh/id_rsa permissions too open error"}),
    ],
)
def test_prose_naming_a_credential_file_is_not_access_to_it(
    name: str, args: dict[str, Any]
) -> None:
    assert tool(name, **args) == ("allow", None)
    assert typed("web_search", **args) == ("allow", None)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("fetch", {"url": "http://files.example/../../etc/shadow"}),
        ("sql_db_query", {"query": "SELECT pg_read_file('/etc/shadow')"}),
        ("ops_helper", {"v": "~/.aws/credentials"}),
        ("requests_post", {"url": "https://x.example", "data": "cat ~/.ssh/id_rsa"}),
    ],
)
def test_credential_paths_in_fields_that_act_are_still_denied(
    name: str, args: dict[str, Any]
) -> None:
    assert tool(name, **args)[0] == "deny"


def test_postgres_dollar_quote_is_a_literal_in_every_reading() -> None:
    assert typed("sql", query="SELECT $$DROP TABLE x$$ AS example_text") == ("allow", None)
    assert typed("sql", query="SELECT $$a$$; DROP TABLE x") == ("deny", "sql:drop")
    assert typed("sql", query="SELECT 1; $$ DROP TABLE t") == ("deny", "sql:drop")


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (
            "/Users/dev/Library/Application Support/Google/Chrome/Default/Login Data",
            "path:browser-credentials",
        ),
        ("/home/u/.mozilla/firefox/p.default/logins.json", "path:browser-credentials"),
        ("/home/dev/.config/google-chrome/Default/Cookies", "path:browser-credentials"),
        ("/home/dev/.config/google-chrome/Profile 2/Network/Cookies", "path:browser-credentials"),
        ("/home/dev/.config/microsoft-edge/Default/Cookies", "path:browser-credentials"),
        ("/home/dev/.config/google-chrome/Local State", "path:browser-credentials"),
        ("/Users/bob/Library/Cookies/Cookies.binarycookies", "path:browser-credentials"),
        (
            "C:\\Users\\bob\\AppData\\Roaming\\Microsoft\\Protect\\S-1-5-21-1\\1c2b3d4e",
            "path:browser-credentials",
        ),
        (
            "C:\\Users\\bob\\AppData\\Local\\Microsoft\\Credentials\\DFBE70A7E5CC19A3",
            "path:browser-credentials",
        ),
        ("/home/dev/.local/share/keyrings/login.keyring", "path:browser-credentials"),
        ("/home/dev/.local/share/kwalletd/kdewallet.kwl", "path:browser-credentials"),
        ("/home/ubuntu/.config/gh/hosts.yml", "path:cloud-credentials"),
        ("/home/ubuntu/.config/hub", "path:cloud-credentials"),
        ("/etc/kubernetes/admin.conf", "path:cloud-credentials"),
        ("/var/lib/jenkins/secrets/master.key", "path:credential-files"),
    ],
)
def test_more_credential_stores_are_known(path: str, rule: str) -> None:
    assert typed("file_read", path=path) == ("deny", rule)
    assert tool("read_text_file", path=path) == ("deny", rule)


@pytest.mark.parametrize(
    "path",
    [
        "/work/app/docs/login data flow.md",
        "/work/app/src/cookies.py",
        "jenkins/Jenkinsfile",
        "/work/app/src/local_state.py",
        "/work/app/docs/local state machine.md",
        "/work/app/keyrings/README.md",
        "/work/app/src/protect/handler.go",
    ],
)
def test_ordinary_files_with_similar_names_are_readable(path: str) -> None:
    assert typed("file_read", path=path) == ("allow", None)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT usename, passwd FROM pg_shadow",
        "SELECT rolname, rolpassword FROM pg_catalog.pg_authid",
        "SELECT user, authentication_string FROM mysql.user",
        "SELECT name, password_hash FROM sys.sql_logins",
        "SELECT name, password FROM sys.user$",
    ],
)
def test_sql_reading_password_hashes_is_denied(query: str) -> None:
    assert typed("sql", query=query) == ("deny", "sql:credential-read")
    assert tool("sql_db_query", query=query) == ("deny", "sql:credential-read")


def test_sql_naming_users_is_not_a_credential_read() -> None:
    assert typed("sql", query="SELECT u.user, u.email FROM app.user u WHERE u.id = 1") == (
        "allow",
        None,
    )
    assert tool("tavily_search_results_json", query="what is pg_shadow in postgres") == (
        "allow",
        None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://kubernetes.default.svc/api/v1/secrets",
        "http://redis.prod.svc.cluster.local:6379/",
        "http://host.docker.internal:8080/",
        "http://printer.local/",
    ],
)
def test_cluster_and_reserved_private_names_are_internal(url: str) -> None:
    assert tool("fetch", url=url) == ("review", "net:internal")


def test_public_names_that_contain_those_words_are_not() -> None:
    for url in ("https://internal.example.com/x", "https://svc.example.org/"):
        assert tool("fetch", url=url) == ("allow", None)


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        ("SHUTDOWN", "sql:shutdown"),
        ("SHUTDOWN WITH NOWAIT", "sql:shutdown"),
        ("CREATE FUNCTION sys_exec RETURNS int SONAME 'lib_mysqludf_sys.so'", "sql:command-exec"),
        ("INSTALL PLUGIN p SONAME 'p.so'", "sql:command-exec"),
        ("CALL dbms_java.runjava('oracle/aurora/util/Wrapper /bin/sh -c id')", "sql:command-exec"),
    ],
)
def test_sql_that_stops_the_server_or_loads_native_code(query: str, rule: str) -> None:
    assert typed("sql", query=query) == ("deny", rule)
    assert typed("sql", query="SELECT shutdown_time FROM servers WHERE note = 'shutdown'") == (
        "allow",
        None,
    )


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("mailgun key-0808408d1944f97577380884d4ec9a5f", "secret:mailgun-key"),
        ("datadog api key c46b010950cc4ddc1144f84002b123ba", "secret:datadog-key"),
        ("DD_API_KEY=c46b010950cc4ddc1144f84002b123ba", "secret:datadog-key"),
    ],
)
def test_keys_known_by_prefix_or_by_name(message: str, rule: str) -> None:
    assert tool("send_message", channel="#ops", message=message) == ("deny", rule)
    assert tool("send_message", channel="#ops", message="sha c46b010950cc4ddc1144f84002b123ba") == (
        "allow",
        None,
    )


def test_tls_private_keys_are_private_keys() -> None:
    assert typed("file_read", path="/etc/ssl/private/server.key") == ("deny", "path:private-keys")
    assert typed("file_read", path="/etc/ssl/certs/ca-certificates.crt") == ("allow", None)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        (
            "create_issue",
            {
                "title": "Repro",
                "body": "```python\nimport subprocess\n"
                "subprocess.run(['npm', 'ci'], check=True)\n```",
            },
        ),
        (
            "create_issue",
            {"body": "Install steps:\n```bash\ncurl -fsSL https://get.docker.com | sh\n```"},
        ),
        ("add_comment", {"issue_number": 7, "body": "`eval(input())` is the bug here"}),
        ("summarize_text", {"text": "def load(p): return pickle.loads(open(p, 'rb').read())"}),
        ("translate", {"text": "rm -rf / deletes everything: never run it", "target": "de"}),
    ],
)
def test_text_posted_for_people_or_handed_to_a_model_is_prose(
    name: str, args: dict[str, Any]
) -> None:
    # The same text through send_email passes: it is quoted, not run.
    assert tool(name, **args) == ("allow", None)


def test_a_posting_tool_still_reads_code_and_secrets_where_they_are() -> None:
    assert tool("create_issue", body="token ghp_r81HCrlGW5qon7rIoDeT2v1lpjlgPBR0O4Na")[0] == "deny"
    assert tool("add_comment", code="import os; os.system('rm -rf /')")[0] != "allow"
    # A verb that runs outweighs the text verb: its text is not taken for prose.
    assert tool("translate_and_run", text="rm -rf /")[0] != "allow"
