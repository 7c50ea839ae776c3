"""Procedural logs: determinism by seed, variety across seeds, and the nuScenes round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from nuscenes.nuscenes import NuScenes

from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.nuscenes_writer import TABLE_NAMES
from jwmsim.logs.procedural import LogConfig, Town, TownConfig, write_town_log
from jwmsim.logs.procedural.rig import RIG_LAYOUT


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_log_bytes(tiny_log: Path, tiny_config: LogConfig, tmp_path: Path) -> None:
    from dataclasses import replace

    again = write_town_log(5, tmp_path / "again", replace(tiny_config, workers=1), progress=False)
    a, b = _files(tiny_log), _files(again)
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert different == [], f"not reproducible: {different[:5]}"


def test_same_seed_same_town_and_different_seeds_differ(town: Town) -> None:
    same = Town.generate(5)
    np.testing.assert_array_equal(same.static_mesh.vertices, town.static_mesh.vertices)
    assert [a.actor_id for a in same.actors] == [a.actor_id for a in town.actors]
    np.testing.assert_array_equal(same.actors[0].states, town.actors[0].states)
    np.testing.assert_array_equal(same.ego_states, town.ego_states)
    other = Town.generate(6)
    assert not other.drivable_area.equals(town.drivable_area)
    assert other.static_mesh.num_faces != town.static_mesh.num_faces
    assert not np.allclose(other.lighting.sun_direction, town.lighting.sun_direction)


def test_town_has_what_the_issue_asks_for(town: Town) -> None:
    main, cross = town.roads[:2]
    assert main.lanes_forward >= 2 and main.lanes_backward >= 2
    assert np.ptp(main.ref.heading) > np.radians(30), "the main road has a curve"
    assert town.junctions["main"][0].kind == "crossing" and town.junctions["cross"], "a four-way junction"
    assert set(town.lanes) >= {"main:fwd:0", "main:fwd:1", "main:bwd:0", "main:bwd:1", "cross:fwd:0"}
    cats = [a.category for a in town.actors]
    assert any(c.startswith("human.pedestrian") for c in cats)
    attrs = {a.attributes[0] for a in town.actors}
    assert {"vehicle.moving", "vehicle.stopped"} <= attrs
    movers = [a for a in town.actors if a.actor_id.startswith("car-")]
    lateral = [np.ptp(main.ref.project(a.states[a.present, :2])[1]) for a in movers if a.present.sum() > 2]
    assert len(movers) >= 6
    # ego stays in its lane on the drivable area for the whole drive
    assert shapely.contains_xy(town.drivable_area, town.ego_states[:, 0], town.ego_states[:, 1]).all()
    assert town.ego_lane.startswith("main:fwd:")
    assert lateral, "moving cars exist"


def _footprint(x: float, y: float, yaw: float, length: float, width: float) -> shapely.Polygon:
    c, s = np.cos(yaw), np.sin(yaw)
    local = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [length / 2, width / 2]
    return shapely.Polygon(local @ np.array([[c, s], [-s, c]]) + [x, y])


def test_t_junction_on_some_seeds() -> None:
    towns = [Town.generate(seed) for seed in (0, 1)]
    assert [[r.name for r in t.roads] for t in towns] == [
        ["main", "cross", "cross2", "tee"],
        ["main", "cross", "cross2"],
    ]
    tee = towns[0]
    assert [z.kind for z in tee.junctions["main"]] == ["crossing", "crossing", "through"]
    assert tee.junctions["tee"][0].kind == "branch" and "tee:bwd:0" in tee.lanes
    # its lanes meet the main road, and a car waits at its stop line
    start = tee.lanes["tee:fwd:0"][0]
    assert tee.drivable_area.contains(shapely.Point(*start))
    assert any(a.actor_id.startswith("waiting-") for a in tee.actors)


@pytest.mark.parametrize("seed", [0, 1, 3, 7])
def test_town_is_big_enough_for_a_minute(seed: int) -> None:
    """The main road carries a 60 s drive at the top ego speed plus look-ahead, through two
    four-way junctions whose turn connectors start on the approaching lanes and end on the exit
    lanes; every side road meets the main road once; the map is the whole town."""
    from jwmsim.logs.procedural.town import LOOK_AHEAD, MIN_DRIVE

    town = Town.generate(seed)
    main = town.roads[0]
    cfg = town.config
    assert main.ref.length >= 90.0 + MIN_DRIVE * cfg.ego_speed[1] * 1.06 + LOOK_AHEAD - 1.0
    assert [z.kind for z in town.junctions["main"]][:2] == ["crossing", "crossing"]
    for road in town.roads[1:]:
        inter = road.polygon().intersection(main.polygon())
        assert len(getattr(inter, "geoms", [inter])) == 1, road.name
    connectors = {k: v for k, v in town.lanes.items() if ">" in k}
    assert len(connectors) == 16
    for lane_id, pts in connectors.items():
        src, dst = lane_id.split(">")
        for end, lane in ((pts[0], src), (pts[-1], dst)):
            d = shapely.LineString(town.lanes[lane]).distance(shapely.Point(*end))
            assert d < 0.05, (lane_id, lane, d)
    # the 60 s drive of that town stays on its road, and buildings line the whole main road
    long = Town.generate(seed, TownConfig(duration=60.0))
    xy = long.ego_states[:, :2]
    assert shapely.contains_xy(long.drivable_area, xy[:, 0], xy[:, 1]).all()
    assert np.hypot(*(xy[-1] - xy[0])) > 400.0
    cars = [a for a in long.actors if a.actor_id.startswith("car-")]
    s_ego_end = main.ref.project(xy[-1:])[0][0]
    near_end = [
        a for a in cars if np.any(np.abs(main.ref.project(a.states[a.present, :2])[0] - s_ego_end) < 80)
    ]
    assert near_end, "traffic where the minute's drive ends"


def test_no_actor_overlaps_the_ego(town: Town) -> None:
    for k, t in enumerate(town.ego_times[::4]):
        x, y, yaw, _ = town.ego_states[4 * k]
        # ego box: 4.7 x 1.9 m, centre 1.3 m ahead of the rear axle
        ego = _footprint(x + 1.3 * np.cos(yaw), y + 1.3 * np.sin(yaw), yaw, 4.7, 1.9)
        for a in town.actors:
            if a.is_present(float(t)):
                ax, ay, ayaw, _ = a.state_at(float(t))
                w, length, _ = a.size_wlh
                assert not ego.intersects(_footprint(ax, ay, ayaw, length, w)), (a.actor_id, t)


def test_log_loads_in_devkit_and_reader(tiny_log: Path, tiny_config: LogConfig, town: Town) -> None:
    for name in TABLE_NAMES:
        assert (tiny_log / "v1.0-mini" / f"{name}.json").is_file()
    nusc = NuScenes("v1.0-mini", str(tiny_log), verbose=False)
    assert len(nusc.sample) == 2 and len(nusc.sample_data) == 10 * 7
    sample = nusc.sample[0]
    assert set(sample["data"]) == set(RIG_LAYOUT) | {"LIDAR_TOP"}
    ann = next(a for a in nusc.sample_annotation if a["next"])
    assert np.isfinite(nusc.box_velocity(ann["token"])).all()

    log = load_nuscenes_log(tiny_log)
    assert log.camera_names[:3] == ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT"]
    assert log.num_frames() == 10 and abs(log.frame_rate() - 10.0) < 1e-6
    assert log.native_size("CAM_FRONT") == (tiny_config.height, tiny_config.width)
    assert sum(f.is_keyframe for f in log.frames["CAM_FRONT"]) == 2
    assert log.image("CAM_BACK", 3).shape == (tiny_config.height, tiny_config.width, 3)
    for t in (0.0, 0.5, 0.9):
        assert log.ego_pose_at(t).allclose(town.ego_pose_at(t), atol=1e-6)
    # every actor present at the first keyframe is a track, at the pose the town says
    present = [a for a in town.actors if a.is_present(0.0)]
    assert len(log.tracks) == len(present)
    for actor in present[:10]:
        track = log.tracks[town.instance_token(actor.actor_id)]
        assert track.category == actor.category
        assert track.pose_at(0.0).allclose(actor.pose_at(0.0), atol=1e-6)
    assert set(log.lanes) == set(town.lanes)
    ego_xy = np.array([p.translation[:2] for p in log.ego_poses])
    assert log.on_drivable_area(ego_xy).all()
    sweep = log.lidar[0].points_ego()
    assert len(sweep) > 1000 and np.abs(np.median(sweep[:, 2])) < 1.0  # mostly road around the car
    meta = json.loads((tiny_log / "extras" / "generator.json").read_text())
    assert meta["seed"] == 5


def test_lidar_points_lie_on_the_road_plane(tiny_log: Path) -> None:
    log = load_nuscenes_log(tiny_log)
    pts = log.lidar[0].points_ego()
    near = pts[np.linalg.norm(pts[:, :2], axis=1) < 6.0]
    ground = near[np.abs(near[:, 2]) < 0.3]
    assert len(ground) > 50
    assert np.abs(ground[:, 2]).min() < 1e-3  # road points at z = 0 exactly (float32)


def test_invalid_input_is_a_clear_error(tmp_path: Path) -> None:
    from jwmsim.errors import ConfigError

    with pytest.raises(ConfigError, match="seed"):
        Town.generate(-1)
    short = Town.generate(1, TownConfig(duration=2.0))
    with pytest.raises(ConfigError, match="longer than the town"):
        write_town_log(short, tmp_path / "log", LogConfig(duration=3.0), progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="120"):
        TownConfig(duration=500.0)


def test_oracle_reproduces_the_logged_images(tiny_log: Path, town: Town) -> None:
    """Rendering the town with the reader's cameras, ego poses and tracks gives back the log's
    images (up to JPEG loss): the oracle and the log describe the same world."""
    from jwmsim.logs.procedural import render_ground_truth

    log = load_nuscenes_log(tiny_log)
    for cam_name, index in (("CAM_FRONT", 5), ("CAM_BACK_LEFT", 0)):
        frame = log.frames[cam_name][index]
        assert frame.is_keyframe
        poses = log.actors_at(frame.time)  # instance tokens -> box poses from the annotations
        gt = render_ground_truth(town, log.cameras[cam_name], frame.world_from_ego, actor_poses=poses)
        logged = log.image(cam_name, index).astype(np.float64)
        mse = np.mean((gt.rgb.astype(np.float64) - logged) ** 2)
        psnr = 10 * np.log10(255.0**2 / max(mse, 1e-9))
        assert psnr > 28.0, (cam_name, psnr)
