"""An export loads with nuscenes-devkit: scenes, 2 Hz keyframes and sweeps, ego poses, sensors,
annotations of every simulated actor (the inserted one included), map and provenance."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from conftest import CAMERAS, SIZE

from jwmsim.export import ExportResult


@pytest.fixture(scope="module")
def nusc(exported: ExportResult):
    from nuscenes.nuscenes import NuScenes

    with contextlib.redirect_stdout(io.StringIO()):
        return NuScenes(exported.version, str(exported.out), verbose=False)


def _scene_samples(nusc, scene: dict) -> list[dict]:
    out, tok = [], scene["first_sample_token"]
    while tok:
        out.append(nusc.get("sample", tok))
        tok = out[-1]["next"]
    return out


def test_devkit_loads_one_scene_per_run_with_keyframes_and_sweeps(nusc, exported: ExportResult) -> None:
    assert exported.version == "v1.0-tiny_brake"
    assert sorted(s["name"] for s in nusc.scene) == ["scene-tiny_brake-0000", "scene-tiny_brake-0001"]
    assert len(nusc.sensor) == len(CAMERAS)  # one sensor record per channel, shared by the scenes
    assert len({lg["token"] for lg in nusc.log}) == 2 and len(nusc.map) == 1
    for scene in nusc.scene:
        samples = _scene_samples(nusc, scene)
        assert len(samples) == scene["nbr_samples"] == 4  # 1.5 s at 2 Hz: t = 0, 0.5, 1.0, 1.5 s
        assert np.allclose(np.diff([s["timestamp"] for s in samples]), 500_000)
        for cam in CAMERAS:
            sd = nusc.get("sample_data", samples[0]["data"][cam])
            chain = [sd]
            while chain[-1]["next"]:
                chain.append(nusc.get("sample_data", chain[-1]["next"]))
            assert len(chain) == 16  # 15 steps at 10 Hz + the start
            assert [c["is_key_frame"] for c in chain] == [i % 5 == 0 for i in range(16)]
            assert all(
                c["filename"].startswith("samples/" if c["is_key_frame"] else "sweeps/") for c in chain
            )
            assert (chain[0]["height"], chain[0]["width"]) == SIZE
            assert all((exported.out / c["filename"]).stat().st_size > 0 for c in chain)
            # the ego moves along the simulated drive
            xy = np.array([nusc.get("ego_pose", c["ego_pose_token"])["translation"][:2] for c in chain])
            assert np.linalg.norm(xy[-1] - xy[0]) > 3.0


def test_annotations_have_stable_instances_category_size_velocity_visibility(nusc) -> None:
    by_instance: dict[str, list[dict]] = {}
    for ann in nusc.sample_annotation:
        by_instance.setdefault(ann["instance_token"], []).append(ann)
        assert len(ann["size"]) == 3 and min(ann["size"]) > 0
        assert ann["visibility_token"] in {"1", "2", "3", "4"}
        assert 0.0 <= ann["visible_fraction"] <= 1.0 and len(ann["velocity"]) == 3
    leaders = [a for a in nusc.sample_annotation if a["actor_id"] == "leader"]
    assert len(leaders) == 8 and {a["actor_source"] for a in leaders} == {"inserted"}
    assert {a["category_name"] for a in leaders} == {"vehicle.car"}
    # the leader drives ahead of the ego in its lane: fully seen by CAM_FRONT at the start
    first = [a for a in leaders if not a["prev"]]
    assert len(first) == 2 and all(a["visibility_token"] == "4" for a in first)
    for inst in nusc.instance:  # one instance per actor and scene, linked over its keyframes
        anns = by_instance[inst["token"]]
        assert len(anns) == inst["nbr_annotations"]
        assert len({a["actor_id"] for a in anns}) == 1
        assert len({nusc.get("sample", a["sample_token"])["scene_token"] for a in anns}) == 1
    # the simulated velocity agrees with the devkit's finite differences of the boxes
    for a in leaders:
        if a["prev"] and a["next"]:
            assert np.allclose(nusc.box_velocity(a["token"])[:2], a["velocity"][:2], atol=1.5)
    assert len({a["actor_source"] for a in nusc.sample_annotation}) == 2  # log actors too


def test_provenance_names_render_path_and_scene_digest(nusc, exported: ExportResult) -> None:
    prov = json.loads((exported.out / "provenance.json").read_text())
    for sd in nusc.sample_data:
        rec = prov["records"][sd["provenance"]]
        assert rec["render_path"] == "skeleton" and rec["scene_source"] == "lidar"
        assert (
            rec["scene"] == nusc.get("scene", nusc.get("sample", sd["sample_token"])["scene_token"])["name"]
        )
        scene = rec["gaussian_scene"]
        assert len(scene["digest"]) == 16 and scene["method"] == "lidar" and scene["log_digest"]
        assert scene == prov["records"]["scene-tiny_brake-0000"]["gaussian_scene"]
    draws = [prov["records"][s["name"]]["draws"] for s in nusc.scene]
    assert draws[0] != draws[1]  # each scene is its own jittered run


def test_map_is_the_seed_logs(nusc, exported: ExportResult, town_log) -> None:
    rec = nusc.map[0]
    assert set(rec["log_tokens"]) == {lg["token"] for lg in nusc.log}
    src = json.loads((town_log / "v1.0-mini" / "map.json").read_text())[0]
    assert (exported.out / rec["filename"]).read_bytes() == (town_log / src["filename"]).read_bytes()
    assert (exported.out / "maps" / "lanes" / f"{rec['token']}.json").is_file()
    assert (exported.out / "extras" / "drivable_area.geojson").is_file()
    assert not list(exported.out.rglob("*.partial*"))
    assert not (exported.out / ".export" / "staging").exists() or not any(
        (exported.out / ".export" / "staging").iterdir()
    )
