"""Jitter sampling: exact reproducibility per (seed, run index), variation across runs, ranges kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import ConfigError
from jwmsim.scenario import (
    Choice,
    Uniform,
    jittered_paths,
    load_scenario,
    parse_scenario,
    sample,
    sample_runs,
)
from jwmsim.scenario.jitter import is_concrete

REPO = Path(__file__).resolve().parents[2]

TEXT = """\
version: 1
seed: 5
runs: 50
ego: {start_time: {uniform: [0.5, 1.5]}, offset: {lateral: {choice: [-0.5, 0.0, 0.5]}}}
actors:
  - id: a
    asset: sedan
    lane: {choice: [ego_left, ego_right]}
    offset: {uniform: [10, 30]}
    speed: 7
    behaviour: {type: idm, speed: {uniform: [5, 9]}}
    trigger: {type: time, at: {uniform: [1, 3]}}
    then:
      type: waypoints
      points: [{t: 0, x: 5, y: {uniform: [-1, 1]}}, {t: 2, x: 20, y: 0}]
"""


def test_same_seed_and_run_reproduce_exactly() -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    for run in (0, 3, 17):
        a, b = sample(s, run), sample(s, run)
        assert a.draws == b.draws
        assert a.scenario.model_dump() == b.scenario.model_dump()
    # a freshly parsed copy of the file draws the same too
    assert sample(parse_scenario(TEXT, "again.yaml"), 4).draws == sample(s, 4).draws


def test_runs_and_seeds_differ() -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    offsets = [sample(s, i).draws["actors[0].offset"] for i in range(20)]
    assert len(set(offsets)) == 20
    assert sample(s, 0, seed=6).draws["actors[0].offset"] != sample(s, 0).draws["actors[0].offset"]
    lanes = {sample(s, i).draws["actors[0].lane"] for i in range(20)}
    assert lanes == {"ego_left", "ego_right"}


def test_draws_respect_ranges_and_fill_every_parameter() -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    paths = jittered_paths(s)
    assert paths == [
        "ego.start_time",
        "ego.offset.lateral",
        "actors[0].behaviour.speed",
        "actors[0].trigger.at",
        "actors[0].then.points[0].y",
        "actors[0].lane",
        "actors[0].offset",
    ]
    for run in sample_runs(s):
        c = run.scenario
        assert is_concrete(c) and set(run.draws) == set(paths)
        assert 0.5 <= c.ego.start_time <= 1.5 and c.ego.offset.lateral in (-0.5, 0.0, 0.5)
        a = c.actors[0]
        assert 10 <= a.offset <= 30 and 5 <= a.behaviour.speed <= 9 and 1 <= a.trigger.at <= 3
        assert -1 <= a.then.points[0].y <= 1 and a.speed == 7.0
    assert len(sample_runs(s)) == 50 and len(sample_runs(s, runs=3)) == 3
    # the unsampled scenario keeps its ranges
    assert isinstance(s.actors[0].offset, Uniform) and isinstance(s.actors[0].lane, Choice)


def test_uniform_draws_cover_the_range() -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    xs = np.array([sample(s, i).draws["actors[0].offset"] for i in range(400)])
    assert xs.min() < 12 and xs.max() > 28 and abs(xs.mean() - 20) < 1.5


def test_a_new_range_elsewhere_leaves_other_draws_unchanged() -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    t = parse_scenario(TEXT.replace("speed: 7", "speed: {uniform: [6, 8]}"), "more.yaml")
    for run in range(5):
        a, b = sample(s, run).draws, sample(t, run).draws
        assert all(a[k] == b[k] for k in a)


def test_library_reproducible_and_sample_dumps_to_json() -> None:
    s = load_scenario(REPO / "scenarios" / "cut_in.yaml")
    rec = sample(s, 2).to_dict()
    assert rec["run_index"] == 2 and rec["seed"] == s.seed
    assert rec["scenario"]["actors"][0]["offset"] == rec["draws"]["actors[0].offset"]
    assert s.model_dump(mode="json")["actors"][0]["offset"] == {"uniform": [15.0, 25.0]}


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_run_index(bad: object) -> None:
    s = parse_scenario(TEXT, "jitter.yaml")
    with pytest.raises(ConfigError, match="run index"):
        sample(s, bad)  # type: ignore[arg-type]
