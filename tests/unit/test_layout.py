"""The repository layout and import rules of DESIGN.md, checked."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("bus", "trust", "kernel_worker", "verifier", "adapters")
# Namespaces and the source root that holds each.
NAMESPACES = {
    "bus": "bus",
    "trust": "trust",
    "policies": "kernel_worker",
    "audit": "kernel_worker",
    "observability": "kernel_worker",
    "kernel_worker": "kernel_worker",
    "review": "kernel_worker",
    "verifier": "verifier",
    "adapters": "adapters",
    "integrations": "adapters",
}
# Audit and observability name the policy's Verdict in type annotations only;
# policies is pure code with no imports of its own, so neither edge can cycle.
# Observability imports bus: its middleware wraps bus handlers and requests.
# Review imports observability: the console serves the shared collectors on /metrics.
ALLOWED = {
    "bus": set(),
    "trust": set(),
    "policies": set(),
    "audit": {"bus", "trust", "policies"},
    "observability": {"bus", "policies"},
    "verifier": {"bus", "trust"},
    "review": {"bus", "trust", "policies", "audit", "observability"},
    "kernel_worker": {
        "bus",
        "trust",
        "policies",
        "audit",
        "observability",
        "verifier",
        "review",
    },
    "adapters": {
        "bus",
        "trust",
        "policies",
        "audit",
        "observability",
        "verifier",
        "kernel_worker",
        "review",
    },
    # The framework integrations may use everything; nothing imports them.
    "integrations": set(NAMESPACES) - {"integrations"},
}
# Entry points, not libraries: the command that runs the MCP proxy loads an integration.
ENTRY_POINTS = {"adapters/agent_os/adapters/_cli_mcp.py": {"integrations"}}


@pytest.mark.parametrize("component", COMPONENTS)
def test_no_namespace_init(component: str) -> None:
    # An agent_os/__init__.py in one root would hide the other four.
    assert not (ROOT / component / "agent_os" / "__init__.py").exists()


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_package_is_typed(namespace: str) -> None:
    assert (ROOT / NAMESPACES[namespace] / "agent_os" / namespace / "py.typed").is_file()


def _imported_components(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "agent_os" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("component", NAMESPACES)
def test_import_directions(component: str) -> None:
    package = ROOT / NAMESPACES[component] / "agent_os" / component
    bad = {
        f"{p.relative_to(ROOT)} imports agent_os.{other}"
        for p in package.rglob("*.py")
        for other in _imported_components(p) - {component}
        if other not in ALLOWED[component] | ENTRY_POINTS.get(p.relative_to(ROOT).as_posix(), set())
    }
    assert not bad, sorted(bad)


def test_rules_reject_a_forbidden_import(tmp_path: Path) -> None:
    # The checker itself must be able to fail.
    bad = tmp_path / "m.py"
    bad.write_text("from agent_os.adapters import KernelClient\n")
    assert _imported_components(bad) == {"adapters"}


@pytest.mark.parametrize("component", NAMESPACES)
def test_all_names_exist(component: str) -> None:
    module = importlib.import_module(f"agent_os.{component}")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"agent_os.{component} declares no __all__"
    assert sorted(exported) == sorted(set(exported))
    # Names loaded on first use (a framework integration) need their framework installed.
    lazy = getattr(module, "_LAZY", {})
    for name in exported:
        assert name in lazy or hasattr(module, name), f"agent_os.{component}.{name} missing"
        assert not name.startswith("_")
