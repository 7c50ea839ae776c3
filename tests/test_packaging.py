"""A wheel built from the repository carries the actor assets, the scenario library and the
planners, and replays a run when installed outside the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from jwmsim.resources import PACKAGED_ROOT, SHIPPED_FOLDERS, SOURCE_ROOT, shipped_dir, shipped_path
from jwmsim.scenario.library import find_library_scenario, library_names

REPO = Path(__file__).resolve().parents[1]
# what the wheel is built from (the rest of the checkout: tests, benchmarks, .venv, ... stays out)
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "jwmsim", "agents")
AGENT_PY = (
    "import numpy as np\nfrom jwmsim.planning import Planner\n\n"
    "class Coast(Planner):\n    name = 'coast'\n\n"
    "    def compute_action(self, state, observation):\n        return np.array([0.0, 0.0])\n"
)


def _run(*args: str | Path, **kw) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)
    assert res.returncode == 0, f"{args}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


def test_source_checkout_finds_the_shipped_folders() -> None:
    assert not PACKAGED_ROOT.exists()  # nothing is copied into the source tree
    for name in SHIPPED_FOLDERS:
        assert shipped_dir(name) == SOURCE_ROOT / name == REPO / name
    assert {"cut_in", "hard_brake", "real/pandaset_pedestrian_crossing"} <= set(library_names())
    assert find_library_scenario("cut_in.yaml") == REPO / "scenarios" / "cut_in.yaml"
    assert find_library_scenario("nope") is None
    with pytest.raises(ValueError, match="not a shipped folder"):
        shipped_path("tests")


def test_library_names_load_by_name_and_unknown_names_list_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jwmsim.scenario import ScenarioError, load_scenario

    monkeypatch.chdir(tmp_path)
    assert load_scenario("cut_in").name == "cut_in"
    with pytest.raises(ScenarioError, match="library scenario: one of .*cut_in"):
        load_scenario("cut_inn")


def test_wheel_installed_outside_the_repository_replays_a_run(tmp_path: Path) -> None:
    py = sys.executable
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "_shipped"))
        else:
            shutil.copy2(REPO / name, src / name)
    for name in SHIPPED_FOLDERS:
        shutil.copytree(REPO / name, src / name)
    # no build isolation: the build requirements are the venv's own (this machine has no internet)
    _run(py, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist")
    (wheel,) = (tmp_path / "dist").glob("jwmsim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for asset in (REPO / "assets" / "actors").glob("*.safetensors"):
        assert f"jwmsim/_shipped/assets/actors/{asset.name}" in names
    assert "jwmsim/_shipped/scenarios/cut_in.yaml" in names and "jwmsim_agents/idm_planner.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)

    site = tmp_path / "site"
    _run(py, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel)
    # a scenario of the user's own, with its planner beside it, replayed from a third folder
    scen = tmp_path / "my_scenarios"
    scen.mkdir()
    (scen / "coast.py").write_text(AGENT_PY)
    text = (REPO / "scenarios" / "cut_in.yaml").read_text().replace("\nagent: idm", "\nagent: coast.py")
    (scen / "mine.yaml").write_text(text.replace("\nduration: 12", "\nduration: 3"))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    code = (
        "import json, sys\n"
        "import jwmsim, jwmsim_agents\n"
        "from jwmsim.gaussians.assets import ASSET_DIR, load_actor_asset\n"
        "from jwmsim.cli import main\n"
        "print(json.dumps({'jwmsim': jwmsim.__file__, 'agents': jwmsim_agents.__file__,\n"
        "                  'assets': str(ASSET_DIR),\n"
        "                  'sedan': len(load_actor_asset('sedan'))}))\n"
        "sys.stdout.flush()\n"
        "main(sys.argv[1:])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    args = ("--runs", "1", "--render", "none", "--no-progress")
    res = _run(
        py, "-c", code, "replay", scen / "mine.yaml", *args, "--out", tmp_path / "out", cwd=run_dir, env=env
    )
    where = json.loads(res.stdout.splitlines()[0])
    assert all(Path(where[k]).is_relative_to(site) for k in ("jwmsim", "agents", "assets")), where
    assert where["sedan"] > 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["aggregate"]["runs_finished"] == 1
    assert summary["agent"] == str(scen / "coast.py")  # resolved against the scenario file
    # a library scenario by name, from the installed package
    res = _run(py, "-c", code, "replay", "hard_brake", *args, "--out", tmp_path / "lib", cwd=run_dir, env=env)
    assert json.loads((tmp_path / "lib" / "summary.json").read_text())["aggregate"]["runs_finished"] == 1
