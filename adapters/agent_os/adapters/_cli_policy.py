"""``agent-os policy``: test a policy against YAML cases, lint it; ``check --explain``'s story.

``agent-os policy test PATH...`` runs case files (or every ``*.yaml`` in a
directory) like ``opa test``: each failure is printed with what was wanted,
what came, and the policy's explanation; the exit status is 1 when any case
fails and 2 when a case file or policy does not load.
``agent-os policy lint FILE`` prints warnings (exit 1 when there are any).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from agent_os.policies import Policy, PolicyError
from agent_os.policies._cases import load_cases, run_cases
from agent_os.policies._lint import lint_file

__all__ = ["explain_lines", "policy"]

#: Exit codes of ``policy test`` and ``policy lint``.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


@click.group()
def policy() -> None:
    """Test and lint policies."""


@policy.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that pass.")
def test_cases(paths: tuple[Path, ...], verbose: bool) -> None:
    """Run YAML policy test cases; exit 1 on any failure."""
    try:
        cases = load_cases(paths)
    except PolicyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    results = run_cases(cases)
    failed = [r for r in results if not r.passed]
    for result in results:
        if not result.passed:
            click.echo(result.report())
        elif verbose:
            click.echo(f"ok   {result.case.id}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@policy.command("lint")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--tool",
    "tools",
    multiple=True,
    help="A tool name the agent has (repeatable): rules naming none of them are reported.",
)
def lint(file: Path, tools: tuple[str, ...]) -> None:
    """Warn about rules that can never fire, unknown tools and a permissive tools default."""
    try:
        warnings = lint_file(file, tools=tools or None)
    except PolicyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    click.echo(f"{len(warnings)} warning(s)")
    sys.exit(EXIT_FAILED if warnings else EXIT_OK)


def explain_lines(chosen: Policy, action: Mapping[str, Any]) -> list[str]:
    """``check --explain``: the classification, every rule considered, the one that decided."""
    _, story = chosen.explain(action)
    return [f"policy {chosen.name} ({chosen.content_hash[:12]})", *story]
