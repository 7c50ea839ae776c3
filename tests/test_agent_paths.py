"""A scenario's ``agent:``: paths are relative to the scenario file (load and run, whatever the
working directory); ``sb3:PATH`` names a policy zip, checked without loading it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.planning import make_planner, parse_planner_spec, resolve_planner_spec
from jwmsim.scenario import load_scenario
from jwmsim.scenario.errors import ScenarioError

REPO = Path(__file__).resolve().parents[1]
PLANNER_PY = (
    "import numpy as np\nfrom jwmsim.planning import Planner\n\n"
    "class Coast(Planner):\n    name = 'coast'\n\n"
    "    def compute_action(self, state, observation):\n        return np.array([0.0, 0.0])\n"
)


def _scenario(folder: Path, agent: str) -> Path:
    """The library's cut_in scenario, copied into ``folder`` with ``agent: <agent>``."""
    text = (REPO / "scenarios" / "cut_in.yaml").read_text()
    assert "\nagent: idm" in text
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mine.yaml"
    path.write_text(text.replace("\nagent: idm", f"\nagent: {agent}"))
    return path


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from a working directory that is not the scenario's folder."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_parse_and_resolve_specs(tmp_path: Path) -> None:
    assert parse_planner_spec("idm").name == "idm" and parse_planner_spec("idm").path is None
    sb3 = parse_planner_spec("sb3:policies/ppo.zip")
    assert (sb3.name, sb3.path, sb3.file) == ("sb3", Path("policies/ppo.zip"), None)
    assert parse_planner_spec("planners/go.py").file == Path("planners/go.py")
    assert resolve_planner_spec("idm", tmp_path) == "idm"
    assert resolve_planner_spec("go.py", tmp_path) == str(tmp_path / "go.py")
    assert resolve_planner_spec("sb3:p.zip", tmp_path) == f"sb3:{tmp_path / 'p.zip'}"
    assert resolve_planner_spec("sb3:/abs/p.zip", tmp_path) == "sb3:/abs/p.zip"
    with pytest.raises(ConfigError, match="empty planner spec"):
        parse_planner_spec("  ")


def test_relative_py_agent_resolves_against_the_scenario_file(tmp_path: Path, elsewhere: Path) -> None:
    folder = tmp_path / "scen"
    (folder / "planners").mkdir(parents=True)
    (folder / "planners" / "coast.py").write_text(PLANNER_PY)
    scenario = load_scenario(_scenario(folder, "planners/coast.py"))
    assert scenario.agent == str(folder / "planners" / "coast.py")
    planner = make_planner(scenario.agent)  # what the run does, from another working directory
    assert type(planner).__name__ == "Coast"
    # the same relative path from the working directory is not found
    with pytest.raises(ConfigError, match="does not exist"):
        make_planner("planners/coast.py")


def test_missing_relative_agent_names_the_resolved_path(tmp_path: Path, elsewhere: Path) -> None:
    folder = tmp_path / "scen"
    with pytest.raises(ScenarioError, match=f"resolved to {folder / 'planners' / 'nope.py'}"):
        load_scenario(_scenario(folder, "planners/nope.py"))


@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("sb3", "needs its policy zip .*write sb3:PATH"),
        ("sb3:missing.zip", "missing.zip does not exist"),
        ("sb3:not_a_zip.zip", "not_a_zip.zip is not a zip file"),
        ("idm:extra.zip", "planner 'idm' reads no file"),
        ("sbb3:policy.zip", "did you mean 'sb3'"),
    ],
    ids=["no-policy", "missing-policy", "not-a-zip", "idm-with-path", "typo"],
)
def test_sb3_agent_errors(tmp_path: Path, elsewhere: Path, agent: str, message: str) -> None:
    folder = tmp_path / "scen"
    folder.mkdir()
    (folder / "not_a_zip.zip").write_text("hello")
    with pytest.raises(ScenarioError, match=message) as err:
        load_scenario(_scenario(folder, agent))
    assert "mine.yaml:" in str(err.value)  # with the file and line


def test_sb3_policy_is_not_loaded_while_checking(
    tmp_path: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip that is no SB3 model passes the scenario check (nothing is unpickled there) and only
    fails when the run makes the planner, with the path resolved against the scenario file."""
    import stable_baselines3

    folder = tmp_path / "scen"
    (folder / "policies").mkdir(parents=True)
    with zipfile.ZipFile(folder / "policies" / "fake.zip", "w") as z:
        z.writestr("data", "{}")
    loads: list[str] = []
    real_load = stable_baselines3.PPO.load
    monkeypatch.setattr(
        stable_baselines3.PPO, "load", lambda path, **kw: (loads.append(path), real_load(path, **kw))[1]
    )
    scenario = load_scenario(_scenario(folder, "sb3:policies/fake.zip"))
    assert loads == [] and scenario.agent == f"sb3:{folder / 'policies' / 'fake.zip'}"
    with pytest.raises(CheckpointError, match="could not load SB3 PPO policy"):
        make_planner(scenario.agent)
    assert loads == [str(folder / "policies" / "fake.zip")]


def test_sb3_spec_runs_a_saved_policy(tmp_path: Path) -> None:
    import gymnasium as gym
    from stable_baselines3 import PPO

    env = gym.make("CartPole-v1")
    PPO("MlpPolicy", env, n_steps=16, batch_size=16, device="cpu").save(tmp_path / "cartpole")
    planner = make_planner(f"sb3:{tmp_path / 'cartpole.zip'}")
    obs, _ = env.reset(seed=0)
    action = planner.compute_action(None, obs)  # type: ignore[arg-type]
    assert env.action_space.contains(int(np.asarray(action)))
    with pytest.raises(ConfigError, match="needs its policy zip"):
        make_planner("sb3")
