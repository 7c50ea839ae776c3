"""Jitter -> search space, and a trial's values -> a scenario without jitter that reads back exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from jwmsim.errors import ConfigError
from jwmsim.scenario import fix_draws, jitter_ranges, load_scenario, parse_scenario, sample
from jwmsim.scenario.dump import dump_scenario
from jwmsim.search import NothingToSearch
from jwmsim.search.space import (
    all_continuous,
    fixed_case,
    fixed_values,
    portable_agent,
    scenario_fingerprint,
    search_space,
)

TEXT = """\
version: 1
seed: 5
runs: 20
ego: {start_time: {uniform: [0.5, 1.5]}, offset: {lateral: {choice: [0.5]}}}
actors:
  - id: a
    asset: sedan
    lane: {choice: [ego_left, ego_right]}
    offset: {uniform: [10, 30]}
    speed: {uniform: [7, 7]}
    trigger: {type: time, at: {uniform: [1, 3]}}
    then: {type: hard_brake, decel: {choice: [4, 6, 8]}}
"""


def test_ranges_become_distributions_and_fixed_ranges_stay_out() -> None:
    s = parse_scenario(TEXT, "space.yaml")
    space = search_space(s)
    assert space == {
        "ego.start_time": FloatDistribution(0.5, 1.5),
        "actors[0].lane": CategoricalDistribution(["ego_left", "ego_right"]),
        "actors[0].offset": FloatDistribution(10.0, 30.0),
        "actors[0].trigger.at": FloatDistribution(1.0, 3.0),
        "actors[0].then.decel": CategoricalDistribution([4.0, 6.0, 8.0]),
    }
    assert fixed_values(s) == {"ego.offset.lateral": 0.5, "actors[0].speed": 7.0}
    assert not all_continuous(space)
    assert all_continuous({k: v for k, v in space.items() if isinstance(v, FloatDistribution)})


def test_a_scenario_without_jitter_has_nothing_to_search() -> None:
    plain = parse_scenario("version: 1\nname: plain\nactors: [{id: a, asset: sedan, offset: 12}]\n", "p.yaml")
    with pytest.raises(NothingToSearch, match="no jittered parameter: there is nothing to search") as err:
        search_space(plain)
    assert err.value.exit_code == 2 and "uniform" in (err.value.hint or "")
    fixed_only = parse_scenario("version: 1\nduration: {uniform: [5, 5]}\n", "f.yaml")
    with pytest.raises(NothingToSearch, match="only ranges that cannot vary"):
        search_space(fixed_only)


def test_fix_draws_puts_the_values_in_and_checks_them() -> None:
    s = parse_scenario(TEXT, "space.yaml")
    drawn = sample(s, 3)
    again = fix_draws(s, drawn.draws, run_index=3)
    assert again.scenario.model_dump() == drawn.scenario.model_dump()
    assert again.draws == drawn.draws and again.seed == 5
    values = dict(drawn.draws)
    with pytest.raises(ConfigError, match="outside its range"):
        fix_draws(s, {**values, "actors[0].offset": 31.0})
    with pytest.raises(ConfigError, match="outside its range"):
        fix_draws(s, {**values, "actors[0].lane": "oncoming"})
    with pytest.raises(ConfigError, match="no value for the jittered parameter actors\\[0\\].offset"):
        fix_draws(s, {k: v for k, v in values.items() if k != "actors[0].offset"})
    with pytest.raises(ConfigError, match="not ranges"):
        fix_draws(s, {**values, "duration": 3.0})


def test_a_fixed_case_is_written_without_jitter_and_reads_back_bit_for_bit(tmp_path: Path) -> None:
    s = parse_scenario(TEXT, tmp_path / "space.yaml")
    params = {
        "ego.start_time": 0.7123456789012345,
        "actors[0].lane": "ego_right",
        "actors[0].offset": 12.345678901234567,
        "actors[0].trigger.at": 2.9999999999,
        "actors[0].then.decel": 6.0,
    }
    case = fixed_case(s, params, agent="constant_velocity", name="space_worst_001", description="found")
    dump_scenario(case, tmp_path / "case.yaml")
    back = load_scenario(tmp_path / "case.yaml")
    assert not jitter_ranges(back)
    assert back.runs == 1 and back.agent == "constant_velocity" and back.name == "space_worst_001"
    assert back.ego.start_time == params["ego.start_time"]
    assert back.actors[0].offset == params["actors[0].offset"]
    assert back.actors[0].lane == "ego_right" and back.actors[0].speed == 7.0
    assert back.actors[0].trigger.at == params["actors[0].trigger.at"]
    assert back.ego.offset.lateral == 0.5 and back.seed == 5


def test_fingerprint_follows_the_ranges_not_the_name_or_runs() -> None:
    s = parse_scenario(TEXT, "space.yaml")
    renamed = parse_scenario(TEXT.replace("runs: 20", "runs: 3\nname: other"), "space.yaml")
    assert scenario_fingerprint(s) == scenario_fingerprint(renamed)
    wider = parse_scenario(TEXT.replace("[10, 30]", "[10, 31]"), "space.yaml")
    assert scenario_fingerprint(s) != scenario_fingerprint(wider)


def test_portable_agent_makes_planner_files_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert portable_agent("idm") == "idm"
    assert portable_agent("planners/mine.py") == str(tmp_path / "planners" / "mine.py")
