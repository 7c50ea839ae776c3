"""`jwmsim eval closed-loop`: two agents on a folder of scenarios, report contents (intervals,
attribution, paired differences, plots), agent files never taken from a scenario folder, a failing
planner, the command line, and the confidence intervals themselves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jwmsim.errors import ConfigError
from jwmsim.evaluation.closed_loop import (
    ClosedLoopOptions,
    EvaluationFailed,
    cause_template,
    evaluate_closed_loop,
    find_scenarios,
    resolve_agents,
)
from jwmsim.evaluation.confidence import t_interval, wilson_interval

CLI = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
METRICS = {"nc", "dac", "ttc", "ep", "c", "pdms", "rc", "hd_score", "neuroncap", "collision_rate"}


@pytest.fixture(scope="module")
def two_agent_report(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("eval") / "report"
    opts = ClosedLoopOptions(
        agents=("idm", "constant_velocity"),
        scenarios=scenario_dir,
        runs=2,
        out=out,
        workers=1,
        progress=False,
    )
    return evaluate_closed_loop(opts)


def test_report_has_both_agents_per_scenario_and_overall(two_agent_report) -> None:
    out = two_agent_report.out
    payload = json.loads((out / "report.json").read_text())
    assert [a["label"] for a in payload["agents"]] == ["idm", "constant_velocity"]
    assert payload["scenarios"] == ["tiny_brake", "tiny_stalled"]
    for label in ("idm", "constant_velocity"):
        res = payload["results"][label]
        assert set(res["overall"]) >= METRICS and res["overall"]["runs"] == 4
        for sc in ("tiny_brake", "tiny_stalled"):
            entry = res["scenarios"][sc]
            assert entry["runs"] == 2 and set(entry) >= METRICS
            for m in METRICS:
                e = entry[m]
                assert e["n"] == 2 and e["low"] <= e["mean"] <= e["high"]
    # the idm brakes for the stalled car; constant velocity drives into it
    assert (
        payload["results"]["constant_velocity"]["scenarios"]["tiny_stalled"]["collision_rate"]["mean"] == 1.0
    )
    assert (
        payload["results"]["idm"]["overall"]["pdms"]["mean"]
        > payload["results"]["constant_velocity"]["overall"]["pdms"]["mean"]
    )
    diff = payload["comparison"]["constant_velocity"]
    assert diff["versus"] == "idm" and diff["pdms_difference"]["n"] == 4
    md = (out / "report.md").read_text()
    assert "| PDMS |" in md and "`idm`" in md and "`constant_velocity`" in md and "Paired differences" in md
    for plot in ("metrics.png", "pdms_by_scenario.png", "penalties_over_time.png"):
        assert (out / "plots" / plot).stat().st_size > 1000
    assert not list(out.rglob("*partial*"))


def test_every_penalised_step_is_attributed(two_agent_report) -> None:
    out = two_agent_report.out
    rows = json.loads((out / "attribution.json").read_text())
    records = list((out / "runs").rglob("metrics.json"))
    assert len(records) == 8  # 2 agents x 2 scenarios x 2 runs
    expected = sum(len(json.loads(p.read_text())["penalties"]) for p in records)
    assert len(rows) == expected > 0
    assert {"agent", "scenario", "run", "step", "time", "metric", "value", "cause"} <= set(rows[0])
    payload = json.loads((out / "report.json").read_text())
    cv = payload["results"]["constant_velocity"]["scenarios"]["tiny_stalled"]["attribution"]
    assert cv["penalised_steps_by_metric"].get("nc", 0) >= 2  # a collision in each run
    mine = [r for r in rows if r["agent"] == "constant_velocity" and r["scenario"] == "tiny_stalled"]
    assert sum(c["steps"] for c in cv["by_cause"]) == len(mine)


def test_cause_templates_group_numbers() -> None:
    assert cause_template("would hit leader in 0.8 s") == "would hit leader in # s"
    assert cause_template("lon jerk -5.2 > 4.13") == "lon jerk # > #"


def test_confidence_intervals() -> None:
    iv = t_interval([0.2, 0.4, 0.6])
    assert iv.mean == pytest.approx(0.4) and iv.n == 3
    assert iv.high - iv.mean == pytest.approx(4.302653 * 0.2 / 3**0.5, rel=1e-5)  # t(0.975, 2)
    assert t_interval([0.0, 1.0], bounds=(0.0, 1.0)).low == 0.0  # clipped to the metric's range
    assert t_interval([0.7]).low is None
    w = wilson_interval(0, 10)
    assert w.mean == 0.0 and w.low == 0.0 and w.high == pytest.approx(0.2775, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


EVIL = """\
from pathlib import Path
Path(__file__).with_name("EVIL_RAN").write_text("planner file code ran")
from jwmsim.planning import Planner
import numpy as np

class Evil(Planner):
    def compute_action(self, state, observation):
        return np.zeros(2)
"""


def test_agents_are_never_taken_from_a_scenario_folder(
    scenario_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "suspicious"
    folder.mkdir()
    text = (scenario_dir / "tiny_stalled.yaml").read_text().replace("seed: 11", "seed: 11\nagent: evil.py")
    (folder / "tiny_stalled.yaml").write_text(text)
    (folder / "evil.py").write_text(EVIL)
    shutil.copy(folder / "evil.py", folder / "planner.py")
    (folder / "policy.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an (empty) zip file
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = evaluate_closed_loop(
        ClosedLoopOptions(
            agents=("idm",), scenarios=folder, runs=1, out=tmp_path / "o", workers=1, progress=False
        )
    )
    assert report.payload["results"]["idm"]["overall"]["runs"] == 1
    assert not (folder / "EVIL_RAN").exists()  # the scenario's agent: evil.py was not loaded
    for spec in ("sb3:policy.zip", "planner.py"):
        with pytest.raises(ConfigError, match="does not exist") as err:
            evaluate_closed_loop(
                ClosedLoopOptions(
                    agents=(spec,), scenarios=folder, runs=1, out=tmp_path / "o2", progress=False
                )
            )
        assert str(elsewhere) in err.value.message  # resolved against the working directory
    assert not (folder / "EVIL_RAN").exists()
    assert resolve_agents(["sb3:policy.zip"], elsewhere)[0].spec == f"sb3:{elsewhere / 'policy.zip'}"


RAISING = """\
import numpy as np
from jwmsim.planning import Planner

class Raising(Planner):
    def compute_action(self, state, observation):
        if state.step == 3:
            raise RuntimeError("my planner broke")
        return np.zeros(2)
"""


def test_a_failing_planner_fails_the_evaluation_after_the_report(scenario_dir: Path, tmp_path: Path) -> None:
    planner = tmp_path / "raising.py"
    planner.write_text(RAISING)
    out = tmp_path / "o"
    opts = ClosedLoopOptions(
        agents=("idm", str(planner)),
        scenarios=scenario_dir / "tiny_brake.yaml",
        runs=2,
        out=out,
        workers=1,
        progress=False,
    )
    with pytest.raises(EvaluationFailed, match="my planner broke") as err:
        evaluate_closed_loop(opts)
    assert "compute_action" in err.value.traceback
    payload = json.loads((out / "report.json").read_text())
    assert payload["failed"] is True and payload["results"]["idm"]["overall"]["runs"] == 2


def test_options_and_scenario_discovery_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no agent"):
        ClosedLoopOptions(agents=())
    with pytest.raises(ConfigError, match="given twice"):
        ClosedLoopOptions(agents=("idm", "idm"))
    with pytest.raises(ConfigError, match="confidence"):
        ClosedLoopOptions(agents=("idm",), confidence=1.5)
    with pytest.raises(ConfigError, match="execution backend"):
        ClosedLoopOptions(agents=("idm",), backend="spark")
    with pytest.raises(ConfigError, match="does not exist"):
        find_scenarios(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no .yaml"):
        find_scenarios(tmp_path)
    assert {p.stem for p in find_scenarios(None)} >= {"cut_in", "hard_brake"}  # the shipped library


def test_cli_eval_closed_loop(scenario_dir: Path, tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", CLI, "eval", "closed-loop", "--agent", "idm", "--scenarios", str(scenario_dir),
         "--runs", "1", "--out", str(tmp_path / "cli"), "--no-progress", "--workers", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "PDMS" in res.stdout and (tmp_path / "cli" / "report.md").exists()
    bad = subprocess.run(
        [sys.executable, "-c", CLI, "eval", "closed-loop", "--agent", "idm", "--scenarios",
         str(tmp_path / "nowhere"), "--out", str(tmp_path / "bad")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_skeleton_render_path_writes_videos(scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "skel"
    report = evaluate_closed_loop(
        ClosedLoopOptions(
            agents=("idm",), scenarios=scenario_dir / "tiny_brake.yaml", runs=1, out=out, render="skeleton",
            cameras=("CAM_FRONT",), image_size=(32, 56), workers=1, progress=False,
        )
    )  # fmt: skip
    assert report.payload["render"] == "skeleton" and report.payload["results"]["idm"]["overall"]["runs"] == 1
    assert (out / "runs" / "idm" / "tiny_brake" / "run_000" / "video.mp4").exists()
