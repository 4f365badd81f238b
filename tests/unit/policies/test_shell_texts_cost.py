"""All command texts of one action share one shell script's analysis budget.

An action with thousands of command fields must cost one script's analysis,
not thousands: past the budget the action is ``shell:too-complex`` (review),
never allowed unread. The analyser is the real one; the tests count its calls.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

import agent_os.policies._struct as struct
import agent_os.policies._struct_texts as struct_texts
from agent_os.policies import load_policy
from agent_os.policies.analysis._shell import ShellReport, analyse_shell
from agent_os.policies.analysis._sql import analyse_gated

# Numbered command fields make a custom tool shell execution, which strict blocks
# outright; with that blanket rule off, what is left to decide is the analysis.
STRICT = load_policy(
    {"name": "strict-analysed", "extends": "strict", "disabled_rules": ["action:shell_exec"]}
)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts handed to the (real) shell analyser by the structural rules."""
    seen: list[str] = []

    def counted(text: str) -> ShellReport:
        seen.append(text)
        return analyse_shell(text)

    monkeypatch.setattr(struct_texts, "analyse_shell", counted)
    struct_texts.shell_report.cache_clear()  # count analyses, not remembered reports
    yield seen
    struct_texts.shell_report.cache_clear()


def tool(**args: Any) -> tuple[str, str | None]:
    action = {"agent_id": "a", "action": "tool_call", "tool": "custom_tool", "args": args}
    verdict = STRICT.evaluate(action)
    return verdict.decision.value, verdict.rule


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase, k=4))


def test_thousands_of_command_fields_cost_one_script(calls: list[str]) -> None:
    rng = random.Random(7)
    fields = {f"command{i}": f"ls {_word(rng)}" for i in range(2500)}
    assert tool(**fields) == ("review", "shell:too-complex")
    assert 0 < len(calls) <= struct._SHELL_TEXTS


def test_repeated_command_texts_are_analysed_once(calls: list[str]) -> None:
    assert tool(**{f"command{i}": "ls -la" for i in range(2500)}) == ("allow", None)
    assert calls == ["ls -la"]


def test_a_few_command_fields_are_each_analysed(calls: list[str]) -> None:
    fields = {"command0": "ls", "command1": "pwd", "command2": "git status"}
    assert tool(**fields) == ("allow", None)
    assert calls == ["ls", "pwd", "git status"]


def test_a_command_text_seen_before_is_not_analysed_again(calls: list[str]) -> None:
    assert tool(command0="git push --force origin main")[1] == "shell:git-history"
    assert tool(command0="git push --force origin main")[1] == "shell:git-history"
    assert calls == ["git push --force origin main"]  # the second read the remembered report


def test_a_deny_inside_the_budget_outranks_too_complex() -> None:
    fields = {
        "command0": "git push --force origin main",
        **{f"command{i}": f"ls {i}" for i in range(1, 200)},
    }
    assert tool(**fields) == ("deny", "shell:git-history")


def test_a_command_past_the_budget_is_reviewed_not_skipped(calls: list[str]) -> None:
    fields = {f"command{i}": f"ls {i}" for i in range(200)}
    fields["command199"] = "git push --force origin main"
    assert tool(**fields) == ("review", "shell:too-complex")
    assert "git push --force origin main" not in calls


def test_the_character_budget_is_shared_by_all_texts(calls: list[str]) -> None:
    half = "echo " + "a" * 1_500
    assert tool(command0=half, command1=half.replace("a", "b")) == ("review", "shell:too-complex")
    assert calls == [half]


def test_an_oversized_text_does_not_hide_a_small_one() -> None:
    # The long text alone is past the budget; the short one still fits and is read.
    fields = {"command0": "echo " + "a" * 3_000, "command1": "git push --force origin main"}
    assert tool(**fields) == ("deny", "shell:git-history")


@pytest.fixture
def sql_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts handed to the (real) SQL analyser by the structural rules."""
    seen: list[str] = []

    def counted(text: str, *, sql_action: bool, depth: int = 0) -> list[tuple[str, str]]:
        seen.append(text)
        return analyse_gated(text, sql_action=sql_action, depth=depth)

    monkeypatch.setattr(struct, "analyse_gated", counted)
    yield seen


def test_thousands_of_sql_fields_cost_one_statement(sql_calls: list[str]) -> None:
    rng = random.Random(11)
    fields = {f"sql{i}": f"UPDATE t SET a = 1 WHERE b = '{_word(rng)}'" for i in range(2000)}
    assert tool(**fields) == ("review", "sql:too-complex")
    assert 0 < len(sql_calls) <= struct._SQL_TEXTS


def test_a_few_sql_fields_are_each_analysed(sql_calls: list[str]) -> None:
    first, second = "UPDATE t SET a = 1 WHERE id = 2", "UPDATE u SET b = 1 WHERE id = 3"
    fields = {"sql0": first, "sql1": second, "sql2": first, "sql3": "SELECT 1"}
    assert tool(**fields) == ("allow", None)
    assert sql_calls == [first, second]  # repeats once; texts the gate clears not at all


def test_a_long_sql_text_still_gets_the_linear_scan() -> None:
    # Past the budget on its own: the destructive shapes are still found.
    fields = {"sql": "SELECT 1; " + "-- pad\n" * 1_500 + "DROP TABLE users"}
    assert tool(**fields)[0] == "deny"
