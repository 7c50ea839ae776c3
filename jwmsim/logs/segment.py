"""The log data model: a recorded drive as cameras, frames, ego poses, actor tracks and a map.

Times are seconds since the segment's ``start_us`` (an absolute timestamp in microseconds, as
nuScenes stores them); poses are :class:`~jwmsim.geometry.SE3` in the frames documented in
:mod:`jwmsim.geometry`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from jwmsim.errors import LogFormatError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.signals import TrafficLight


@dataclass(frozen=True)
class Camera:
    """One camera of the rig.

    Attributes:
        name: channel name, e.g. ``CAM_FRONT``.
        intrinsics: at the native image resolution.
        ego_from_cam: camera -> ego extrinsics (camera frame is OpenCV).
    """

    name: str
    intrinsics: CameraIntrinsics
    ego_from_cam: SE3


@dataclass(frozen=True)
class CameraFrame:
    """One image of one camera, with the ego pose at the image's own timestamp (nuScenes style).

    Attributes:
        camera: channel name.
        time: seconds since the segment start.
        world_from_ego: ego pose at ``time``.
        image_path: the image file.
        is_keyframe: True for nuScenes keyframes (samples), False for sweeps.
    """

    camera: str
    time: float
    world_from_ego: SE3
    image_path: Path
    is_keyframe: bool = False

    def world_from_cam(self, camera: Camera) -> SE3:
        return self.world_from_ego @ camera.ego_from_cam


@dataclass(frozen=True)
class LidarSweep:
    """One lidar sweep: points are loaded lazily by ``loader`` in the **ego** frame at ``time``.

    Attributes:
        time: seconds since the segment start.
        world_from_ego: ego pose at ``time``.
        loader: returns ``[N, 3]`` float32 points in the ego frame [m].
        is_keyframe: True for nuScenes keyframes.
    """

    time: float
    world_from_ego: SE3
    loader: Callable[[], np.ndarray] = field(repr=False, compare=False)
    is_keyframe: bool = False

    def points_ego(self) -> np.ndarray:
        """``[N, 3]`` float32 points in the ego frame."""
        return self.loader()

    def points_world(self) -> np.ndarray:
        """``[N, 3]`` float64 points in the world frame."""
        return self.world_from_ego.apply(self.points_ego())


@dataclass(frozen=True)
class ActorTrack:
    """An actor (vehicle, pedestrian, ...) annotated over time.

    Attributes:
        instance_id: stable id (nuScenes instance token or a readable name).
        category: nuScenes category name, e.g. ``vehicle.car``.
        size_wlh: box width, length, height [m].
        times: ``[N]`` seconds, strictly increasing.
        poses: ``N`` box poses ``world_from_box`` (box centre, x along heading).
    """

    instance_id: str
    category: str
    size_wlh: tuple[float, float, float]
    times: tuple[float, ...]
    poses: tuple[SE3, ...]

    def __post_init__(self) -> None:
        if len(self.times) != len(self.poses) or not self.times:
            raise ValueError(f"actor {self.instance_id}: need as many times as poses, and at least one")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError(f"actor {self.instance_id}: annotation times must be strictly increasing")

    @property
    def kind(self) -> str:
        """Coarse class: ``vehicle``, ``pedestrian``, ``cyclist`` or ``static``."""
        return category_kind(self.category)

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def is_present(self, t: float, tolerance: float = 1e-6) -> bool:
        """Whether ``t`` lies within the annotated span (actors are not extrapolated)."""
        return self.start - tolerance <= t <= self.end + tolerance

    def pose_at(self, t: float) -> SE3:
        """Box pose at time ``t``, interpolated between annotations (linear + slerp), held constant
        outside the annotated span."""
        i = bisect.bisect_right(self.times, t)
        if i == 0:
            return self.poses[0]
        if i >= len(self.times):
            return self.poses[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        return self.poses[i - 1].interpolate(self.poses[i], (t - t0) / (t1 - t0))

    def velocity_at(self, t: float) -> np.ndarray:
        """``[3]`` world-frame velocity [m/s] by finite differences of the annotated positions
        (central inside the span, one-sided at its ends; zero for a single annotation)."""
        if len(self.times) < 2:
            return np.zeros(3)
        i = int(np.clip(bisect.bisect_right(self.times, t), 1, len(self.times) - 1))
        dt = self.times[i] - self.times[i - 1]
        return (self.poses[i].translation - self.poses[i - 1].translation) / dt

    def window(self, t0: float, t1: float, tolerance: float = 1e-6) -> ActorTrack | None:
        """The part of the track inside ``[t0, t1]`` [s], with interpolated end points; None if empty.

        The end points are the window's ends clipped to the annotated span; the annotations kept
        between them are those more than ``tolerance`` seconds from both, so that an annotation at
        (or within ``tolerance`` of) an end point is not repeated and the times stay strictly
        increasing, also after re-timing by :meth:`LogSegment.time_window`.
        """
        if self.end < t0 - tolerance or self.start > t1 + tolerance:
            return None
        lo, hi = max(t0, self.start), min(t1, self.end)
        if hi - lo <= tolerance:
            return replace(self, times=(lo,), poses=(self.pose_at(lo),))
        inner = [
            (t, p) for t, p in zip(self.times, self.poses, strict=True) if lo + tolerance < t < hi - tolerance
        ]
        items = [(lo, self.pose_at(lo)), *inner, (hi, self.pose_at(hi))]
        return replace(self, times=tuple(t for t, _ in items), poses=tuple(p for _, p in items))


_CATEGORY_KIND_PREFIXES = (
    ("vehicle.bicycle", "cyclist"),
    ("vehicle.motorcycle", "cyclist"),
    ("vehicle.", "vehicle"),
    ("human.", "pedestrian"),
    ("animal", "pedestrian"),
)


def category_kind(category: str) -> str:
    """Map a nuScenes category to ``vehicle``, ``pedestrian``, ``cyclist`` or ``static``."""
    for prefix, kind in _CATEGORY_KIND_PREFIXES:
        if category.startswith(prefix):
            return kind
    return "static"


_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", b"\xff\xda", b"\xff\xd9"
_PNG_SIGNATURE, _PNG_IEND = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def image_bytes_problem(data: bytes) -> str | None:
    """Why encoded image bytes are incomplete, or None when they look whole.

    OpenCV decodes a truncated JPEG without an error (the missing rows come out grey; libjpeg only
    prints a warning), so the structure is checked first: a JPEG must end its last scan with an
    end-of-image marker (bytes after it are allowed), a PNG must end with its ``IEND`` chunk.
    Other formats are left to the decoder.
    """
    if not data:
        return "is empty"
    if data.startswith(_JPEG_SOI):
        eoi = data.rfind(_JPEG_EOI)
        if eoi < 0 or eoi < data.rfind(_JPEG_SOS):
            return f"is a truncated JPEG ({len(data)} bytes, no end-of-image marker after the last scan)"
    elif data.startswith(_PNG_SIGNATURE) and _PNG_IEND not in data[-64:]:
        return f"is a truncated PNG ({len(data)} bytes, no IEND chunk at the end)"
    return None


def load_image(path: Path, size_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image as ``[H, W, 3]`` uint8 RGB, resized (area filter) to ``size_hw`` if given.

    Raises:
        LogFormatError: the file is missing, empty, truncated or cannot be decoded (naming it).
    """
    hint = "the log's sample_data table names this file; restore it or regenerate the log"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise LogFormatError(f"image {path} is missing", hint=hint) from None
    except OSError as err:
        raise LogFormatError(f"image {path} cannot be read ({type(err).__name__}: {err})", hint=hint) from err
    problem = image_bytes_problem(data)
    if problem is not None:
        raise LogFormatError(f"image {path} {problem}", hint=hint)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise LogFormatError(f"image {path} could not be decoded (corrupt or not an image)", hint=hint)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size_hw is not None and (img.shape[0], img.shape[1]) != tuple(size_hw):
        h, w = size_hw
        interp = cv2.INTER_AREA if w < img.shape[1] else cv2.INTER_LINEAR
        img = cv2.resize(img, (w, h), interpolation=interp)
    return img


# Where a segment's drivable area came from -> how `jwmsim info` describes it.
DRIVABLE_AREA_SOURCES: dict[str, str] = {
    "": "not recorded",
    "geojson": "the whole map's drivable-area polygon (extras/drivable_area.geojson, jwmsim's writer)",
    "map_expansion": "nuScenes map expansion (vector drivable_area layer)",
    "semantic_prior": "the log's semantic_prior map raster",
    "ego_corridor": "fall-back: no map applies; a corridor around the ego and moving vehicle paths",
}


@dataclass(frozen=True)
class LogSegment:
    """A recorded drive, ready for reconstruction and closed-loop simulation.

    Attributes:
        name: scene name.
        start_us: absolute timestamp [us] of ``time == 0``.
        duration: seconds covered by the camera frames.
        cameras: rig, by channel name.
        frames: per camera, frames sorted by time.
        ego_times / ego_poses: the ego trajectory (every ego pose the log has in the window),
            sorted by time.
        tracks: actor tracks by instance id.
        lidar: lidar sweeps sorted by time (empty when the log has none).
        drivable_area: drivable surface in the world xy plane, or None when unknown.
        drivable_area_source: where ``drivable_area`` came from, one of
            :data:`DRIVABLE_AREA_SOURCES` (``ego_corridor`` is the fall-back built from the driven
            paths when no map applies; ``""`` when not recorded).
        lanes: lane centrelines by id, each ``[N, 2]`` world xy [m] ordered in the direction of
            travel (empty when the log has no lane map; the simulator then derives lanes).
        traffic_lights: signal heads with their stop lines and phase programs, on this segment's
            clock (:mod:`jwmsim.logs.signals`; empty when the log has none).
        source: where the segment came from (dataroot or generator), for messages.
    """

    name: str
    start_us: int
    duration: float
    cameras: dict[str, Camera]
    frames: dict[str, tuple[CameraFrame, ...]]
    ego_times: tuple[float, ...]
    ego_poses: tuple[SE3, ...]
    tracks: dict[str, ActorTrack] = field(default_factory=dict)
    lidar: tuple[LidarSweep, ...] = ()
    drivable_area: BaseGeometry | None = None
    lanes: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""
    drivable_area_source: str = ""
    traffic_lights: tuple[TrafficLight, ...] = ()

    def __post_init__(self) -> None:
        if self.drivable_area_source not in DRIVABLE_AREA_SOURCES:
            raise ValueError(
                f"drivable_area_source {self.drivable_area_source!r} is not one of "
                f"{sorted(DRIVABLE_AREA_SOURCES)}"
            )
        if set(self.frames) != set(self.cameras):
            raise ValueError("frames must be given for exactly the cameras of the rig")
        if len(self.ego_times) != len(self.ego_poses) or not self.ego_times:
            raise ValueError("the ego trajectory needs at least one pose, and one time per pose")

    # --- queries ------------------------------------------------------------------------------
    @property
    def camera_names(self) -> list[str]:
        return list(self.cameras)

    def num_frames(self, camera: str | None = None) -> int:
        """Frames of ``camera`` (default: the first camera)."""
        return len(self.frames[camera or self.camera_names[0]])

    def frame_rate(self, camera: str | None = None) -> float:
        """Median camera rate [Hz] (0 for a single frame)."""
        times = [f.time for f in self.frames[camera or self.camera_names[0]]]
        return float(1.0 / np.median(np.diff(times))) if len(times) > 1 else 0.0

    def native_size(self, camera: str) -> tuple[int, int]:
        """``(height, width)`` of the camera's images as stored."""
        k = self.cameras[camera].intrinsics
        return k.height, k.width

    def intrinsics(self, camera: str, size_hw: tuple[int, int] | None = None) -> CameraIntrinsics:
        """Intrinsics for images of ``size_hw`` (default native), scaled consistently with
        :meth:`image`."""
        k = self.cameras[camera].intrinsics
        return k if size_hw is None else k.resized(size_hw[1], size_hw[0])

    def image(self, camera: str, index: int, size_hw: tuple[int, int] | None = None) -> np.ndarray:
        """Lazily load frame ``index`` of ``camera`` as ``[H, W, 3]`` uint8 RGB."""
        return load_image(self.frames[camera][index].image_path, size_hw)

    def ego_pose_at(self, t: float) -> SE3:
        """Ego pose ``world_from_ego`` at ``t`` (interpolated; held at the ends)."""
        i = bisect.bisect_right(self.ego_times, t)
        if i == 0:
            return self.ego_poses[0]
        if i >= len(self.ego_times):
            return self.ego_poses[-1]
        t0, t1 = self.ego_times[i - 1], self.ego_times[i]
        return self.ego_poses[i - 1].interpolate(self.ego_poses[i], (t - t0) / (t1 - t0))

    def ego_speed_at(self, t: float, dt: float = 0.1) -> float:
        """Ego speed [m/s] by central differences over ``dt`` seconds."""
        a, b = self.ego_pose_at(t - dt / 2), self.ego_pose_at(t + dt / 2)
        return float(np.linalg.norm((b.translation - a.translation)[:2]) / dt)

    def actors_at(self, t: float) -> dict[str, SE3]:
        """Poses of the actors annotated at ``t``."""
        return {k: tr.pose_at(t) for k, tr in self.tracks.items() if tr.is_present(t)}

    def nearest_frame(self, camera: str, t: float) -> int:
        """Index of the frame of ``camera`` nearest in time to ``t``."""
        times = [f.time for f in self.frames[camera]]
        i = bisect.bisect_left(times, t)
        cands = [j for j in (i - 1, i) if 0 <= j < len(times)]
        return min(cands, key=lambda j: abs(times[j] - t))

    def on_drivable_area(self, xy: np.ndarray) -> np.ndarray:
        """``[N]`` bool: world points ``[N, 2]`` on the drivable area (all True when unknown)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.drivable_area is None:
            return np.ones(len(xy), dtype=bool)
        return shapely.contains_xy(self.drivable_area, xy[:, 0], xy[:, 1])

    # --- selections ---------------------------------------------------------------------------
    def select_cameras(self, names: Iterable[str]) -> LogSegment:
        """The same segment with only the cameras ``names`` (in that order)."""
        names = list(names)
        unknown = [n for n in names if n not in self.cameras]
        if unknown:
            raise KeyError(f"unknown camera(s) {unknown}; this log has {self.camera_names}")
        return replace(
            self, cameras={n: self.cameras[n] for n in names}, frames={n: self.frames[n] for n in names}
        )

    def time_window(self, t0: float, t1: float) -> LogSegment:
        """The part of the segment with ``t0 <= time <= t1``, re-timed so that ``t0`` becomes 0."""
        if t1 <= t0:
            raise ValueError(f"empty time window [{t0}, {t1}]")
        eps = 1e-6

        def keep(t: float) -> bool:
            return t0 - eps <= t <= t1 + eps

        frames = {
            c: tuple(replace(f, time=f.time - t0) for f in fs if keep(f.time))
            for c, fs in self.frames.items()
        }
        if any(len(fs) == 0 for fs in frames.values()):
            raise ValueError(
                f"window [{t0}, {t1}] s holds no frame of some camera (log is {self.duration:.2f} s)"
            )
        ego = [(t - t0, p) for t, p in zip(self.ego_times, self.ego_poses, strict=True) if keep(t)]
        if not ego:
            ego = [(0.0, self.ego_pose_at(t0))]
        tracks: dict[str, ActorTrack] = {}
        for k, tr in self.tracks.items():
            w = tr.window(t0, t1)
            if w is not None:
                tracks[k] = replace(w, times=tuple(t - t0 for t in w.times))
        lidar = tuple(replace(s, time=s.time - t0) for s in self.lidar if keep(s.time))
        all_times = [f.time for fs in frames.values() for f in fs]
        return replace(
            self,
            start_us=self.start_us + int(round(t0 * 1e6)),
            duration=max(all_times) - min(0.0, min(all_times)),
            frames=frames,
            ego_times=tuple(t for t, _ in ego),
            ego_poses=tuple(p for _, p in ego),
            tracks=tracks,
            lidar=lidar,
            traffic_lights=tuple(replace(tl, program=tl.program.shifted(t0)) for tl in self.traffic_lights),
        )

    def summary(self) -> dict[str, object]:
        """Facts for ``jwmsim info``: cameras, resolution, frames, rate, duration, actors, map."""
        by_cat: dict[str, int] = {}
        for tr in self.tracks.values():
            by_cat[tr.category] = by_cat.get(tr.category, 0) + 1
        return {
            "name": self.name,
            "source": self.source,
            "cameras": {
                c: {
                    "resolution": f"{k.intrinsics.width}x{k.intrinsics.height}",
                    "frames": len(self.frames[c]),
                }
                for c, k in self.cameras.items()
            },
            "frame_rate_hz": round(self.frame_rate(), 3),
            "keyframes": sum(f.is_keyframe for f in self.frames[self.camera_names[0]]),
            "duration_s": round(self.duration, 3),
            "actors": len(self.tracks),
            "actors_by_category": dict(sorted(by_cat.items())),
            "lidar_sweeps": len(self.lidar),
            "drivable_area_m2": None
            if self.drivable_area is None
            else round(float(self.drivable_area.area), 1),
            "drivable_area_source": self.drivable_area_source,
            "traffic_lights": len(self.traffic_lights),
        }


def sorted_frames(frames: Sequence[CameraFrame]) -> tuple[CameraFrame, ...]:
    """Frames sorted by time (helper for readers)."""
    return tuple(sorted(frames, key=lambda f: f.time))
