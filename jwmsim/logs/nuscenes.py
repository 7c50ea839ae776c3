"""Read a scene of a nuScenes-format dataroot into a :class:`~jwmsim.logs.segment.LogSegment`.

What is read, through nuscenes-devkit:

* cameras: every ``CAM_*`` channel of the scene, at the full camera rate: keyframes *and* sweeps
  (every ``sample_data`` of the channel whose ``sample_token`` belongs to the scene), each with its
  own ego pose, as nuScenes stores it;
* ego trajectory: the ego poses of ``LIDAR_TOP`` when the log has it (one consistent sensor),
  otherwise those of the first camera;
* actors: one :class:`~jwmsim.logs.segment.ActorTrack` per instance, from its keyframe annotations;
  poses between keyframes are interpolated (linear position, slerp rotation);
* lidar: ``LIDAR_TOP`` sweeps (keyframes and sweeps), loaded lazily and expressed in the ego frame;
* drivable area, first that applies:
  0. ``extras/drivable_area.geojson`` (written by jwmsim's :class:`NuScenesWriter`, e.g. for the
     procedural towns: the whole map, not only the part around the ego path);
  1. the map expansion (``maps/expansion/<location>.json``, vector ``drivable_area`` layer) when
     present;
  2. the ``semantic_prior`` raster of the log's map (255 = drivable), traced into polygons around
     the ego path;
  3. fall-back when neither gives any drivable surface near the ego path: the union of the ego
     path buffered by :data:`FALLBACK_EGO_HALF_WIDTH` and of the paths of the vehicles that move,
     buffered by :data:`FALLBACK_VEHICLE_HALF_WIDTH` (a conservative corridor of road the log shows
     being driven on); recorded as ``LogSegment.drivable_area_source == "ego_corridor"`` and shown
     by ``jwmsim info`` (``geojson`` / ``map_expansion`` / ``semantic_prior`` for the others);
* lane centrelines: ``maps/lanes/<map_token>.json`` when present (written by jwmsim's procedural
  town; not a nuScenes table), else none (the simulator derives lanes, see :mod:`jwmsim.sim`).
* traffic lights: ``maps/traffic_lights/<map_token>.json`` when present (jwmsim extension,
  :mod:`jwmsim.logs.signals`), else none.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from jwmsim.errors import LogFormatError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.segment import ActorTrack, Camera, CameraFrame, LidarSweep, LogSegment, sorted_frames
from jwmsim.logs.signals import TrafficLight, lights_from_json

NUSCENES_TABLES = (
    "attribute",
    "calibrated_sensor",
    "category",
    "ego_pose",
    "instance",
    "log",
    "map",
    "sample",
    "sample_annotation",
    "sample_data",
    "scene",
    "sensor",
    "visibility",
)
FALLBACK_EGO_HALF_WIDTH = 5.0  # [m] half width of the corridor around the ego path
FALLBACK_VEHICLE_HALF_WIDTH = 2.5  # [m] half width around paths of moving vehicles
MAP_MARGIN = 80.0  # [m] how far around the ego path the map is traced into polygons
MOVING_SPEED = 1.0  # [m/s] mean speed above which a vehicle counts as moving


def find_version(dataroot: Path, version: str | None = None) -> str:
    """The table folder of ``dataroot`` (e.g. ``v1.0-mini``): ``version`` if given, else the only
    sub-folder holding a ``scene.json``."""
    if not dataroot.is_dir():
        raise LogFormatError(
            f"log dataroot {dataroot} does not exist or is not a folder",
            hint="pass a nuScenes-format dataroot: a folder with <version>/scene.json, samples/, sweeps/",
        )
    if version is not None:
        if not (dataroot / version).is_dir():
            raise LogFormatError(f"table folder {dataroot / version} does not exist", hint="check --version")
        return version
    candidates = sorted(p.name for p in dataroot.iterdir() if p.is_dir() and (p / "scene.json").exists())
    if not candidates:
        raise LogFormatError(
            f"no nuScenes table folder in {dataroot}: expected a sub-folder such as v1.0-mini/ holding "
            f"scene.json and the other tables ({', '.join(NUSCENES_TABLES)})",
            hint="point at the dataroot (the folder that contains v1.0-*/, samples/, sweeps/, maps/)",
        )
    if len(candidates) > 1:
        raise LogFormatError(
            f"{dataroot} holds several table folders {candidates}", hint="choose one with --version"
        )
    return candidates[0]


def check_tables(dataroot: Path, version: str) -> None:
    """Raise a :class:`LogFormatError` naming the first missing or unreadable table or map file."""
    table_root = dataroot / version
    for name in NUSCENES_TABLES:
        path = table_root / f"{name}.json"
        if not path.exists():
            raise LogFormatError(
                f"missing table {path}: a nuScenes dataroot needs all 13 tables "
                f"({', '.join(NUSCENES_TABLES)})",
                hint="restore the file, or regenerate the log (jwmsim make-log)",
            )
        try:
            rows = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise LogFormatError(f"table {path} is not valid JSON: {err}", hint="restore the file") from err
        if not isinstance(rows, list):
            raise LogFormatError(
                f"table {path} must hold a JSON list of records, found {type(rows).__name__}"
            )
        if name == "map":
            if not rows:
                raise LogFormatError(
                    f"table {path} is empty: nuscenes-devkit needs one map record per log",
                    hint="add a semantic_prior map record (jwmsim make-log writes one)",
                )
            for rec in rows:
                png = dataroot / str(rec.get("filename", ""))
                if not png.is_file():
                    raise LogFormatError(
                        f"map image {png} named in {path} is missing (nuscenes-devkit loads every map image)",
                        hint="restore the map PNG or fix its 'filename' in map.json",
                    )


def open_nuscenes(dataroot: str | Path, version: str | None = None) -> Any:
    """Load a nuScenes database with the devkit after checking the tables, quietly."""
    from nuscenes.nuscenes import NuScenes

    root = Path(dataroot)
    version = find_version(root, version)
    check_tables(root, version)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return NuScenes(version=version, dataroot=str(root), verbose=False)
    except (KeyError, AssertionError, IndexError) as err:
        raise LogFormatError(
            f"nuscenes-devkit could not index {root / version}: {type(err).__name__}: {err}",
            hint="a token referenced by one table is missing from another; regenerate or repair the tables",
        ) from err


def list_scenes(dataroot: str | Path, version: str | None = None) -> list[str]:
    """Names of the scenes of a dataroot (read from ``scene.json`` without indexing the database)."""
    root = Path(dataroot)
    version = find_version(root, version)
    check_tables(root, version)
    return [str(s.get("name", "?")) for s in json.loads((root / version / "scene.json").read_text())]


def _pose(record: dict[str, Any]) -> SE3:
    return SE3.from_quat(record["rotation"], record["translation"])


def _channel_chain(nusc: Any, first_sd_token: str, scene_samples: set[str]) -> list[dict[str, Any]]:
    """All sample_data of one channel whose sample_token is in the scene, in time order."""
    rec = nusc.get("sample_data", first_sd_token)
    while rec["prev"] and nusc.get("sample_data", rec["prev"])["sample_token"] in scene_samples:
        rec = nusc.get("sample_data", rec["prev"])
    chain = []
    while rec is not None and rec["sample_token"] in scene_samples:
        chain.append(rec)
        rec = nusc.get("sample_data", rec["next"]) if rec["next"] else None
    return chain


def _scene_samples(nusc: Any, scene: dict[str, Any]) -> list[dict[str, Any]]:
    samples = []
    token = scene["first_sample_token"]
    while token:
        s = nusc.get("sample", token)
        samples.append(s)
        token = s["next"] if s["scene_token"] == scene["token"] else ""
        if samples[-1]["token"] == scene["last_sample_token"]:
            break
    return samples


def _lidar_loader(path: Path, ego_from_lidar: SE3):
    def load() -> np.ndarray:
        from nuscenes.utils.data_classes import LidarPointCloud

        if not path.is_file():
            raise LogFormatError(f"lidar file {path} is missing", hint="restore it or regenerate the log")
        pc = LidarPointCloud.from_file(str(path))
        return ego_from_lidar.apply(pc.points[:3].T).astype(np.float32)

    return load


def _mask_to_polygons(mask: np.ndarray, resolution: float, x0: float, y_top: float) -> BaseGeometry:
    """Trace a binary mask crop into world polygons. ``x0``: world x of the crop's left pixel edge;
    ``y_top``: world y of its top pixel edge (rows grow towards -y)."""
    contours, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return Polygon()

    def to_world(c: np.ndarray) -> np.ndarray:
        px = c.reshape(-1, 2).astype(np.float64) + 0.5
        return np.stack([x0 + px[:, 0] * resolution, y_top - px[:, 1] * resolution], -1)

    polys = []
    for i, c in enumerate(contours):
        if hierarchy[0][i][3] != -1 or len(c) < 3:
            continue  # holes are collected with their parent
        holes = []
        child = hierarchy[0][i][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append(to_world(contours[child]))
            child = hierarchy[0][child][0]
        poly = Polygon(to_world(c), holes)
        polys.append(poly if poly.is_valid else shapely.make_valid(poly))
    # Contours trace pixel centres; grow by half a pixel so the polygons cover whole pixels.
    return shapely.unary_union(polys).buffer(resolution / 2).simplify(resolution)


def _drivable_from_raster(nusc: Any, log: dict[str, Any], ego_xy: np.ndarray) -> BaseGeometry | None:
    map_rec = nusc.get("map", log["map_token"])
    if map_rec.get("category", "semantic_prior") != "semantic_prior":
        return None
    mask_obj = map_rec["mask"]
    res = mask_obj.resolution
    full = mask_obj.mask()
    h, w = full.shape
    lo = ego_xy.min(0) - MAP_MARGIN
    hi = ego_xy.max(0) + MAP_MARGIN
    c0, c1 = int(np.clip(np.floor(lo[0] / res), 0, w)), int(np.clip(np.ceil(hi[0] / res), 0, w))
    r0, r1 = int(np.clip(np.floor(h - hi[1] / res), 0, h)), int(np.clip(np.ceil(h - lo[1] / res), 0, h))
    crop = full[r0:r1, c0:c1] == mask_obj.foreground
    if not crop.any():
        return None
    return _mask_to_polygons(crop, res, x0=c0 * res, y_top=(h - r0) * res)


def _drivable_from_geojson(dataroot: Path) -> BaseGeometry | None:
    """The whole drivable area from ``extras/drivable_area.geojson``, when the log has one."""
    path = dataroot / "extras" / "drivable_area.geojson"
    if not path.is_file():
        return None
    try:
        features = json.loads(path.read_text())["features"]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise LogFormatError(
            f"{path} is not a GeoJSON feature collection of polygons ({err})",
            hint="rewrite the log, or delete the file to use the map raster instead",
        ) from err
    area = shapely.unary_union(geoms) if geoms else None
    return None if area is None or area.is_empty else area


def _drivable_from_expansion(dataroot: Path, location: str, ego_xy: np.ndarray) -> BaseGeometry | None:
    if not (dataroot / "maps" / "expansion" / f"{location}.json").is_file():
        return None
    from nuscenes.map_expansion.map_api import NuScenesMap

    with contextlib.redirect_stdout(io.StringIO()):
        nmap = NuScenesMap(dataroot=str(dataroot), map_name=location)
    lo, hi = ego_xy.min(0) - MAP_MARGIN, ego_xy.max(0) + MAP_MARGIN
    box = shapely.box(lo[0], lo[1], hi[0], hi[1])
    polys = []
    for rec in nmap.drivable_area:
        for tok in rec["polygon_tokens"]:
            p = nmap.extract_polygon(tok)
            if p.intersects(box):
                polys.append(p.intersection(box))
    return shapely.unary_union(polys) if polys else None


def fallback_drivable_area(ego_xy: np.ndarray, tracks: Iterable[ActorTrack]) -> BaseGeometry:
    """The documented fall-back drivable area: the ego path buffered by
    :data:`FALLBACK_EGO_HALF_WIDTH` united with the paths of moving vehicles buffered by
    :data:`FALLBACK_VEHICLE_HALF_WIDTH`. ``ego_xy``: ``[N, 2]`` world positions."""
    parts: list[BaseGeometry] = [_path(ego_xy).buffer(FALLBACK_EGO_HALF_WIDTH)]
    for tr in tracks:
        if tr.kind != "vehicle" or len(tr.times) < 2:
            continue
        xy = np.array([p.translation[:2] for p in tr.poses])
        length = float(np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1)))
        if length / max(tr.end - tr.start, 1e-6) >= MOVING_SPEED:
            parts.append(_path(xy).buffer(FALLBACK_VEHICLE_HALF_WIDTH))
    return shapely.unary_union(parts)


def _path(xy: np.ndarray) -> BaseGeometry:
    return LineString(xy) if len(np.unique(xy, axis=0)) > 1 else shapely.Point(xy[0])


def _read_lanes(dataroot: Path, map_token: str) -> dict[str, np.ndarray]:
    path = dataroot / "maps" / "lanes" / f"{map_token}.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            str(ln["id"]): np.asarray(ln["centerline"], dtype=np.float64).reshape(-1, 2)
            for ln in data["lanes"]
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise LogFormatError(
            f"lane file {path} is malformed ({type(err).__name__}: {err})",
            hint='expected {"lanes": [{"id": str, "centerline": [[x, y], ...], "width": m}]}',
        ) from err


def _read_traffic_lights(dataroot: Path, map_token: str, start_us: int) -> tuple[TrafficLight, ...]:
    path = dataroot / "maps" / "traffic_lights" / f"{map_token}.json"
    if not path.is_file():
        return ()
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise LogFormatError(f"traffic light file {path} is not JSON ({err})") from err
    return lights_from_json(payload, start_us, str(path))


def load_nuscenes_log(
    dataroot: str | Path,
    scene: str | None = None,
    version: str | None = None,
    cameras: Iterable[str] | None = None,
    with_lidar: bool = True,
) -> LogSegment:
    """Read one scene of a nuScenes-format dataroot as a :class:`LogSegment`.

    Args:
        dataroot: folder holding ``<version>/*.json``, ``samples/``, ``sweeps/``, ``maps/``.
        scene: scene name; default: the first scene of the table.
        version: table folder name; default: the only one present.
        cameras: channels to keep (default: all cameras of the scene, in nuScenes order).
        with_lidar: read the ``LIDAR_TOP`` sweeps (lazily).

    Raises:
        LogFormatError: missing dataroot, table, map image or camera image; unknown scene.
    """
    root = Path(dataroot)
    nusc = open_nuscenes(root, version)
    names = [s["name"] for s in nusc.scene]
    if scene is None:
        scene_rec = nusc.scene[0]
    else:
        matches = [s for s in nusc.scene if s["name"] == scene]
        if not matches:
            raise LogFormatError(
                f"scene {scene!r} is not in {root}", hint=f"known scenes: {', '.join(names)}"
            )
        scene_rec = matches[0]
    samples = _scene_samples(nusc, scene_rec)
    sample_tokens = {s["token"] for s in samples}
    first = samples[0]

    channels = [
        c for c in first["data"] if nusc.get("sample_data", first["data"][c])["sensor_modality"] == "camera"
    ]
    order = ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK_RIGHT", "CAM_BACK"]
    channels.sort(key=lambda c: (order.index(c) if c in order else len(order), c))
    if cameras is not None:
        wanted = list(cameras)
        unknown = [c for c in wanted if c not in channels]
        if unknown:
            raise LogFormatError(
                f"camera(s) {unknown} not in scene {scene_rec['name']}", hint=f"cameras: {channels}"
            )
        channels = wanted
    if not channels:
        raise LogFormatError(f"scene {scene_rec['name']} in {root} has no camera sample_data")

    chains = {c: _channel_chain(nusc, first["data"][c], sample_tokens) for c in channels}
    lidar_chain = (
        _channel_chain(nusc, first["data"]["LIDAR_TOP"], sample_tokens)
        if "LIDAR_TOP" in first["data"]
        else []
    )
    all_ts = [r["timestamp"] for ch in chains.values() for r in ch] + [s["timestamp"] for s in samples]
    start_us = int(min(all_ts))

    def t_of(us: int) -> float:
        return (us - start_us) * 1e-6

    rig: dict[str, Camera] = {}
    frames: dict[str, tuple[CameraFrame, ...]] = {}
    for c in channels:
        chain = chains[c]
        cs = nusc.get("calibrated_sensor", chain[0]["calibrated_sensor_token"])
        k = CameraIntrinsics.from_matrix(cs["camera_intrinsic"], chain[0]["width"], chain[0]["height"])
        if k.width == 0 or k.height == 0:
            raise LogFormatError(f"sample_data of {c} in {root} has no image width/height")
        rig[c] = Camera(c, k, _pose(cs))
        fs = []
        for r in chain:
            path = root / r["filename"]
            if not path.is_file() or path.stat().st_size == 0:
                raise LogFormatError(
                    f"camera image {path} is "
                    + ("empty (0 bytes)" if path.is_file() else "missing")
                    + f" (sample_data {r['token']} of {c})",
                    hint="restore the images under samples/ and sweeps/, or regenerate the log",
                )
            ego = _pose(nusc.get("ego_pose", r["ego_pose_token"]))
            fs.append(CameraFrame(c, t_of(r["timestamp"]), ego, path, bool(r["is_key_frame"])))
        frames[c] = sorted_frames(fs)

    traj_chain = lidar_chain if lidar_chain else chains[channels[0]]
    ego_items = sorted({r["timestamp"]: r["ego_pose_token"] for r in traj_chain}.items())
    ego_times = tuple(t_of(ts) for ts, _ in ego_items)
    ego_poses = tuple(_pose(nusc.get("ego_pose", tok)) for _, tok in ego_items)

    lidar: tuple[LidarSweep, ...] = ()
    if with_lidar and lidar_chain:
        cs = nusc.get("calibrated_sensor", lidar_chain[0]["calibrated_sensor_token"])
        ego_from_lidar = _pose(cs)
        lidar = tuple(
            LidarSweep(
                t_of(r["timestamp"]),
                _pose(nusc.get("ego_pose", r["ego_pose_token"])),
                _lidar_loader(root / r["filename"], ego_from_lidar),
                bool(r["is_key_frame"]),
            )
            for r in lidar_chain
        )

    tracks: dict[str, ActorTrack] = {}
    by_instance: dict[str, list[tuple[float, SE3, list[float]]]] = {}
    sample_time = {s["token"]: t_of(s["timestamp"]) for s in samples}
    for s in samples:
        for ann_tok in s["anns"]:
            ann = nusc.get("sample_annotation", ann_tok)
            by_instance.setdefault(ann["instance_token"], []).append(
                (sample_time[s["token"]], _pose(ann), ann["size"])
            )
    for inst_tok, items in by_instance.items():
        items.sort(key=lambda it: it[0])
        inst = nusc.get("instance", inst_tok)
        category = nusc.get("category", inst["category_token"])["name"]
        sizes = np.array([it[2] for it in items], dtype=np.float64)
        size = tuple(float(v) for v in np.median(sizes, axis=0))
        tracks[inst_tok] = ActorTrack(
            inst_tok,
            category,
            size,
            tuple(it[0] for it in items),
            tuple(it[1] for it in items),  # type: ignore[arg-type]
        )

    log = nusc.get("log", scene_rec["log_token"])
    ego_xy = np.array([p.translation[:2] for p in ego_poses])
    drivable, drivable_source = _drivable_from_geojson(root), "geojson"
    if drivable is None:
        drivable, drivable_source = _drivable_from_expansion(root, log["location"], ego_xy), "map_expansion"
    if drivable is None:
        drivable, drivable_source = _drivable_from_raster(nusc, log, ego_xy), "semantic_prior"
    if drivable is None or drivable.is_empty or not drivable.intersects(_path(ego_xy).buffer(2.0)):
        drivable, drivable_source = fallback_drivable_area(ego_xy, tracks.values()), "ego_corridor"
    if isinstance(drivable, Polygon):
        drivable = MultiPolygon([drivable])

    cam_times = [f.time for fs in frames.values() for f in fs]
    return LogSegment(
        name=scene_rec["name"],
        start_us=start_us,
        duration=max(cam_times) - min(cam_times),
        cameras=rig,
        frames=frames,
        ego_times=ego_times,
        ego_poses=ego_poses,
        tracks=tracks,
        lidar=lidar,
        drivable_area=drivable,
        lanes=_read_lanes(root, log["map_token"]),
        traffic_lights=_read_traffic_lights(root, log["map_token"], start_us),
        source=str(root),
        drivable_area_source=drivable_source,
    )
