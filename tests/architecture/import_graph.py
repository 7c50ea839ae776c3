"""The static import graph of a package, read from the AST (deferred imports inside functions
included), and the cycles in it."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """Dotted module name of ``path`` under ``root`` (the folder that holds the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """``{module: {imported module, ...}}`` for every ``.py`` file under ``package_dir``; only
    edges to modules of the same package are kept. ``from a import b`` points at ``a.b`` when that is
    a module, else at ``a``."""
    root = package_dir.parent
    files = {module_name(p, root): p for p in sorted(package_dir.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = (
                    _resolve_relative(mod, is_package, node.level, node.module)
                    if node.level
                    else (node.module or "")
                )
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[mod] = {t for t in targets if t in files and t != mod}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def imports_from(graph: dict[str, set[str]], sources: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """``"a -> b"`` for every edge from a module under one of ``sources`` to one under ``forbidden``."""
    src = tuple(sources)
    bad = tuple(forbidden)

    def under(mod: str, prefixes: tuple[str, ...]) -> bool:
        return any(mod == p or mod.startswith(p + ".") for p in prefixes)

    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() if under(a, src) for b in targets if under(b, bad)
    )
