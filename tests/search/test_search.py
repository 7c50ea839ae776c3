"""The search end to end on a tiny log: cases that replay to the recorded metric, resuming,
refusing another study, Ctrl-C and failing planners keeping every finished trial, the CLI's errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pytest
from conftest import planner_file
from optuna.trial import TrialState

from jwmsim.cli import main
from jwmsim.errors import ConfigError
from jwmsim.scenario import jitter_ranges, load_scenario
from jwmsim.search import (
    SearchBusy,
    SearchFailed,
    SearchInterrupted,
    SearchOptions,
    StudyMismatch,
    search,
)
from jwmsim.search.study import STUDY_FILE, STUDY_NAME


def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / STUDY_FILE}")


def _opts(out: Path, **kw: object) -> SearchOptions:
    return SearchOptions(**{"out": out, "budget": 4, "seed": 1, "video": False, "progress": False, **kw})


@pytest.fixture(scope="module")
def searched(scenario_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished search of 4 trials (top 2) of tiny_brake with idm."""
    out = tmp_path_factory.mktemp("search") / "out"
    search(scenario_dir / "tiny_brake.yaml", _opts(out, top=2))
    return out


def test_the_worst_case_file_replays_to_the_metric_the_search_recorded(
    searched: Path, tmp_path: Path
) -> None:
    from jwmsim.replay import ReplayOptions, replay

    study = _study(searched)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 4
    worst = min(done, key=lambda t: (t.user_attrs["metric"], t.user_attrs["ttc_margin"], t.number))
    case = load_scenario(searched / "worst_001.yaml")
    assert not jitter_ranges(case) and case.runs == 1 and case.agent == "idm"
    assert case.actors[0].offset == worst.params["actors[0].offset"]
    assert case.actors[0].then.decel == worst.params["actors[0].then.decel"]
    again = replay(
        searched / "worst_001.yaml",
        ReplayOptions(out=tmp_path / "again", render="none", workers=1, progress=False),
    )
    metrics = again.runs[0].metrics
    assert metrics["pdms"] == pytest.approx(worst.user_attrs["metric"], abs=1e-9)
    assert metrics == worst.user_attrs["metrics"]


def test_the_report_holds_history_importance_plot_and_the_replay_check(searched: Path) -> None:
    data = json.loads((searched / "report.json").read_text())
    assert data["trials"] == {"finished": 4, "failed": 0, "this_call": 4}
    assert [c["rank"] for c in data["worst"]] == [1, 2]
    assert sorted(p.name for p in searched.glob("worst_*.yaml")) == ["worst_001.yaml", "worst_002.yaml"]
    assert data["worst"][0]["metric"] <= data["worst"][1]["metric"]
    rows = data["history"]
    assert [r["trial"] for r in rows] == [0, 1, 2, 3]
    assert all(a["worst_so_far"] >= b["worst_so_far"] for a, b in zip(rows, rows[1:], strict=False))
    assert rows[-1]["worst_so_far"] == data["worst"][0]["metric"]
    assert set(data["space"]) == {
        "actors[0].offset",
        "actors[0].speed_ratio",
        "actors[0].trigger.at",
        "actors[0].then.decel",
    }
    if data["importance"] is not None:
        assert set(data["importance"]) <= set(data["space"])
        assert sum(data["importance"].values()) == pytest.approx(1.0, abs=1e-3)
    assert data["replay"]["reproduced"] and data["replay"]["differ"] == {}
    assert (searched / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (searched / "report.md").read_text()
    assert "## Worst cases" in md and "worst_001.yaml" in md and "## Parameters that matter most" in md


def test_a_second_call_continues_the_study(searched: Path, scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(searched, out)
    before = {t.number: t.params for t in _study(out).trials}
    result = search(scenario_dir / "tiny_brake.yaml", _opts(out, budget=6, top=2))
    study = _study(out)
    assert result.new_trials == 2
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4, 5]
    assert {t.number: t.params for t in study.trials[:4]} == before
    assert study.trials[4].params not in before.values()  # a resumed sampler draws new points
    assert search(scenario_dir / "tiny_brake.yaml", _opts(out, budget=6, top=2)).new_trials == 0


def test_a_folder_with_another_study_is_refused(searched: Path, scenario_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        (scenario_dir / "tiny_brake.yaml").read_text().replace("name: tiny_brake", "name: other")
    )
    with pytest.raises(
        StudyMismatch, match="holds the search study of scenario 'tiny_brake', not of 'other'"
    ):
        search(other, _opts(searched))
    wider = tmp_path / "tiny_brake.yaml"
    wider.write_text((scenario_dir / "tiny_brake.yaml").read_text().replace("[6, 20]", "[6, 25]"))
    with pytest.raises(StudyMismatch, match="other parameters or ranges"):
        search(wider, _opts(searched))
    with pytest.raises(StudyMismatch, match="agent 'idm', not 'constant_velocity'") as err:
        search(scenario_dir / "tiny_brake.yaml", _opts(searched, agent="constant_velocity"))
    assert "--agent idm" in (err.value.hint or "")
    with pytest.raises(StudyMismatch, match="objective 'pdms', not 'hd_score'"):
        search(scenario_dir / "tiny_brake.yaml", _opts(searched, objective="hd_score"))
    assert len(_study(searched).trials) == 4  # nothing was added


def test_ctrl_c_during_a_trial_keeps_every_finished_trial(scenario_dir: Path, tmp_path: Path) -> None:
    agent = planner_file(tmp_path, runs=2, error="KeyboardInterrupt")  # in the third trial
    out = tmp_path / "out"
    with pytest.raises(SearchInterrupted, match="2 finished trial\\(s\\) are kept") as err:
        search(scenario_dir / "tiny_brake.yaml", _opts(out, agent=str(agent), budget=10))
    assert err.value.exit_code == 130 and "again" in (err.value.hint or "")
    states = [(t.number, t.state) for t in _study(out).trials]
    assert states == [(0, TrialState.COMPLETE), (1, TrialState.COMPLETE), (2, TrialState.FAIL)]
    assert _study(out).trials[2].user_attrs["status"] == "interrupted"
    # the same command continues (the planner file now lets every call through)
    planner_file(tmp_path, runs=10**9, error="KeyboardInterrupt")
    search(scenario_dir / "tiny_brake.yaml", _opts(out, agent=str(agent), budget=3))
    done = _study(out).get_trials(states=(TrialState.COMPLETE,))
    assert [t.number for t in done] == [0, 1, 3]


def test_a_failing_planner_stops_the_search_and_keeps_the_finished_trials(
    scenario_dir: Path, tmp_path: Path
) -> None:
    agent = planner_file(tmp_path, runs=1, error="ValueError('boom')")  # in the second trial
    out = tmp_path / "out"
    with pytest.raises(SearchFailed, match="failed in trial 1 at step 3: ValueError: boom") as err:
        search(scenario_dir / "tiny_brake.yaml", _opts(out, agent=str(agent)))
    assert "boom" in (err.value.traceback or "")
    assert [t.state for t in _study(out).trials] == [TrialState.COMPLETE, TrialState.FAIL]


def test_cmaes_needs_continuous_parameters(scenario_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CMA-ES searches continuous parameters only"):
        search(scenario_dir / "tiny_brake.yaml", _opts(tmp_path / "out", sampler="cmaes"))


def test_bad_options_are_refused() -> None:
    for kw, text in (
        ({"budget": 0}, "--budget must be at least 1"),
        ({"budget": -3}, "--budget must be at least 1"),
        ({"objective": "pdsm"}, "did you mean 'pdms'"),
        ({"sampler": "grid"}, "unknown sampler"),
        ({"top": 0}, "--top must be at least 1"),
        ({"ray_address": "head:6379"}, "--ray-address needs --backend ray"),
    ):
        with pytest.raises(ConfigError, match=text):
            SearchOptions(**kw)


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["tiny_plain.yaml", "--budget", "3"], 2, "has no jittered parameter: there is nothing to search"),
        (["tiny_brake.yaml", "--objective", "pdsm"], 2, "unknown objective 'pdsm'"),
        (["tiny_brake.yaml", "--budget", "0"], 2, "--budget must be at least 1"),
    ],
)
def test_cli_errors_are_clear_and_exit_non_zero(
    scenario_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    text: str,
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["search", str(scenario_dir / args[0]), *args[1:], "--out", str(tmp_path / "out")])
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    assert text in err and "hint:" in err and "Traceback" not in err
    assert not (tmp_path / "out" / STUDY_FILE).exists()


def test_cli_search_prints_the_cases_and_plain_progress(
    scenario_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["--budget", "3", "--top", "1", "--seed", "2", "--no-video", "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        main(["search", str(scenario_dir / "tiny_brake.yaml"), *args])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "tiny_brake: trial 3/3, worst so far pdms=" in printed  # not a terminal: plain lines
    assert "replay of the worst case: same metrics" in printed
    assert f"jwmsim view {out / 'worst_001.yaml'}" in printed


def test_the_viewer_opens_a_found_case(
    searched: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    shot = tmp_path / "view.png"
    args = ["--screenshot", str(shot), "--steps", "2", "--render", "none"]  # the BEV and the panel
    with pytest.raises(SystemExit) as exit_info:
        main(["view", str(searched / "worst_001.yaml"), *args])
    assert exit_info.value.code == 0
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_a_trial_left_running_by_a_killed_search_is_closed_as_failed(
    searched: Path, scenario_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(searched, out)
    _study(out).ask()  # trial 4: asked by a search that was then killed
    search(scenario_dir / "tiny_brake.yaml", _opts(out, budget=5, top=1))
    states = [t.state for t in _study(out).trials]
    assert states == [TrialState.COMPLETE] * 4 + [TrialState.FAIL, TrialState.COMPLETE]


def test_two_searches_in_one_folder_at_once_are_refused(scenario_dir: Path, tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".search.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SearchBusy, match="another search is running in"):
            search(scenario_dir / "tiny_brake.yaml", _opts(out))
    assert not (out / STUDY_FILE).exists()
