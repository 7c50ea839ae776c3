"""Trials in parallel: two local worker processes, and Ray tasks, each trial told once with the
metrics its values give (slow: they start worker processes / a local Ray instance)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from jwmsim.scenario import load_scenario
from jwmsim.search import SearchOptions, search
from jwmsim.search.study import STUDY_FILE, STUDY_NAME

pytestmark = pytest.mark.slow



def _check(out: Path, budget: int) -> None:
    from jwmsim.replay import ReplayOptions, replay

    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / STUDY_FILE}")
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * budget
    assert len({tuple(t.params.values()) for t in study.trials}) == budget  # each asked once
    worst = min(study.trials, key=lambda t: (t.user_attrs["metric"], t.user_attrs["ttc_margin"], t.number))
    assert load_scenario(out / "worst_001.yaml").actors[0].offset == worst.params["actors[0].offset"]
    again = replay(
        out / "worst_001.yaml", ReplayOptions(out=out / "again", render="none", workers=1, progress=False)
    )
    assert again.runs[0].metrics == worst.user_attrs["metrics"]


def test_two_local_worker_processes(brake_file: Path, tmp_path: Path) -> None:
    opts = SearchOptions(out=tmp_path / "out", budget=4, seed=1, workers=2, video=False, progress=False)
    result = search(brake_file, opts)
    assert result.report["backend"]["workers"] == 2
    _check(tmp_path / "out", 4)


def test_ray_tasks(brake_file: Path, tmp_path: Path, local_ray: object) -> None:
    opts = SearchOptions(
        out=tmp_path / "out", budget=4, seed=1, workers=2, backend="ray", video=False, progress=False
    )
    result = search(brake_file, opts)
    assert result.report["backend"]["name"] == "ray"
    _check(tmp_path / "out", 4)
