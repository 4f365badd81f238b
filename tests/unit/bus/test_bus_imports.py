"""The bus's modules import each other without cycles, type-only imports included.

Subscription modules reach their bus through a small ``Host`` protocol and
deliveries their subscription through ``Holder``, so no module imports the
one that imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import agent_os.bus

ROOT = Path(agent_os.bus.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _imports(path: Path) -> set[str]:
    """Modules of the bus that ``path`` imports, at run time or only for type checking."""
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            names = [f"{target}.{a.name}".strip(".") for a in node.names]
            found.update(n for n in [target, *names] if n in MODULES)
    return found


MODULES = {_module(p): p for p in ROOT.rglob("*.py")}


def test_no_bus_module_imports_one_that_imports_it() -> None:
    graph = {name: _imports(path) - {name} for name, path in MODULES.items()}
    # Packages' __init__ re-export their modules: an edge into a package is not a cycle.
    graph = {n: {m for m in deps if m not in ("", "backends")} for n, deps in graph.items()}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep in trail:
                cycles.append([*trail[trail.index(dep) :], dep])
            elif len(trail) < len(graph):
                visit(dep, [*trail, dep])

    for start in sorted(graph):
        visit(start, [start])
    assert cycles == []


def test_the_parts_of_a_backend_reach_their_bus_through_one_host_protocol() -> None:
    for name in ("_kafka_sub", "_nats_fanout", "_nats_work", "_redis_sub", "_sqs_consumer"):
        tree = ast.parse((ROOT / "backends" / f"{name}.py").read_text())
        text = ast.dump(tree)
        assert "Host" in text, name
        for other in ("Owner", "Shared"):
            assert f"'{other}'" not in text, (name, other)
