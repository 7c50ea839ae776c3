"""The package's import graph, read statically from the AST (imports inside functions and under
``TYPE_CHECKING`` included): no cycles, and the models below the layers that use them."""

from __future__ import annotations

from pathlib import Path

from .import_graph import find_cycles, import_graph, imports_from

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "jwmsim"
AGENTS = REPO / "agents"

# what the learned models may never import: the layers above them
ABOVE_MODELS = (
    "jwmsim.envs",
    "jwmsim.cli",
    "jwmsim.replay",
    "jwmsim.replay_run",
    "jwmsim.viewer",
    "jwmsim.export",
    "jwmsim.evaluation",
    "jwmsim.search",
)


def test_the_graph_sees_deferred_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n    return g\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.c"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (pkg / "c.py").write_text("import os\n")
    assert find_cycles(import_graph(pkg)) == []


def test_jwmsim_has_no_import_cycle() -> None:
    cycles = find_cycles(import_graph(PACKAGE))
    listed = "\n".join(" <-> ".join(c) for c in cycles)
    assert cycles == [], f"import cycles (move what both sides need below them):\n{listed}"


def test_the_agents_package_has_no_import_cycle() -> None:
    assert find_cycles(import_graph(AGENTS)) == []


def test_models_import_nothing_above_them() -> None:
    graph = import_graph(PACKAGE)
    bad = imports_from(graph, ["jwmsim.worldrec", "jwmsim.worldgen"], ABOVE_MODELS)
    listed = "\n".join(bad)
    assert bad == [], f"the models must not know the environment or the tools that use them:\n{listed}"


def test_model_inference_imports_nothing_of_training() -> None:
    graph = import_graph(PACKAGE)
    for model in ("worldrec", "worldgen"):
        training = f"jwmsim.{model}.training"
        inference = [m for m in graph if m.startswith(f"jwmsim.{model}") and not m.startswith(training)]
        bad = sorted(f"{a} -> {b}" for a in inference for b in graph[a] if b.startswith(training))
        assert bad == [], f"{model}: inference imports its training code:\n" + "\n".join(bad)
