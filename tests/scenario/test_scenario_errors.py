"""Bad scenario files: every error names the file, the line, the field path, what was found and
what is expected, and exits with code 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jwmsim.errors import ConfigError
from jwmsim.scenario import ScenarioError, load_scenario

GOOD = """\
version: 1
log: builtin
ego:
  start_time: 1.0
duration: 10
actors:
  - id: cutter
    asset: sedan
    lane: ego_left
    offset: {uniform: [20, 30]}
    speed: 8.0
    behaviour: {type: idm}
    trigger: {type: distance_to_ego, distance: 15}
    then: {type: cut_in, target_lane: ego, duration: 2.0}
"""


def _replace(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


# (case id, file text, line, field path, in 'found', in 'expected')
CASES = [
    (
        "yaml-syntax",
        _replace("  start_time: 1.0", "  start_time: [1.0"),
        5,
        "",
        "YAML syntax error",
        "valid YAML",
    ),
    (
        "yaml-tab-indent",
        _replace("    asset: sedan", "\tasset: sedan"),
        8,
        "",
        "YAML syntax error",
        "valid YAML",
    ),
    ("empty-file", "", 1, "", "an empty file", "version: 1"),
    ("not-a-mapping", "- version: 1\n", 1, "", "a list", "a mapping of fields"),
    ("missing-version", GOOD.replace("version: 1\n", ""), 1, "version", "nothing", "'version'"),
    (
        "unknown-version",
        _replace("version: 1", "version: 2"),
        1,
        "version",
        "2",
        "1 (the only scenario schema",
    ),
    (
        "unknown-field",
        _replace("duration: 10", "duraton: 10"),
        5,
        "duraton",
        "unknown field 'duraton'",
        "did you mean 'duration'?",
    ),
    ("wrong-type", _replace("duration: 10", "duration: long"), 5, "duration", "'long'", "a number > 0"),
    (
        "runs-not-integer",
        _replace("duration: 10", "duration: 10\nruns: many"),
        6,
        "runs",
        "'many'",
        "an integer",
    ),
    ("negative-speed", _replace("speed: 8.0", "speed: -3"), 11, "actors[0].speed", "-3", "a number >= 0"),
    ("duration-over-60", _replace("duration: 10", "duration: 90"), 5, "duration", "90", "<= 60"),
    ("duration-zero", _replace("duration: 10", "duration: 0"), 5, "duration", "0", "> 0"),
    (
        "range-reversed",
        _replace("[20, 30]", "[30, 20]"),
        10,
        "actors[0].offset",
        "uniform: [30, 20]",
        "lo <= hi",
    ),
    (
        "range-misspelt",
        _replace("{uniform: [20, 30]}", "{unifrom: [20, 30]}"),
        10,
        "actors[0].offset",
        "key(s) unifrom",
        "did you mean 'uniform'?",
    ),
    ("range-not-numbers", _replace("[20, 30]", "[20, far]"), 10, "actors[0].offset", "'far'", "a number"),
    (
        "unknown-behaviour",
        _replace("{type: cut_in,", "{type: cutin,"),
        14,
        "actors[0].then",
        "type 'cutin'",
        "did you mean 'cut_in'?",
    ),
    (
        "behaviour-without-type",
        _replace("{type: idm}", "{speed: 5}"),
        12,
        "actors[0].behaviour",
        "speed: 5",
        "'type' field",
    ),
    (
        "unknown-trigger",
        _replace("type: distance_to_ego,", "type: distance,"),
        13,
        "actors[0].trigger",
        "type 'distance'",
        "did you mean 'distance_to_ego'?",
    ),
    (
        "unknown-behaviour-parameter",
        _replace("duration: 2.0}", "duration: 2.0, speeed: 3}"),
        14,
        "actors[0].then.speeed",
        "unknown field 'speeed'",
        "did you mean 'speed'?",
    ),
    (
        "unknown-asset",
        _replace("asset: sedan", "asset: sedna"),
        8,
        "actors[0].asset",
        "'sedna'",
        "did you mean 'sedan'?",
    ),
    ("missing-asset", _replace("    asset: sedan\n", ""), 7, "actors[0].asset", "nothing", "'asset'"),
    (
        "trigger-without-then",
        _replace("    then: {type: cut_in, target_lane: ego, duration: 2.0}\n", ""),
        13,
        "actors[0].trigger",
        "a trigger without 'then'",
        "both 'trigger' and 'then'",
    ),
    (
        "duplicate-key",
        _replace("duration: 10", "duration: 10\nduration: 12"),
        6,
        "duration",
        "the key 'duration' a second time (first on line 5)",
        "each key once",
    ),
    (
        "duplicate-actor-id",
        GOOD + "  - {id: cutter, asset: suv}\n",
        15,
        "actors[1].id",
        "id 'cutter' again",
        "a unique id",
    ),
    (
        "behaviour-for-wrong-kind",
        _replace("asset: sedan", "asset: pedestrian"),
        14,
        "actors[0].then.type",
        "'cut_in' for asset 'pedestrian'",
        "pedestrian_crossing",
    ),
    (
        "speed-and-ratio",
        _replace("speed: 8.0", "speed: 8.0\n    speed_ratio: 1.1"),
        12,
        "actors[0].speed_ratio",
        "both speed and speed_ratio",
        "at most one",
    ),
    (
        "waypoints-not-increasing",
        GOOD + "  - id: w\n    asset: sedan\n    behaviour:\n      type: waypoints\n"
        "      points: [{t: 0, x: 5, y: 0}, {t: 0, x: 9, y: 0}]\n",
        19,
        "actors[1].behaviour.points",
        "times [0.0, 0.0]",
        "strictly increasing",
    ),
    (
        "log-replay-on-inserted",
        _replace("{type: idm}", "{type: log_replay}"),
        12,
        "actors[0].behaviour.type",
        "'log_replay' on an inserted actor",
        "only for log actors",
    ),
    (
        "bad-side-choice",
        GOOD + "  - id: p\n    asset: pedestrian\n    behaviour: {type: pedestrian_crossing, "
        "direction: {choice: [left, up]}}\n",
        17,
        "actors[1].behaviour.direction",
        "'up'",
        "one of ['left', 'right']",
    ),
    (
        "log-both-sources",
        _replace("log: builtin", "log: {builtin: true, dataroot: /data}"),
        2,
        "log",
        "both builtin and dataroot",
        "'builtin' or {dataroot",
    ),
    (
        "agent-file-missing",
        _replace("duration: 10", "duration: 10\nagent: planners/nope.py"),
        6,
        "agent",
        "does not exist",
        "a .py file",
    ),
    (
        "ego-speed-trigger-empty",
        _replace("{type: distance_to_ego, distance: 15}", "{type: ego_speed}"),
        13,
        "actors[0].trigger",
        "neither min nor max",
        "min and/or max",
    ),
    (
        "unknown-agent",
        _replace("duration: 10", "duration: 10\nagent: idmm"),
        6,
        "agent",
        "'idmm'",
        "did you mean 'idm'?",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "found", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_located_and_explained(
    tmp_path: Path, text: str, line: int, path: str, found: str, expected: str
) -> None:
    file = tmp_path / "bad_scenario.yaml"
    file.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    err = info.value
    assert isinstance(err, ConfigError) and err.exit_code == 2
    matching = [i for i in err.issues if i.path == path]
    assert matching, f"no issue at {path!r}: {err}"
    issue = matching[0]
    assert issue.file == str(file) and issue.line == line, str(err)
    assert found in issue.found, str(err)
    assert expected in issue.expected, str(err)
    location = f"{file}:{line}:" + (f" {path}:" if path else "")
    assert location in str(err) and "found" in str(err) and "expected" in str(err)


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    text = (
        GOOD.replace("speed: 8.0", "speed: -1")
        .replace("duration: 10", "duration: 99")
        .replace("asset: sedan", "asset: tank")
    )
    file = tmp_path / "many.yaml"
    file.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    assert {i.path for i in info.value.issues} >= {"duration", "actors[0].asset", "actors[0].speed"}
    assert str(info.value).startswith(f"3 problems in {file}")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such file") as info:
        load_scenario(tmp_path / "nope.yaml")
    assert info.value.exit_code == 2
    with pytest.raises(ScenarioError, match="unreadable file"):
        load_scenario(tmp_path)


def test_the_good_base_file_is_valid(tmp_path: Path) -> None:
    file = tmp_path / "good.yaml"
    file.write_text(textwrap.dedent(GOOD))
    s = load_scenario(file)
    assert s.name == "good" and s.actors[0].then.type == "cut_in"
