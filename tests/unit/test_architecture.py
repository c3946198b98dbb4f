"""The structure the dependency rules promise (docs/architecture.md), beyond import-linter's contracts."""

from __future__ import annotations

import multiprocessing

import grimp

from app.config import development_settings
from app.main import create_app


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_among_app_modules() -> None:
    graph = grimp.build_graph("app")
    assert len(graph.modules) > 100  # the whole package was read
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    assert _cycles(graph) == [["pkg.a", "pkg.b"]]


def test_creating_the_api_never_starts_mllp_worker_processes(tmp_path) -> None:
    settings = development_settings(database_url=f"sqlite:///{tmp_path}/x.db", var_dir=tmp_path,
                                    hl7={"inbound_processes": 3})
    before = set(multiprocessing.active_children())
    create_app(settings, check_schema_on_start=False, insi_gateway=object())  # type: ignore[arg-type]
    assert set(multiprocessing.active_children()) == before
