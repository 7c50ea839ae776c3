"""jwmsim.scenario.dump: a Scenario written to YAML reads back to the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.scenario import load_scenario
from jwmsim.scenario.dump import ScenarioDumpError, dump_scenario, rebased, same_scenario, scenario_to_yaml
from jwmsim.scenario.library import library_names
from jwmsim.scenario.params import Uniform


@pytest.mark.parametrize("name", library_names())
def test_library_scenarios_read_back_the_same(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(name)
    out = tmp_path / f"{name.replace('/', '_')}.yaml"
    written = dump_scenario(scenario, out)
    back = load_scenario(out)
    assert same_scenario(back, written)
    if scenario.log.builtin:
        assert same_scenario(written, scenario)
    assert not same_scenario(back, scenario.model_copy(update={"seed": scenario.seed + 1}))


def test_ranges_stay_ranges_and_floats_are_exact(tmp_path: Path) -> None:
    scenario = load_scenario("cut_in")
    actor = scenario.actors[0].model_copy(update={"lateral": 0.1 + 0.2, "offset": Uniform(20.0, 30.0)})
    edited = scenario.model_copy(update={"actors": [actor]})
    back = dump_scenario(edited, tmp_path / "c.yaml")
    assert back.actors[0].lateral == 0.1 + 0.2  # repr round trip, not 0.3
    assert back.actors[0].offset == Uniform(20.0, 30.0)
    assert "{uniform: [20.0, 30.0]}" in (tmp_path / "c.yaml").read_text()
    assert same_scenario(load_scenario(tmp_path / "c.yaml"), edited)


def test_relative_dataroot_is_rebased_to_the_new_folder(town_root: Path, tmp_path: Path) -> None:
    src = tmp_path / "a" / "b"
    src.mkdir(parents=True)
    import os

    rel = os.path.relpath(town_root, src)
    (src / "s.yaml").write_text(f"version: 1\nlog: {{dataroot: {rel}}}\nduration: 1\n")
    scenario = load_scenario(src / "s.yaml")
    out = tmp_path / "elsewhere.yaml"
    written = dump_scenario(scenario, out)
    assert written.log.dataroot == os.path.relpath(town_root, tmp_path)
    assert (out.parent / written.log.dataroot).resolve() == Path(town_root).resolve()
    assert same_scenario(load_scenario(out), written)
    assert rebased(scenario, src / "again.yaml") is scenario  # same folder: unchanged


def test_unwritable_target_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ScenarioDumpError, match="does not exist"):
        dump_scenario(load_scenario("cut_in"), tmp_path / "missing" / "x.yaml")
    assert not list(tmp_path.rglob("*.yaml"))


def test_yaml_text_starts_with_version_and_name() -> None:
    text = scenario_to_yaml(load_scenario("hard_brake"))
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines[0] == "version: 1" and lines[1] == "name: hard_brake"
