"""How a training clip leaves the logged drive: ego offsets, moved actors and inserted actors.

Everything here is sampled from a :class:`numpy.random.Generator` and is a plain description (no
rendering): :mod:`jwmsim.worldgen.training.town_clips` renders the skeleton and the oracle from the same
description, so the two always agree.

* ego: a sideways shift ``d`` [m] (+ left) and a yaw offset [rad] (+ left) per step, applied in the
  logged ego frame (``world_from_ego = log_pose @ SE3.from_xy_yaw(0, d, yaw)``): zero (the logged
  pose), constant, or a smooth ramp between two offsets like a lane change (its yaw follows the
  lateral velocity);
* actors: some logged actors moved along their track (another time of it) or off it (sideways and
  turned), constant over the clip;
* inserted actors: new vehicles on a lane ahead of the ego, driving along it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3
from jwmsim.logs.segment import ActorTrack


@dataclass(frozen=True)
class PerturbConfig:
    """What a training clip may vary.

    Attributes:
        max_shift: largest sideways ego shift [m] (either side).
        max_yaw_deg: largest yaw offset of the ego [deg] (either side).
        p_logged: probability of a clip at the logged poses (no ego offset, actors as logged).
        p_ramp: probability (among perturbed clips) that the shift ramps like a lane change.
        p_move_actor: probability that each logged actor is moved.
        max_along_s: largest time offset along an actor's own track [s].
        max_off_m: largest sideways move of an actor off its track [m].
        max_turn_rad: largest extra heading of an actor moved off its track [rad].
        p_insert: probability that a perturbed clip inserts actors.
        max_inserted: most actors inserted into one clip.
        insert_range: ``(near, far)`` distance ahead of the ego where actors are inserted [m].
    """

    max_shift: float = 3.0  # [m]
    max_yaw_deg: float = 10.0  # [deg]
    p_logged: float = 0.2
    p_ramp: float = 0.4
    p_move_actor: float = 0.3
    max_along_s: float = 1.5  # [s]
    max_off_m: float = 1.0  # [m]
    max_turn_rad: float = 0.25  # [rad]
    p_insert: float = 0.5
    max_inserted: int = 2
    insert_range: tuple[float, float] = (8.0, 35.0)  # [m]

    def __post_init__(self) -> None:
        for name in ("p_logged", "p_ramp", "p_move_actor", "p_insert"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"PerturbConfig.{name} must be a probability, got {p}")
        if self.max_shift < 0 or self.max_yaw_deg < 0 or self.max_inserted < 0:
            raise ConfigError("PerturbConfig: max_shift, max_yaw_deg and max_inserted must be >= 0")
        if not 0 < self.insert_range[0] < self.insert_range[1]:
            raise ConfigError(f"PerturbConfig.insert_range must be (near, far) > 0, got {self.insert_range}")


LOGGED = PerturbConfig(p_logged=1.0)


@dataclass(frozen=True)
class EgoOffsets:
    """Per-step ego offsets in the logged ego frame: ``shift_m`` ``[T]`` [m] (+ left), ``yaw_rad``
    ``[T]`` and, optionally, ``ahead_m`` ``[T]`` [m] along the logged heading (None: 0)."""

    shift_m: np.ndarray
    yaw_rad: np.ndarray
    label: str  # "logged", "constant", "ramp" or "closed-loop"
    ahead_m: np.ndarray | None = None

    def pose(self, log_pose: SE3, t: int) -> SE3:
        """``world_from_ego`` of step ``t`` given its logged pose."""
        ahead = 0.0 if self.ahead_m is None else float(self.ahead_m[t])
        return log_pose @ SE3.from_xy_yaw(ahead, float(self.shift_m[t]), float(self.yaw_rad[t]))


def smoothstep(x: np.ndarray) -> np.ndarray:
    """``3x^2 - 2x^3`` on ``[0, 1]`` (clamped)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ramp_offsets(d0: float, d1: float, steps: int, speed: float, step_s: float) -> EgoOffsets:
    """A lane-change-like ramp from ``d0`` to ``d1`` [m] over ``steps`` steps of ``step_s`` [s]: the
    yaw follows the lateral velocity at ego ``speed`` [m/s]."""
    x = np.linspace(0.0, 1.0, steps)
    d = d0 + (d1 - d0) * smoothstep(x)
    rate = np.gradient(d, step_s) if steps > 1 else np.zeros(1)
    yaw = np.arctan2(rate, max(speed, 1.0))
    return EgoOffsets(d.astype(np.float32), yaw.astype(np.float32), "ramp")


def sample_ego_offsets(
    rng: np.random.Generator, steps: int, speed: float, cfg: PerturbConfig, step_s: float = 0.1
) -> EgoOffsets:
    """Ego offsets of one clip (see the module docstring)."""
    if rng.random() < cfg.p_logged:
        z = np.zeros(steps, np.float32)
        return EgoOffsets(z, z.copy(), "logged")
    max_yaw = np.deg2rad(cfg.max_yaw_deg)
    if rng.random() < cfg.p_ramp:
        d0, d1 = rng.uniform(-cfg.max_shift, cfg.max_shift, 2)
        off = ramp_offsets(float(d0), float(d1), steps, speed, step_s)
        extra = rng.uniform(-0.3, 0.3) * max_yaw
        yaw = np.clip(off.yaw_rad + extra, -max_yaw, max_yaw).astype(np.float32)
        return EgoOffsets(off.shift_m, yaw, "ramp")
    d = rng.uniform(0.0, cfg.max_shift) * rng.choice([-1.0, 1.0])
    yaw = rng.uniform(-max_yaw, max_yaw) if rng.random() < 0.6 else 0.0
    return EgoOffsets(np.full(steps, d, np.float32), np.full(steps, yaw, np.float32), "constant")


@dataclass(frozen=True)
class ActorMove:
    """How one logged actor is moved for a clip: ``dt`` [s] along its track, then ``off`` [m]
    sideways and ``turn`` [rad] in its box frame."""

    dt: float = 0.0
    off: float = 0.0
    turn: float = 0.0

    def pose(self, track: ActorTrack, t: float) -> SE3 | None:
        """The moved ``world_from_box`` at ``t`` (None when the track is absent then)."""
        tt = t + self.dt
        if not track.is_present(tt):
            return None
        pose = track.pose_at(tt)
        if self.off or self.turn:
            pose = pose @ SE3.from_xy_yaw(0.0, self.off, self.turn)
        return pose


def sample_actor_moves(
    rng: np.random.Generator, tracks: Mapping[str, ActorTrack], t0: float, cfg: PerturbConfig
) -> dict[str, ActorMove]:
    """Moves of the actors present at ``t0``: each moved with probability ``cfg.p_move_actor``,
    half of them along their track, half off it."""
    moves = {}
    for aid, tr in tracks.items():
        if not tr.is_present(t0) or rng.random() >= cfg.p_move_actor:
            continue
        if rng.random() < 0.5:
            moves[aid] = ActorMove(dt=float(rng.uniform(-cfg.max_along_s, cfg.max_along_s)))
        else:
            moves[aid] = ActorMove(
                off=float(rng.uniform(-cfg.max_off_m, cfg.max_off_m)),
                turn=float(rng.uniform(-cfg.max_turn_rad, cfg.max_turn_rad)),
            )
    return moves


@dataclass(frozen=True)
class InsertedActor:
    """A vehicle inserted for a clip: ``kind`` (sedan, suv, van, truck), its box ``size_lwh`` [m],
    a mesh seed, and its ``world_from_box`` per step ``poses``."""

    actor_id: str
    kind: str
    size_lwh: tuple[float, float, float]
    mesh_seed: int
    poses: tuple[SE3, ...]


def lane_poses(
    lane_xy: np.ndarray, s0: float, speed: float, times: np.ndarray, z: float
) -> tuple[SE3, ...] | None:
    """Poses of a box driving along a lane centreline ``[N, 2]`` from arc length ``s0`` [m] at
    ``speed`` [m/s] at ``times`` ``[T]`` (relative to the first) [s]; None when it leaves the lane."""
    seg = np.linalg.norm(np.diff(lane_xy, axis=0), axis=1)
    s_nodes = np.concatenate([[0.0], np.cumsum(seg)])
    s = s0 + speed * (times - times[0])
    if s.min() < 0 or s.max() > s_nodes[-1] - 0.5:
        return None
    x = np.interp(s, s_nodes, lane_xy[:, 0])
    y = np.interp(s, s_nodes, lane_xy[:, 1])
    xa = np.interp(s + 0.5, s_nodes, lane_xy[:, 0])
    ya = np.interp(s + 0.5, s_nodes, lane_xy[:, 1])
    yaw = np.arctan2(ya - y, xa - x)
    return tuple(
        SE3.from_xy_yaw(float(a), float(b), float(c), z=z) for a, b, c in zip(x, y, yaw, strict=True)
    )


VEHICLE_SIZES = {  # kind: (length, width, height) ranges [m], as jwmsim.logs.procedural.meshes.VEHICLE_KINDS
    "sedan": ((4.2, 4.8), (1.75, 1.9), (1.42, 1.55)),
    "suv": ((4.4, 4.9), (1.85, 2.0), (1.65, 1.85)),
    "van": ((4.8, 5.3), (1.9, 2.05), (1.9, 2.15)),
    "truck": ((6.0, 7.5), (2.2, 2.45), (2.8, 3.3)),
}


def asset_paint(kind: str) -> np.ndarray:
    """``[3]`` linear RGB body colour of the shipped asset ``kind`` (the median of its Gaussians'
    colours, display sRGB taken to linear albedo), so that an inserted vehicle's oracle mesh is painted
    like its skeleton asset."""
    from jwmsim.gaussians.assets import load_actor_asset

    srgb = load_actor_asset(kind).colors.median(0).values.double().numpy()
    return np.power(srgb, 2.2)


def sample_inserted(
    rng: np.random.Generator,
    lanes: Mapping[str, np.ndarray],
    ego0: SE3,
    times: np.ndarray,
    occupied_xy: np.ndarray,
    cfg: PerturbConfig,
    tries: int = 30,
) -> list[InsertedActor]:
    """Up to ``cfg.max_inserted`` vehicles on lanes ``cfg.insert_range`` ahead of the ego pose
    ``ego0`` (world), at least 6 m from ``occupied_xy`` ``[M, 2]`` (other actors, the ego) and from
    each other at every step. The box size is drawn by :func:`jwmsim.logs.procedural.meshes.vehicle`
    with ``mesh_seed`` (so the oracle's mesh and the skeleton's asset share it)."""
    from jwmsim.logs.procedural.meshes import vehicle

    if rng.random() >= cfg.p_insert or cfg.max_inserted == 0 or not lanes:
        return []
    want = int(rng.integers(1, cfg.max_inserted + 1))
    inv = ego0.inverse()
    names = sorted(lanes)
    out: list[InsertedActor] = []
    taken = [np.asarray(occupied_xy, float).reshape(-1, 2)]
    for _ in range(tries):
        if len(out) >= want:
            break
        lane = lanes[names[int(rng.integers(len(names)))]]
        if len(lane) < 2:
            continue
        local = inv.apply(np.c_[lane, np.zeros(len(lane))])
        ahead = np.flatnonzero(
            (local[:, 0] > cfg.insert_range[0])
            & (local[:, 0] < cfg.insert_range[1])
            & (np.abs(local[:, 1]) < 15)
        )
        if len(ahead) == 0:
            continue
        j = int(rng.choice(ahead))
        s_nodes = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(lane, axis=0), axis=1))])
        kind = str(rng.choice(["sedan", "sedan", "suv", "van", "truck"]))
        mesh_seed = int(rng.integers(1 << 31))
        model = vehicle(np.random.default_rng(mesh_seed), kind, color=asset_paint(kind))
        w, length, h = model.size_wlh
        poses = lane_poses(lane, float(s_nodes[j]), float(rng.uniform(0.0, 10.0)), times, z=h / 2)
        if poses is None:
            continue
        xy = np.array([p.translation[:2] for p in poses])
        others = np.concatenate(taken)
        if len(others) and np.min(np.linalg.norm(xy[:, None] - others[None], axis=2)) < 6.0:
            continue
        out.append(InsertedActor(f"inserted-{len(out)}", kind, (length, w, h), mesh_seed, poses))
        taken.append(xy)
    return out


EGO_FOOTPRINT = (
    (-1.2, 4.0),
    (-1.1, 1.1),
)  # [m] ego-frame x and y extent of the ego's body (rear axle origin)


def _corners(pose: SE3, x: tuple[float, float], y: tuple[float, float]) -> np.ndarray:
    """``[4, 2]`` world xy corners of the rectangle ``x`` by ``y`` in the frame ``pose``."""
    local = np.array([[x[0], y[0], 0], [x[1], y[0], 0], [x[1], y[1], 0], [x[0], y[1], 0]], float)
    return pose.apply(local)[:, :2]


def footprint_corners(ego: SE3, margin: float = 0.0) -> np.ndarray:
    """``[4, 2]`` world xy corners of the ego's footprint at ``ego``, grown by ``margin`` [m]."""
    (x0, x1), (y0, y1) = EGO_FOOTPRINT
    return _corners(ego, (x0 - margin, x1 + margin), (y0 - margin, y1 + margin))


def _separated(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex polygons ``[4, 2]`` have a separating axis (edge normals of both)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for ex, ey in edges:
            axis = np.array([-ey, ex])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return True
    return False


def ego_hits_actor(
    ego: SE3,
    actors: Mapping[str, SE3],
    sizes_lwh: Mapping[str, tuple[float, float, float]],
    margin: float = 0.4,
) -> bool:
    """Whether the ego's footprint at ``ego``, grown by ``margin`` [m], overlaps the footprint of an
    actor at ``actors[id]`` (world_from_box) of size ``sizes_lwh[id]`` [m]."""
    (x0, x1), (y0, y1) = EGO_FOOTPRINT
    e = footprint_corners(ego, margin)
    centre = ego.apply(np.array([[(x0 + x1) / 2, 0.0, 0.0]]))[0, :2]
    reach = np.hypot(x1 - x0, y1 - y0) / 2 + margin
    for aid, pose in actors.items():
        length, width, _ = sizes_lwh[aid]
        if np.linalg.norm(pose.translation[:2] - centre) > reach + np.hypot(length, width) / 2:
            continue
        a = _corners(pose, (-length / 2, length / 2), (-width / 2, width / 2))
        if not _separated(e, a):
            return True
    return False
