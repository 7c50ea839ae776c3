"""A planner that fails in one run: the run table shows that run as FAILED with its cause and no
metrics, and the aggregate counts it as a failure (0 on every score), never as a perfect drive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jwmsim.logs.procedural import LogConfig, write_town_log
from jwmsim.replay import FAILED_SCORE, PlannerFailed, ReplayOptions, replay, summary_table
from jwmsim.scenario import load_scenario, sample

SCENARIO = """\
version: 1
name: tiny_lead
log:
  dataroot: {root}
ego:
  start_time: 0.5
duration: 1.0
runs: 2
seed: 3
actors:
  - id: leader
    asset: sedan
    lane: ego
    offset: {{uniform: [14, 20]}}
    speed_ratio: 1.0
"""

# fails in the run whose leader starts farther than THRESHOLD ahead (the second run, see below)
FAILS_IN_ONE_RUN = """\
import numpy as np
from jwmsim.planning import Planner

class FailsInOneRun(Planner):
    def compute_action(self, state, observation):
        i = state.actors.index("leader")
        a = state.world.initial_actors
        ahead = float(np.hypot(a.x[i] - state.world.initial_ego.x, a.y[i] - state.world.initial_ego.y))
        if state.step == 4 and ahead > {threshold}:
            raise RuntimeError("the planner's map lookup broke")
        return np.zeros(2)
"""


def test_a_failed_run_is_shown_failed_and_counts_as_a_failure(tmp_path: Path) -> None:
    cfg = LogConfig(duration=2.0, width=64, height=36, lidar_azimuth_steps=256, workers=1)
    root = write_town_log(5, tmp_path / "town5", cfg, progress=False)
    scenario = tmp_path / "tiny_lead.yaml"
    scenario.write_text(SCENARIO.format(root=root))
    offsets = [sample(load_scenario(scenario), k).draws["actors[0].offset"] for k in (0, 1)]
    assert offsets[1] - offsets[0] > 0.5, f"the test needs the second run's leader farther ahead: {offsets}"
    agent = tmp_path / "fails_in_one_run.py"
    agent.write_text(FAILS_IN_ONE_RUN.format(threshold=sum(offsets) / 2))
    out = tmp_path / "out"
    opts = ReplayOptions(out=out, agent=str(agent), render="none", progress=False, workers=1)
    with pytest.raises(PlannerFailed, match="failed in run 1") as err:
        replay(scenario, opts)
    result = err.value.result
    assert [r.status for r in result.runs] == ["finished", "failed"]
    good = result.runs[0].metrics
    assert good["pdms"] > 0.5  # the finished run scored well

    table = summary_table(result).splitlines()
    failed_row = next(line for line in table if line.split()[:2] == ["1", "FAILED"])
    assert "step 4" in failed_row and "RuntimeError: the planner's map lookup broke" in failed_row
    assert not any(f"{v:.3f}" in failed_row for v in good.values() if isinstance(v, float))  # no metrics
    assert any("1 failed run(s) count as 0" in line and "failure rate 0.50" in line for line in table)

    agg = result.aggregate
    assert agg["runs_failed"] == 1 and agg["failure_rate"] == 0.5
    for name in ("pdms", "nc", "dac", "rc"):  # the failure pulls every mean down, never up
        assert agg[name]["mean"] == pytest.approx((good[name] + FAILED_SCORE) / 2)
        assert agg[name]["min"] == FAILED_SCORE
    summary = json.loads((out / "summary.json").read_text())
    assert summary["aggregate"]["pdms"]["mean"] == pytest.approx(agg["pdms"]["mean"])
    assert json.loads((out / "run_001" / "metrics.json").read_text())["status"] == "failed"
