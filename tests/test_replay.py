"""`jwmsim replay` end to end on a small procedural log: videos, metrics, summary, reproducibility,
Ctrl-C handling and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.logs.procedural import LogConfig, write_town_log
from jwmsim.replay import PlannerFailed, ReplayOptions, replay, summary_table

SCENARIO = """\
version: 1
name: tiny_brake
log:
  dataroot: {root}
ego:
  start_time: 0.5
agent: idm
duration: 1.5
runs: 2
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [14, 20]}}
    speed_ratio: 1.0
    behaviour: {{type: idm}}
    trigger: {{type: time, at: 0.3}}
    then: {{type: hard_brake, decel: {{uniform: [5, 8]}}, ramp: 0.2, stop_duration: 1.0}}
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("replay")
    cfg = LogConfig(duration=2.5, width=64, height=36, lidar_azimuth_steps=256, workers=2)
    root = write_town_log(5, base / "town5", cfg, progress=False)
    path = base / "tiny_brake.yaml"
    path.write_text(SCENARIO.format(root=root))
    return path


def _opts(out: Path, **kw) -> ReplayOptions:
    base = dict(
        out=out, render="skeleton", cameras=("CAM_FRONT",), image_size=(32, 56), progress=False, workers=1
    )
    base.update(kw)
    return ReplayOptions(**base)


def test_replay_writes_videos_metrics_and_summary(scenario_file: Path, tmp_path: Path) -> None:
    result = replay(scenario_file, _opts(tmp_path / "out", videos=None))  # a video of every run
    assert [r.status for r in result.runs] == ["finished", "finished"]
    for r in result.runs:
        frames = iio.imread(r.run_dir / "video.mp4", plugin="pyav")
        assert frames.shape[0] == r.steps + 1 and frames.shape[1] >= 64  # 2 x 32 rows, padded to 16
        rec = json.loads((r.run_dir / "metrics.json").read_text())
        assert rec["status"] == "finished" and rec["steps"] == 15
        assert set(rec["metrics"]) >= {"nc", "dac", "ttc", "ep", "c", "pdms", "rc", "hd_score", "neuroncap"}
        assert "actors[0].offset" in rec["draws"] and 14 <= rec["draws"]["actors[0].offset"] <= 20
        for p in rec["penalties"]:
            assert {"step", "time", "metric", "value", "cause"} <= set(p)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["aggregate"]["runs_finished"] == 2 and len(summary["runs"]) == 2
    assert 0.0 <= summary["aggregate"]["pdms"]["mean"] <= 1.0
    assert not list((tmp_path / "out").rglob("*partial*"))
    table = summary_table(result)
    assert "pdms" in table and "collision rate" in table
    header = table.splitlines()[0].split()
    assert header[-2:] == ["hd_score", "neuroncap"]  # every column stands apart
    assert all(len(line.split()) == len(header) for line in table.splitlines()[2:4])


def test_same_seed_reproduces_runs_exactly(scenario_file: Path, tmp_path: Path) -> None:
    a = replay(scenario_file, _opts(tmp_path / "a", render="none"))
    b = replay(scenario_file, _opts(tmp_path / "b", render="none"))
    for ra, rb in zip(a.runs, b.runs, strict=True):
        assert ra.metrics == rb.metrics and ra.draws == rb.draws
    assert a.runs[0].draws != a.runs[1].draws  # jitter differs between runs
    assert not (tmp_path / "a" / "run_000" / "video.mp4").exists()  # render none: metrics only


def test_ctrl_c_keeps_finished_runs_and_marks_the_partial_one(scenario_file: Path, tmp_path: Path) -> None:
    agent = tmp_path / "interrupting.py"
    agent.write_text(
        "import numpy as np\nfrom jwmsim.planning import Planner\n\n"
        "class Interrupting(Planner):\n"
        "    calls = 0\n\n"
        "    def compute_action(self, state, observation):\n"
        "        Interrupting.calls += 1\n"
        "        if Interrupting.calls == 15 + 5:  # 5 steps into the second run\n"
        "            raise KeyboardInterrupt\n"
        "        return np.zeros(2)\n"
    )
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt) as stop:
        replay(scenario_file, _opts(out, agent=str(agent)))
    partial = stop.value.args[0]
    assert [r.status for r in partial.runs] == ["finished", "interrupted"]
    assert (out / "run_000" / "video.mp4").exists()
    rec = json.loads((out / "run_001" / "metrics.json").read_text())
    assert rec["status"] == "interrupted" and rec["steps"] == 4
    assert not (out / "run_001" / "video.mp4").exists()
    assert not list(out.rglob("*partial*")) and not list(out.rglob(".*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["aggregate"]["runs_finished"] == 1


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="render path 'no_such_path' is not available"):
        ReplayOptions(render="no_such_path")
    with pytest.raises(ConfigError, match="--runs"):
        ReplayOptions(runs=0)
    with pytest.raises(ConfigError, match="--workers"):
        ReplayOptions(workers=0)


def test_out_pointing_at_a_file_is_a_clear_error(scenario_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("keep me")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        replay(scenario_file, _opts(target, render="none"))
    assert target.read_text() == "keep me"


RAISING_PLANNER = """\
import numpy as np
from jwmsim.planning import Planner

class Raising(Planner):
    def compute_action(self, state, observation):
        if state.step == 3:
            return self.helper(state)
        return np.zeros(2)

    def helper(self, state):
        raise ZeroDivisionError("my planner divided by zero")
"""

NAN_PLANNER = """\
import numpy as np
from jwmsim.planning import Planner

class Nan(Planner):
    def compute_action(self, state, observation):
        return np.array([np.nan, 0.0]) if state.step == 2 else np.zeros(2)
"""


@pytest.mark.parametrize(
    ("source", "expect"),
    [(RAISING_PLANNER, "ZeroDivisionError: my planner divided by zero"), (NAN_PLANNER, "non-finite action")],
)
def test_failing_planner_is_recorded_and_the_replay_fails(
    scenario_file: Path, tmp_path: Path, source: str, expect: str
) -> None:
    agent = tmp_path / "bad_planner.py"
    agent.write_text(source)
    out = tmp_path / "out"
    with pytest.raises(PlannerFailed, match="failed in run 0") as err:
        replay(scenario_file, _opts(out, agent=str(agent), render="none"))
    assert expect in err.value.message
    rec = json.loads((out / "run_000" / "metrics.json").read_text())
    assert rec["status"] == "failed" and expect in rec["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] is True and summary["aggregate"]["runs_failed"] == 1
    assert summary["runs"][0]["status"] == "failed" and not (out / "run_001").exists()
    if "ZeroDivision" in expect:
        assert "in helper" in err.value.traceback  # the planner's own frames, for its author
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "replay",
            str(scenario_file),
            "--agent",
            str(agent),
            "--render",
            "none",
            "--out",
            str(tmp_path / "cli"),
            "--no-progress",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expect in errors[0]
    assert (tmp_path / "cli" / "summary.json").exists()


def test_worker_processes_give_the_same_runs(scenario_file: Path, tmp_path: Path) -> None:
    one = replay(scenario_file, _opts(tmp_path / "one", render="none", runs=3))
    two = replay(scenario_file, _opts(tmp_path / "two", render="none", runs=3, workers=2))
    assert [r.run_index for r in two.runs] == [0, 1, 2]
    for ra, rb in zip(one.runs, two.runs, strict=True):
        assert ra.metrics == rb.metrics and ra.draws == rb.draws and ra.steps == rb.steps
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["workers"] == 2 and summary["aggregate"]["runs_finished"] == 3


def test_stop_request_marks_the_run_interrupted(scenario_file: Path, tmp_path: Path) -> None:
    from jwmsim.replay import prepare_runs
    from jwmsim.replay_run import load_for_runs, run_one

    _, setup, _, _ = prepare_runs(scenario_file, _opts(tmp_path / "stop"))
    calls = iter(range(1000))
    res = run_one(load_for_runs(setup), 0, should_stop=lambda: next(calls) >= 6)
    assert res.status == "interrupted" and res.steps == 6 and res.video is None
    rec = json.loads((tmp_path / "stop" / "run_000" / "metrics.json").read_text())
    assert rec["status"] == "interrupted"


def test_cli_replay(scenario_file: Path, tmp_path: Path) -> None:
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    res = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "replay",
            str(scenario_file),
            "--runs",
            "1",
            "--render",
            "none",
            "--out",
            str(tmp_path / "cli"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "pdms" in res.stdout and (tmp_path / "cli" / "run_000" / "metrics.json").exists()
    bad = subprocess.run(
        [sys.executable, "-c", code, "replay", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr and "Traceback" not in bad.stderr


def test_replay_with_the_jwm_render_path(scenario_file: Path, tmp_path: Path) -> None:
    """The generator path in closed loop, with tiny random weights (the shipped ones are tested in
    tests/worldgen); render options reach the path, and unknown ones are refused."""
    from jwmsim.worldgen.modeling_worldgen import WorldGenModel

    torch.manual_seed(0)
    WorldGenModel(
        image_hw=(32, 48), stem_channels=(4, 8, 8, 16), dim=32, depth=1, heads=2, max_frames=6
    ).save_pretrained(tmp_path / "wg")
    opts = {"weights": str(tmp_path / "wg"), "steps": 1, "window": 2}
    result = replay(scenario_file, _opts(tmp_path / "jwm", runs=1, render="jwm", render_options=opts))
    assert result.runs[0].status == "finished"
    assert (tmp_path / "jwm" / "run_000" / "video.mp4").stat().st_size > 0
    # the summary and each run's metrics.json name the render path, its weights and sampler
    summary = json.loads((tmp_path / "jwm" / "summary.json").read_text())
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig
    from jwmsim.worldgen.weights import weights_digest

    assert summary["render"] == "jwm" and summary["render_options"]["weights"] == str(tmp_path / "wg")
    assert summary["render_path"]["weights"] == str(tmp_path / "wg")
    assert summary["render_path"]["weights_digest"] == weights_digest(tmp_path / "wg")
    assert summary["render_path"]["sampler"].startswith("sharp, 1 steps")
    assert summary["render_path"]["sampler"].endswith(f"anchor {SamplerConfig.anchor}")
    run = json.loads((tmp_path / "jwm" / "run_000" / "metrics.json").read_text())
    assert run["render"] == summary["render_path"]
    with pytest.raises(ConfigError, match="no option"):  # refused before any run starts
        _opts(tmp_path / "bad", runs=1, render="skeleton", render_options={"steps": 2})


def test_cli_replay_render_jwm_with_steps(scenario_file: Path, tmp_path: Path) -> None:
    """`jwmsim replay SCENARIO --render jwm --steps 1` with the shipped WorldGen weights."""
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    args = ["replay", str(scenario_file), "--runs", "1", "--render", "jwm", "--steps", "1", "--size", "32x56"]
    args += ["--cameras", "CAM_FRONT", "--workers", "1", "--out", str(tmp_path / "cli"), "--no-progress"]
    from jwmsim.worldgen.weights import default_weights_dir

    weights = ["--weights", str(default_weights_dir())]
    res = subprocess.run(
        [sys.executable, "-c", code, *args, *weights], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cli" / "run_000" / "video.mp4").stat().st_size > 0
    summary = json.loads((tmp_path / "cli" / "summary.json").read_text())
    assert summary["render_path"]["weights"] == str(default_weights_dir())
    nowhere = subprocess.run(
        [sys.executable, "-c", code, *args[:-3], "--weights", str(tmp_path), "--out", str(tmp_path / "w")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert nowhere.returncode == 2 and "config.json" in nowhere.stderr and "Traceback" not in nowhere.stderr
    bad = subprocess.run(
        [sys.executable, "-c", code, *args[:-3], "--steps", "0", "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode == 2 and "steps" in bad.stderr and "Traceback" not in bad.stderr


def test_pictures_default_to_the_generator_path() -> None:
    """Replay videos and the viewer show WorldGen's frames by default; the environment's
    observation stays the skeleton (RL speed)."""
    from jwmsim.envs.drive_config import DriveEnvConfig
    from jwmsim.envs.render_paths import PICTURE_PATH
    from jwmsim.viewer.options import ViewerOptions

    assert PICTURE_PATH == "jwm"
    assert ReplayOptions().render == ViewerOptions().render == PICTURE_PATH
    assert DriveEnvConfig().observation == "skeleton"


def test_the_video_panel_names_weights_sampler_and_anchor() -> None:
    from jwmsim.replay_run import render_label

    info = {
        "path": "jwm",
        "weights": "/models/worldgen",
        "weights_digest": "0123456789abcdef",
        "sampler": "sharp, 2 steps, guidance 1, anchor overlay",
    }
    assert render_label(info) == "jwm (worldgen 01234567, sharp, 2 steps, overlay)"
    assert render_label({"path": "skeleton"}) == "skeleton"
