"""Write a driving log as a nuScenes v1.0 database (13 JSON tables + images + lidar + map).

:class:`NuScenesWriter` collects sensors, keyframes (``sample``), camera images, lidar sweeps,
box annotations and a drivable-area map, and on :meth:`NuScenesWriter.close` writes a folder that
``nuscenes.nuscenes.NuScenes(version, dataroot)`` loads unchanged::

    <out_dir>/
      <version>/{attribute,calibrated_sensor,category,ego_pose,instance,log,map,sample,
                 sample_annotation,sample_data,scene,sensor,visibility}.json
      samples/<CHANNEL>/<log>__<CHANNEL>__<timestamp_us>.jpg | .pcd.bin   (keyframes)
      sweeps/<CHANNEL>/...                                                (non-keyframes)
      maps/<map_token>.png                  drivable area, 0.1 m/px, global (0, 0) = bottom-left
      maps/lanes/<map_token>.json           lane centrelines (jwmsim extension, optional)
      maps/traffic_lights/<map_token>.json  traffic lights (jwmsim extension, optional)
      extras/drivable_area.geojson          drivable-area polygon (when given)
      extras/<name>.json                    free metadata (see :meth:`NuScenesWriter.add_extra_json`)

Conventions follow nuScenes: timestamps in microseconds, poses as (w, x, y, z) quaternion + metres,
ego frame x forward / y left / z up, cameras OpenCV, lidar points in the sensor frame as float32
``x, y, z, intensity, ring``. Tokens are deterministic (md5 of readable keys), so the same input
gives byte-identical tables. Images and point clouds go to a temporary folder beside ``out_dir``
as they arrive (memory stays flat); :meth:`~NuScenesWriter.close` renames the finished folder into
place, so an interrupted run never leaves a half-written log at ``out_dir``.

Example::

    with NuScenesWriter(Path("out/log"), scene_name="scene-0001", log_name="town-0") as w:
        w.add_camera("CAM_FRONT", intrinsics, ego_from_cam)
        w.add_lidar("LIDAR_TOP", ego_from_lidar)
        w.add_sample(t_us)
        w.add_camera_frame("CAM_FRONT", t_us, world_from_ego, image, is_key_frame=True)
        w.add_lidar_sweep("LIDAR_TOP", t_us, world_from_ego, points, is_key_frame=True)
        w.add_annotation("car-1", "vehicle.car", t_us, world_from_box, (1.9, 4.5, 1.6))
        w.set_map(polygon=drivable_area)
    # leaving the block calls close(); an exception inside it discards the partial output
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.nuscenes_taxonomy import (  # re-exported for writer users
    ATTRIBUTE_NAMES,
    ATTRIBUTES,
    CATEGORIES,
    CATEGORY_NAMES,
    VISIBILITIES,
)
from jwmsim.logs.signals import TrafficLight, lights_to_json

TABLE_NAMES: tuple[str, ...] = (
    "attribute", "calibrated_sensor", "category", "ego_pose", "instance", "log", "map", "sample",
    "sample_annotation", "sample_data", "scene", "sensor", "visibility",
)  # fmt: skip
MAP_RESOLUTION_M = 0.1  # [m/px] the native resolution nuscenes-devkit's MapMask assumes


def _prev_next(tokens: list[str], i: int) -> dict[str, str]:
    """nuScenes ``prev`` / ``next`` links of item ``i`` in an ordered token list ("" at the ends)."""
    return {"prev": tokens[i - 1] if i > 0 else "", "next": tokens[i + 1] if i + 1 < len(tokens) else ""}


def token(*parts: object) -> str:
    """Deterministic 32-hex-digit token from readable parts (md5 of ``"/".join(parts)``)."""
    return hashlib.md5("/".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def mask_from_polygon(
    polygon: BaseGeometry, resolution_m: float = MAP_RESOLUTION_M, margin_m: float = 20.0
) -> np.ndarray:
    """Rasterise a drivable-area polygon into a nuScenes map mask.

    The mask's bottom-left pixel corner is global ``(0, 0)`` (as ``nuscenes.utils.map_mask.MapMask``
    assumes), and it reaches ``margin_m`` beyond the polygon's top-right bounds.

    Args:
        polygon: shapely (Multi)Polygon in global xy [m]; all coordinates must be >= 0.
        resolution_m: metres per pixel.
        margin_m: extra room beyond the polygon's maximum x and y [m].

    Returns:
        ``[H, W]`` uint8 mask, 255 on the drivable area, 0 elsewhere.
    """
    if polygon.is_empty:
        raise ConfigError("the drivable-area polygon is empty", hint="pass the road surface as a polygon")
    minx, miny, maxx, maxy = polygon.bounds
    if minx < 0 or miny < 0:
        raise ConfigError(
            f"drivable-area polygon has negative coordinates (bounds {polygon.bounds})",
            hint="nuScenes maps put global (0, 0) at the bottom-left pixel; shift the world so x, y >= 0",
        )
    width = int(np.ceil((maxx + margin_m) / resolution_m))
    height = int(np.ceil((maxy + margin_m) / resolution_m))
    mask = np.zeros((height, width), dtype=np.uint8)
    polys = list(polygon.geoms) if hasattr(polygon, "geoms") else [polygon]
    for poly in polys:
        if not isinstance(poly, shapely.geometry.Polygon) or poly.is_empty:
            continue

        def to_px(coords: np.ndarray) -> np.ndarray:
            xy = np.asarray(coords, dtype=np.float64)[:, :2]
            # pixel (col, row) of a global point; rows count down from the top of the image
            return np.stack([xy[:, 0] / resolution_m - 0.5, height - xy[:, 1] / resolution_m - 0.5], -1)

        shift = 4  # sub-pixel precision for cv2.fillPoly
        rings = [np.round(to_px(np.asarray(poly.exterior.coords)) * (1 << shift)).astype(np.int32)]
        cv2.fillPoly(mask, rings, 255, lineType=cv2.LINE_8, shift=shift)
        holes = [
            np.round(to_px(np.asarray(r.coords)) * (1 << shift)).astype(np.int32) for r in poly.interiors
        ]
        if holes:
            cv2.fillPoly(mask, holes, 0, lineType=cv2.LINE_8, shift=shift)
    return mask


@dataclass
class _Channel:
    name: str
    modality: str  # "camera" | "lidar"
    ego_from_sensor: SE3
    intrinsics: CameraIntrinsics | None
    frames: list[dict] = field(default_factory=list)  # {"timestamp", "pose", "key", "filename", "h", "w"}
    timestamps: set[int] = field(default_factory=set)


@dataclass
class _Annotation:
    instance_id: str
    sample_timestamp_us: int
    world_from_box: SE3
    size_wlh: tuple[float, float, float]
    num_lidar_pts: int
    attribute: str | None
    visibility: str


class NuScenesWriter:
    """Builds one nuScenes v1.0 scene (one log, one map) and writes it atomically.

    Args:
        out_dir: dataroot to create; it must not exist unless ``overwrite``.
        version: table folder name (``NuScenes(version=...)``), e.g. ``v1.0-mini``.
        scene_name / log_name / location / description / vehicle / date_captured: the ``scene`` and
            ``log`` records (``log_name`` also prefixes file names and keys the tokens).
        jpeg_quality: JPEG quality of the camera images (0-100).
        overwrite: replace an existing ``out_dir`` on :meth:`close`.
        require_map: refuse to close without :meth:`set_map` (nuscenes-devkit needs a map). False
            writes an empty ``map`` table and no map image: for a scene that is merged into a
            dataroot holding the map (``jwmsim export`` stages its scenes this way).
    """

    def __init__(
        self,
        out_dir: Path | str,
        version: str = "v1.0-mini",
        scene_name: str = "scene-0001",
        log_name: str = "jwmsim-log",
        location: str = "jwmsim",
        description: str = "",
        vehicle: str = "jwmsim",
        date_captured: str = "2026-01-01",
        jpeg_quality: int = 92,
        overwrite: bool = False,
        require_map: bool = True,
    ) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not overwrite:
            raise ConfigError(
                f"output folder {self.out_dir} already exists",
                hint="choose another folder, delete it, or pass overwrite=True (--overwrite)",
            )
        if not 0 <= jpeg_quality <= 100:
            raise ConfigError(f"jpeg_quality must be in [0, 100], got {jpeg_quality}")
        self.version = version
        self.scene_name = scene_name
        self.log_name = log_name
        self.location = location
        self.description = description
        self.vehicle = vehicle
        self.date_captured = date_captured
        self.jpeg_quality = int(jpeg_quality)
        self.overwrite = overwrite
        self.require_map = require_map
        self._channels: dict[str, _Channel] = {}
        self._samples: list[int] = []
        self._annotations: dict[tuple[str, int], _Annotation] = {}
        self._instance_category: dict[str, str] = {}
        self._map_mask: np.ndarray | None = None
        self._map_polygon: BaseGeometry | None = None
        self._lanes: list[dict] | None = None
        self._traffic_lights: dict | None = None
        self._extras: dict[str, object] = {}
        self._closed = False
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.out_dir.parent / f".{self.out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
        self._tmp.mkdir()

    # --- context manager: close on success, discard on error -------------------------------------
    def __enter__(self) -> NuScenesWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Discard everything written so far (the temporary folder); ``out_dir`` is untouched."""
        self._closed = True
        shutil.rmtree(self._tmp, ignore_errors=True)

    # --- sensors ----------------------------------------------------------------------------------
    def add_camera(self, name: str, intrinsics: CameraIntrinsics, ego_from_cam: SE3) -> None:
        """Register a camera channel (e.g. ``CAM_FRONT``); images must be ``intrinsics.height x width``.

        ``ego_from_cam`` maps the OpenCV camera frame (x right, y down, z forward) to the ego frame.
        """
        self._add_channel(_Channel(name, "camera", ego_from_cam, intrinsics))

    def add_lidar(self, name: str = "LIDAR_TOP", ego_from_lidar: SE3 | None = None) -> None:
        """Register a lidar channel; ``ego_from_lidar`` maps the sensor frame to the ego frame."""
        self._add_channel(_Channel(name, "lidar", ego_from_lidar or SE3.identity(), None))

    def _add_channel(self, ch: _Channel) -> None:
        self._check_open()
        if ch.name in self._channels:
            raise ConfigError(f"sensor channel {ch.name!r} is registered twice")
        if not ch.name or "/" in ch.name or "__" in ch.name:
            raise ConfigError(
                f"invalid channel name {ch.name!r}", hint="use names like CAM_FRONT or LIDAR_TOP"
            )
        self._channels[ch.name] = ch

    # --- keyframes and sensor data -------------------------------------------------------------
    def add_sample(self, timestamp_us: int) -> str:
        """Add a keyframe (nuScenes ``sample``) at ``timestamp_us``; samples must come in time order.

        Returns:
            the sample token.
        """
        self._check_open()
        t = int(timestamp_us)
        if self._samples and t <= self._samples[-1]:
            raise ConfigError(
                f"sample timestamps must increase: {t} after {self._samples[-1]}",
                hint="add keyframes in time order",
            )
        self._samples.append(t)
        return self._sample_token(t)

    def add_camera_frame(
        self, channel: str, timestamp_us: int, world_from_ego: SE3, image: np.ndarray, is_key_frame: bool
    ) -> str:
        """Write one camera image (``[H, W, 3]`` uint8 RGB) taken at ``timestamp_us`` with the ego
        at ``world_from_ego``. Returns the sample_data token."""
        ch = self._channel(channel, "camera")
        img = np.asarray(image)
        k = ch.intrinsics
        assert k is not None
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ConfigError(f"{channel} image must be [H, W, 3] uint8 RGB, got {img.dtype} {img.shape}")
        if img.shape[:2] != (k.height, k.width):
            raise ConfigError(
                f"{channel} image is {img.shape[1]}x{img.shape[0]} but the camera was registered "
                f"at {k.width}x{k.height}",
                hint="render at the registered resolution or register the camera with resized intrinsics",
            )
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
        )
        if not ok:
            raise LogFormatError(f"JPEG encoding failed for {channel} at {timestamp_us}")
        return self._add_frame(
            ch,
            int(timestamp_us),
            world_from_ego,
            is_key_frame,
            "jpg",
            buf.tobytes(),
            img.shape[0],
            img.shape[1],
        )

    def add_lidar_sweep(
        self,
        channel: str,
        timestamp_us: int,
        world_from_ego: SE3,
        points_sensor: np.ndarray,
        is_key_frame: bool,
        intensity: np.ndarray | None = None,
    ) -> str:
        """Write one lidar sweep: ``points_sensor`` ``[N, 3]`` [m] in the lidar frame, optional
        ``intensity`` ``[N]``; stored as float32 ``x, y, z, intensity, ring`` (ring 0).
        Returns the sample_data token."""
        ch = self._channel(channel, "lidar")
        pts = np.asarray(points_sensor, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
            raise ConfigError(f"{channel} points must be a finite [N, 3] array, got shape {pts.shape}")
        rows = np.zeros((len(pts), 5), dtype=np.float32)
        rows[:, :3] = pts
        if intensity is not None:
            inten = np.asarray(intensity, dtype=np.float32).reshape(-1)
            if len(inten) != len(pts):
                raise ConfigError(f"{channel}: {len(inten)} intensities for {len(pts)} points")
            rows[:, 3] = inten
        return self._add_frame(
            ch, int(timestamp_us), world_from_ego, is_key_frame, "pcd.bin", rows.tobytes(), 0, 0
        )

    def _add_frame(
        self, ch: _Channel, t: int, pose: SE3, key: bool, ext: str, payload: bytes, height: int, width: int
    ) -> str:
        if t in ch.timestamps:
            raise ConfigError(f"{ch.name} already has a frame at timestamp {t}")
        folder = "samples" if key else "sweeps"
        filename = f"{folder}/{ch.name}/{self.log_name}__{ch.name}__{t}.{ext}"
        path = self._tmp / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        ch.timestamps.add(t)
        ch.frames.append(
            {
                "timestamp": t,
                "pose": pose,
                "key": bool(key),
                "filename": filename,
                "fileformat": ext,
                "h": height,
                "w": width,
            }
        )
        return self._sd_token(ch.name, t)

    # --- annotations -------------------------------------------------------------------------------
    def add_annotation(
        self,
        instance_id: str,
        category: str,
        sample_timestamp_us: int,
        world_from_box: SE3,
        size_wlh: tuple[float, float, float],
        num_lidar_pts: int = 0,
        attribute: str | None = None,
        visibility: str = "4",
    ) -> str:
        """Annotate actor ``instance_id`` at the keyframe ``sample_timestamp_us`` (added with
        :meth:`add_sample`, before or after this call) with a box ``world_from_box`` (centre, x along
        the heading) of size ``(width, length, height)`` [m]. Returns the annotation token."""
        self._check_open()
        if category not in CATEGORY_NAMES:
            raise ConfigError(
                f"unknown nuScenes category {category!r} for {instance_id!r}",
                hint="use a nuScenes v1.0 name such as vehicle.car or human.pedestrian.adult",
            )
        if attribute is not None and attribute not in ATTRIBUTE_NAMES:
            raise ConfigError(
                f"unknown nuScenes attribute {attribute!r} for {instance_id!r}",
                hint=f"one of {sorted(ATTRIBUTE_NAMES)}",
            )
        if visibility not in {v[0] for v in VISIBILITIES}:
            raise ConfigError(f"visibility token must be '1'..'4', got {visibility!r}")
        size = tuple(float(s) for s in size_wlh)
        if len(size) != 3 or min(size) <= 0:
            raise ConfigError(
                f"box size of {instance_id!r} must be 3 positive numbers (w, l, h), got {size_wlh}"
            )
        known = self._instance_category.setdefault(instance_id, category)
        if known != category:
            raise ConfigError(f"instance {instance_id!r} was {known!r} and is now {category!r}")
        key = (instance_id, int(sample_timestamp_us))
        if key in self._annotations:
            raise ConfigError(f"instance {instance_id!r} is annotated twice at {sample_timestamp_us}")
        self._annotations[key] = _Annotation(
            instance_id,
            int(sample_timestamp_us),
            world_from_box,
            size,
            int(num_lidar_pts),
            attribute,
            visibility,
        )
        return self._ann_token(instance_id, int(sample_timestamp_us))

    # --- map ----------------------------------------------------------------------------------------
    def set_map(
        self,
        mask: np.ndarray | None = None,
        resolution_m: float = MAP_RESOLUTION_M,
        polygon: BaseGeometry | None = None,
    ) -> None:
        """Set the drivable-area map.

        Args:
            mask: ``[H, W]`` uint8, 255 = drivable; its bottom-left pixel corner is global ``(0, 0)``.
                Resampled to 0.1 m/px (nuscenes-devkit's native map resolution) if needed. When
                None, it is rasterised from ``polygon``.
            resolution_m: metres per pixel of ``mask``.
            polygon: the drivable area as a shapely geometry in global xy [m] (stored as GeoJSON in
                ``extras/drivable_area.geojson``).
        """
        self._check_open()
        if mask is None and polygon is None:
            raise ConfigError("set_map needs a mask, a polygon, or both")
        if mask is None:
            assert polygon is not None
            mask = mask_from_polygon(polygon, MAP_RESOLUTION_M)
            resolution_m = MAP_RESOLUTION_M
        m = np.asarray(mask)
        if m.ndim != 2 or m.dtype != np.uint8:
            raise ConfigError(f"map mask must be [H, W] uint8 (255 drivable), got {m.dtype} {m.shape}")
        if resolution_m <= 0:
            raise ConfigError(f"map resolution must be positive, got {resolution_m}")
        if abs(resolution_m - MAP_RESOLUTION_M) > 1e-9:
            scale = resolution_m / MAP_RESOLUTION_M
            size = (max(1, round(m.shape[1] * scale)), max(1, round(m.shape[0] * scale)))
            m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST)
        # a town's mask has ~10^8 pixels: cv2's threshold takes 0.05 s where np.where with an int64
        # temporary took 2 s and 0.75 GB (same result: 255 above 127, else 0)
        self._map_mask = cv2.threshold(np.ascontiguousarray(m), 127, 255, cv2.THRESH_BINARY)[1]
        self._map_polygon = polygon

    def set_lanes(self, lanes: dict[str, np.ndarray], width_m: float | dict[str, float]) -> None:
        """Store lane centrelines (a jwmsim extension, ``maps/lanes/<map_token>.json``).

        Args:
            lanes: lane id -> ``[N, 2]`` world xy [m], ordered in the direction of travel (N >= 2).
            width_m: lane width [m], one for all lanes or per lane id.
        """
        self._check_open()
        out = []
        for lane_id, pts in lanes.items():
            xy = np.asarray(pts, dtype=np.float64)
            if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 2 or not np.all(np.isfinite(xy)):
                raise ConfigError(
                    f"lane {lane_id!r} must be a finite [N >= 2, 2] array, got shape {xy.shape}"
                )
            w = width_m[lane_id] if isinstance(width_m, dict) else width_m
            out.append({"id": str(lane_id), "centerline": np.round(xy, 4).tolist(), "width": float(w)})
        self._lanes = out

    def set_traffic_lights(self, lights: Iterable[TrafficLight], start_us: int) -> None:
        """Store traffic lights (a jwmsim extension, ``maps/traffic_lights/<map_token>.json``,
        format in :mod:`jwmsim.logs.signals`); their programs count seconds from the absolute
        timestamp ``start_us`` [us] (the log's first frame)."""
        self._check_open()
        lights = list(lights)
        ids = [light.id for light in lights]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"traffic light ids must be unique, got {ids}")
        self._traffic_lights = lights_to_json(lights, start_us)

    def add_extra_json(self, name: str, payload: object) -> None:
        """Store free metadata as ``extras/<name>.json`` (e.g. the generator's settings)."""
        self._check_open()
        if not name.replace("_", "").replace("-", "").isalnum() or name == "drivable_area":
            raise ConfigError(f"invalid extras name {name!r}", hint="use letters, digits, '-' and '_'")
        self._extras[name] = payload

    # --- finishing ----------------------------------------------------------------------------------
    def close(self) -> Path:
        """Write the 13 tables, the map and extras, then move the folder to ``out_dir``.

        Returns:
            ``out_dir``.
        """
        self._check_open()
        try:
            tables = self._build_tables()
            table_dir = self._tmp / self.version
            table_dir.mkdir(parents=True, exist_ok=True)
            for name in TABLE_NAMES:
                (table_dir / f"{name}.json").write_text(json.dumps(tables[name], indent=1))
            if tables["map"]:
                self._write_map(tables["map"][0]["token"])
            for name, payload in sorted(self._extras.items()):
                (self._tmp / "extras").mkdir(exist_ok=True)
                (self._tmp / "extras" / f"{name}.json").write_text(
                    json.dumps(payload, indent=1, sort_keys=True)
                )
            if self.out_dir.exists() and not self.overwrite:
                raise ConfigError(
                    f"output folder {self.out_dir} appeared while the log was being written",
                    hint="choose another folder or pass overwrite=True",
                )
            if self.out_dir.exists():
                trash = self.out_dir.parent / f".{self.out_dir.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(self.out_dir, trash)
                os.rename(self._tmp, self.out_dir)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(self._tmp, self.out_dir)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.out_dir

    # --- internals ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("this NuScenesWriter is already closed or aborted")

    def _channel(self, name: str, modality: str) -> _Channel:
        self._check_open()
        ch = self._channels.get(name)
        if ch is None or ch.modality != modality:
            have = sorted(c for c, v in self._channels.items() if v.modality == modality)
            raise ConfigError(
                f"no {modality} channel {name!r} registered (have {have})",
                hint=f"call add_{'camera' if modality == 'camera' else 'lidar'} first",
            )
        return ch

    def _sample_token(self, t: int) -> str:
        return token(self.log_name, self.scene_name, "sample", t)

    def _sd_token(self, channel: str, t: int) -> str:
        return token(self.log_name, self.scene_name, "sample_data", channel, t)

    def _ann_token(self, instance_id: str, t: int) -> str:
        return token(self.log_name, self.scene_name, "sample_annotation", instance_id, t)

    def _nearest_sample(self, t: int) -> int:
        """Timestamp of the keyframe nearest to ``t`` (ties: the earlier one)."""
        i = bisect_left(self._samples, t)
        cands = [j for j in (i - 1, i) if 0 <= j < len(self._samples)]
        return self._samples[min(cands, key=lambda j: (abs(self._samples[j] - t), j))]

    def _build_tables(self) -> dict[str, list[dict]]:
        if not self._samples:
            raise ConfigError("the log has no keyframes", hint="call add_sample(timestamp_us) at least once")
        if self._map_mask is None and self.require_map:
            raise ConfigError(
                "the log has no map (nuscenes-devkit needs one)",
                hint="call set_map(mask=..., polygon=...) with the drivable area",
            )
        if not any(ch.frames for ch in self._channels.values()):
            raise ConfigError("the log has no sensor data", hint="add camera frames or lidar sweeps")
        ln, sn = self.log_name, self.scene_name
        log_token = token(ln, "log")
        scene_token = token(ln, sn, "scene")
        map_token = token(ln, "map")
        category = [
            {"token": token("category", n), "name": n, "description": d, "index": i}
            for i, (n, d) in enumerate(CATEGORIES)
        ]
        attribute = [{"token": token("attribute", n), "name": n, "description": d} for n, d in ATTRIBUTES]
        visibility = [{"token": t, "level": lv, "description": d} for t, lv, d in VISIBILITIES]
        sensor, calibrated, ego_pose, sample_data = [], [], [], []
        for ch in self._channels.values():
            sensor_token = token(ln, "sensor", ch.name)
            cs_token = token(ln, "calibrated_sensor", ch.name)
            sensor.append({"token": sensor_token, "channel": ch.name, "modality": ch.modality})
            calibrated.append(
                {
                    "token": cs_token,
                    "sensor_token": sensor_token,
                    "translation": ch.ego_from_sensor.translation.tolist(),
                    "rotation": ch.ego_from_sensor.quat.tolist(),
                    "camera_intrinsic": ch.intrinsics.matrix.tolist() if ch.intrinsics is not None else [],
                }
            )
            frames = sorted(ch.frames, key=lambda f: f["timestamp"])
            keys_seen: dict[int, int] = {}
            tokens = [self._sd_token(ch.name, f["timestamp"]) for f in frames]
            for i, f in enumerate(frames):
                sample_t = self._nearest_sample(f["timestamp"])
                if f["key"]:
                    if sample_t in keys_seen:
                        raise ConfigError(
                            f"{ch.name}: keyframes at {keys_seen[sample_t]} and {f['timestamp']} both belong "
                            f"to the sample at {sample_t}",
                            hint="mark one sensor frame per channel and keyframe as is_key_frame",
                        )
                    keys_seen[sample_t] = f["timestamp"]
                sd_token = tokens[i]
                pose: SE3 = f["pose"]
                ego_pose.append(
                    {
                        "token": sd_token,
                        "timestamp": f["timestamp"],
                        "rotation": pose.quat.tolist(),
                        "translation": pose.translation.tolist(),
                    }
                )
                sample_data.append(
                    {
                        "token": sd_token,
                        "sample_token": self._sample_token(sample_t),
                        "ego_pose_token": sd_token,
                        "calibrated_sensor_token": cs_token,
                        "timestamp": f["timestamp"],
                        "fileformat": f["fileformat"],
                        "is_key_frame": f["key"],
                        "height": f["h"],
                        "width": f["w"],
                        "filename": f["filename"],
                        **_prev_next(tokens, i),
                    }
                )
        s_tokens = [self._sample_token(t) for t in self._samples]
        sample = [
            {"token": s_tokens[i], "timestamp": t, "scene_token": scene_token, **_prev_next(s_tokens, i)}
            for i, t in enumerate(self._samples)
        ]
        sample_set = set(self._samples)
        by_instance: dict[str, list[_Annotation]] = {}
        for ann in self._annotations.values():
            if ann.sample_timestamp_us not in sample_set:
                raise ConfigError(
                    f"annotation of {ann.instance_id!r} at {ann.sample_timestamp_us} matches no keyframe",
                    hint="annotate at exactly the timestamps passed to add_sample",
                )
            by_instance.setdefault(ann.instance_id, []).append(ann)
        instance, sample_annotation = [], []
        for inst_id in sorted(by_instance):
            anns = sorted(by_instance[inst_id], key=lambda a: a.sample_timestamp_us)
            a_tokens = [self._ann_token(inst_id, a.sample_timestamp_us) for a in anns]
            inst_token = token(ln, sn, "instance", inst_id)
            instance.append(
                {
                    "token": inst_token,
                    "category_token": token("category", self._instance_category[inst_id]),
                    "nbr_annotations": len(anns),
                    "first_annotation_token": a_tokens[0],
                    "last_annotation_token": a_tokens[-1],
                }
            )
            for i, a in enumerate(anns):
                sample_annotation.append(
                    {
                        "token": a_tokens[i],
                        "sample_token": self._sample_token(a.sample_timestamp_us),
                        "instance_token": inst_token,
                        "visibility_token": a.visibility,
                        "attribute_tokens": [token("attribute", a.attribute)] if a.attribute else [],
                        "translation": a.world_from_box.translation.tolist(),
                        "size": list(a.size_wlh),
                        "rotation": a.world_from_box.quat.tolist(),
                        **_prev_next(a_tokens, i),
                        "num_lidar_pts": a.num_lidar_pts,
                        "num_radar_pts": 0,
                    }
                )
        log = [
            {
                "token": log_token,
                "logfile": ln,
                "vehicle": self.vehicle,
                "date_captured": self.date_captured,
                "location": self.location,
            }
        ]
        scene = [
            {
                "token": scene_token,
                "log_token": log_token,
                "nbr_samples": len(sample),
                "first_sample_token": s_tokens[0],
                "last_sample_token": s_tokens[-1],
                "name": sn,
                "description": self.description,
            }
        ]
        map_table = (
            [
                {
                    "category": "semantic_prior",
                    "token": map_token,
                    "filename": f"maps/{map_token}.png",
                    "log_tokens": [log_token],
                }
            ]
            if self._map_mask is not None
            else []
        )
        return {
            "attribute": attribute,
            "calibrated_sensor": calibrated,
            "category": category,
            "ego_pose": ego_pose,
            "instance": instance,
            "log": log,
            "map": map_table,
            "sample": sample,
            "sample_annotation": sample_annotation,
            "sample_data": sample_data,
            "scene": scene,
            "sensor": sensor,
            "visibility": visibility,
        }

    def _write_map(self, map_token: str) -> None:
        assert self._map_mask is not None
        maps = self._tmp / "maps"
        maps.mkdir(exist_ok=True)
        if not cv2.imwrite(str(maps / f"{map_token}.png"), self._map_mask):
            raise LogFormatError(f"could not write the map image under {maps}")
        if self._lanes is not None:
            (maps / "lanes").mkdir(exist_ok=True)
            (maps / "lanes" / f"{map_token}.json").write_text(json.dumps({"lanes": self._lanes}))
        if self._traffic_lights is not None:
            (maps / "traffic_lights").mkdir(exist_ok=True)
            (maps / "traffic_lights" / f"{map_token}.json").write_text(json.dumps(self._traffic_lights))
        if self._map_polygon is not None:
            (self._tmp / "extras").mkdir(exist_ok=True)
            feature = {
                "type": "Feature",
                "properties": {
                    "name": "drivable_area",
                    "frame": "nuscenes_global",
                    "units": "m",
                    "area_m2": round(float(self._map_polygon.area), 2),
                },
                "geometry": shapely.geometry.mapping(self._map_polygon),
            }
            collection = {"type": "FeatureCollection", "name": "drivable_area", "features": [feature]}
            (self._tmp / "extras" / "drivable_area.geojson").write_text(json.dumps(collection))


__all__ = [
    "ATTRIBUTES",
    "CATEGORIES",
    "CATEGORY_NAMES",
    "MAP_RESOLUTION_M",
    "NuScenesWriter",
    "TABLE_NAMES",
    "VISIBILITIES",
    "mask_from_polygon",
    "token",
]
