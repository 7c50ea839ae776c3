"""Ground-truth renderer of the procedural town: embree ray casting (through ``embreex``).

:func:`render_ground_truth` renders any camera at any ego pose with the actors placed anywhere:
RGB with sun shading, cast shadows, sky and haze; metric z-depth; and instance masks. Static
geometry lives in one BVH (built once per process and cached on the town); actors are re-placed
in a small second BVH per call. One primary ray per pixel through the pixel centre.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.procedural import shading
from jwmsim.logs.procedural.meshes import ActorModel, MeshPart
from jwmsim.logs.procedural.town import Town
from jwmsim.logs.segment import Camera

SHADOW_BIAS = 0.02  # [m] shadow-ray origin offset along the normal
FOG_DISTANCE = 900.0  # [m] e-folding distance of the haze


@dataclass(frozen=True)
class GroundTruth:
    """What a camera sees.

    Attributes:
        rgb: ``[H, W, 3]`` uint8 sRGB.
        depth: ``[H, W]`` float32 z-depth along the optical axis [m], ``inf`` for sky.
        instance: ``[H, W]`` int32: 0 = static world / sky, ``k > 0`` = ``actor_ids[k - 1]``.
        actor_ids: actor id of each instance index (the town's actors in order, then inserted ones).
    """

    rgb: np.ndarray
    depth: np.ndarray
    instance: np.ndarray
    actor_ids: tuple[str, ...]

    def mask(self, actor_id: str) -> np.ndarray:
        """``[H, W]`` bool pixels of one actor."""
        return self.instance == self.actor_ids.index(actor_id) + 1


@dataclass
class _Geometry:
    """Triangles in one BVH plus per-face attributes; ``instance`` [F] int32 (0 for static)."""

    scene: rtcore_scene.EmbreeScene
    normals: np.ndarray
    color: np.ndarray
    color2: np.ndarray
    material: np.ndarray
    params: np.ndarray
    instance: np.ndarray

    @classmethod
    def build(cls, mesh: MeshPart, instance: np.ndarray) -> _Geometry:
        scene = rtcore_scene.EmbreeScene()
        if mesh.num_faces:
            TriangleMesh(scene, mesh.triangles().astype(np.float32))
        return cls(
            scene,
            mesh.face_normals().astype(np.float32),
            mesh.color,
            mesh.color2,
            mesh.material,
            mesh.params,
            instance.astype(np.int32),
        )

    @property
    def empty(self) -> bool:
        return len(self.instance) == 0


def static_geometry(town: Town) -> _Geometry:
    """The town's static BVH, built on first use in each process (embree state is not shared
    across ``fork``)."""
    key = ("static_geometry", os.getpid())
    geo = town._cache.get(key)
    if geo is None:
        geo = _Geometry.build(town.static_mesh, np.zeros(town.static_mesh.num_faces, np.int32))
        town._cache[key] = geo
    return geo


def actor_geometry(
    town: Town, actor_poses: Mapping[str, SE3], inserted: Mapping[str, ActorModel] | None = None
) -> tuple[_Geometry, tuple[str, ...]]:
    """A BVH with the actors at ``actor_poses`` (ids or instance tokens of town actors, or ids of
    ``inserted`` models); returns it and the instance-index -> actor id table."""
    inserted = dict(inserted or {})
    clash = [k for k in inserted if k in {a.actor_id for a in town.actors}]
    if clash:
        raise ConfigError(f"inserted actor id(s) {clash} already name town actors", hint="pick new ids")
    ids = tuple(a.actor_id for a in town.actors) + tuple(inserted)
    index = {a: i + 1 for i, a in enumerate(ids)}
    parts, inst = [], []
    placed: set[str] = set()
    for key, pose in actor_poses.items():
        if key in inserted:
            model, actor_id = inserted[key], key
        else:
            actor = town.actor(key)
            model, actor_id = actor.model, actor.actor_id
        if actor_id in placed:
            raise ConfigError(f"actor {actor_id!r} is placed twice (by id and by instance token?)")
        placed.add(actor_id)
        if not isinstance(pose, SE3):
            raise ConfigError(
                f"pose of actor {key!r} must be an SE3 world_from_box, got {type(pose).__name__}"
            )
        parts.append(model.mesh.transformed(pose.matrix))
        inst.append(np.full(model.mesh.num_faces, index[actor_id], np.int32))
    mesh = MeshPart.concat(parts)
    return _Geometry.build(mesh, np.concatenate(inst) if inst else np.zeros(0, np.int32)), ids


@dataclass
class _Hits:
    t: np.ndarray  # [N] float32, inf on miss
    face: np.ndarray  # [N] int, -1 on miss
    dynamic: np.ndarray  # [N] bool: the hit is on the actor geometry


def _trace(static: _Geometry, dynamic: _Geometry, origins: np.ndarray, dirs: np.ndarray) -> _Hits:
    o = np.ascontiguousarray(origins, dtype=np.float32)
    d = np.ascontiguousarray(dirs, dtype=np.float32)
    rs = static.scene.run(o, d, output=1)
    t = np.where(rs["primID"] >= 0, rs["tfar"], np.inf).astype(np.float32)
    face = rs["primID"].astype(np.int64)
    dyn = np.zeros(len(o), bool)
    if not dynamic.empty:
        rd = dynamic.scene.run(o, d, output=1)
        td = np.where(rd["primID"] >= 0, rd["tfar"], np.inf)
        dyn = td < t
        t = np.where(dyn, td, t).astype(np.float32)
        face = np.where(dyn, rd["primID"], face)
    return _Hits(t, face, dyn)


def _occluded(
    static: _Geometry, dynamic: _Geometry, origins: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    o = np.ascontiguousarray(origins, dtype=np.float32)
    d = np.ascontiguousarray(np.broadcast_to(direction, o.shape), dtype=np.float32)
    occ = static.scene.run(o, d, query="OCCLUDED") >= 0
    if not dynamic.empty:
        occ |= dynamic.scene.run(o, d, query="OCCLUDED") >= 0
    return occ


_ATTRS = ("normals", "color", "color2", "material", "params")


def _gather(static: _Geometry, dynamic: _Geometry, hits: _Hits, sel: np.ndarray) -> dict[str, np.ndarray]:
    """Face attributes of the selected hits, gathered from the static and the actor tables apart
    (no per-frame copy of the static table: its cost would grow with the town)."""
    face, dyn = hits.face[sel], hits.dynamic[sel]
    on_static = ~dyn
    out = {}
    for k in _ATTRS:
        s_arr, d_arr = getattr(static, k), getattr(dynamic, k)
        res = np.empty((len(face), *s_arr.shape[1:]), dtype=np.result_type(s_arr, d_arr))
        res[on_static] = s_arr[face[on_static]]
        if dyn.any():
            res[dyn] = d_arr[face[dyn]]
        out[k] = res
    return out


def _light_table(town: Town) -> np.ndarray:
    """``[4, 3]`` float64 rows: sun direction, sun colour, sky zenith, sky horizon."""
    table = town._cache.get("light_table")
    if table is None:
        src = town.lighting
        table = np.stack([src.sun_direction, src.sun_color, src.sky_zenith, src.sky_horizon]).astype(
            np.float64
        )
        town._cache["light_table"] = table
    return table


def shade_rays(
    town: Town,
    static: _Geometry,
    dynamic: _Geometry,
    origins: np.ndarray,
    dirs: np.ndarray,
) -> tuple[np.ndarray, _Hits]:
    """Trace and shade world rays ``[N, 3]``: radiance ``[N, 3]`` float32 (linear) and the hits."""
    light = _light_table(town)
    cloudiness = float(town.lighting.cloudiness)
    hits = _trace(static, dynamic, origins, dirs)
    sel = np.isfinite(hits.t)
    radiance = np.empty((len(dirs), 3), np.float32)
    if (~sel).any():
        radiance[~sel] = shading.sky_radiance(np.ascontiguousarray(dirs[~sel]), light, cloudiness)
    if sel.any():
        d = dirs[sel]
        t = hits.t[sel]
        p = origins[sel] + d * t[:, None]
        attrs = _gather(static, dynamic, hits, sel)
        n = attrs["normals"].copy()
        facing = (n * d).sum(1) > 0
        n[facing] *= -1
        lit = np.zeros(len(p), np.float32)
        toward = shading.dot(n, light[0]) > 0
        if toward.any():
            lit[toward] = ~_occluded(static, dynamic, p[toward] + n[toward] * SHADOW_BIAS, light[0])
        radiance[sel] = shading.shade_hits(
            p,
            n,
            d,
            t,
            attrs["color"],
            attrs["color2"],
            attrs["material"],
            attrs["params"],
            lit,
            light,
            cloudiness,
            FOG_DISTANCE,
        )
    return radiance, hits


def _ray_directions(k: CameraIntrinsics) -> np.ndarray:
    """``[H * W, 3]`` unit camera-frame ray directions, cached per intrinsics."""
    dirs = _RAY_CACHE.get(k)
    if dirs is None:
        if len(_RAY_CACHE) > 16:
            _RAY_CACHE.clear()
        dirs = _RAY_CACHE[k] = k.ray_directions().reshape(-1, 3).astype(np.float32)
    return dirs


_RAY_CACHE: dict[CameraIntrinsics, np.ndarray] = {}


def render_ground_truth(
    world: Town,
    camera: Camera,
    ego_pose: SE3,
    time: float | None = None,
    actor_poses: Mapping[str, SE3] | None = None,
    inserted: Mapping[str, ActorModel] | None = None,
) -> GroundTruth:
    """Render the true image, depth and instance masks of ``camera`` mounted on the ego.

    Args:
        world: the town.
        camera: intrinsics at the wanted resolution and ``ego_from_cam``.
        ego_pose: ``world_from_ego`` (any pose: off the log, shifted, turned).
        time: seconds; used for the actors when ``actor_poses`` is None.
        actor_poses: actor id (or instance token in the written log) -> ``world_from_box``; actors
            not listed are not drawn. Default: the town's actors at ``time``.
        inserted: extra actors by id (e.g. ``meshes.vehicle(rng)``), placed by ``actor_poses``.

    Returns:
        :class:`GroundTruth` with ``rgb`` ``[H, W, 3]`` uint8, ``depth`` ``[H, W]`` float32 [m]
        and ``instance`` ``[H, W]`` int32.
    """
    if actor_poses is None:
        if time is None:
            raise ConfigError("render_ground_truth needs a time or explicit actor_poses")
        actor_poses = world.actor_poses_at(time)
    dynamic, ids = actor_geometry(world, actor_poses, inserted)
    return render_camera(world, dynamic, ids, camera, ego_pose)


def render_camera(
    world: Town, dynamic: _Geometry, ids: tuple[str, ...], camera: Camera, ego_pose: SE3
) -> GroundTruth:
    """:func:`render_ground_truth` with the actor geometry already built (shared by the cameras of
    one time step)."""
    static = static_geometry(world)
    k = camera.intrinsics
    dirs_cam = _ray_directions(k)
    world_from_cam = ego_pose @ camera.ego_from_cam
    dirs = shading.rotate(dirs_cam, world_from_cam.rotation.astype(np.float32))
    origins = np.broadcast_to(world_from_cam.translation.astype(np.float32), dirs.shape)
    radiance, hits = shade_rays(world, static, dynamic, np.ascontiguousarray(origins), dirs)
    depth = (hits.t * dirs_cam[:, 2]).astype(np.float32)
    instance = np.zeros(len(dirs), np.int32)
    instance[hits.dynamic] = dynamic.instance[hits.face[hits.dynamic]]
    shape = (k.height, k.width)
    return GroundTruth(
        shading.to_srgb8(radiance).reshape(*shape, 3), depth.reshape(shape), instance.reshape(shape), ids
    )


@dataclass(frozen=True)
class LidarReturns:
    """One lidar sweep.

    Attributes:
        points: ``[M, 3]`` float64 in the lidar frame [m]. intensity: ``[M]`` 0-255 (from albedo).
        instance: ``[M]`` int32 instance index (as in :class:`GroundTruth`).
        unoccluded: ``[K + 1]`` int64: per instance index, rays that would hit the actor with the
            static world removed (for visibility estimates; index 0 unused).
    """

    points: np.ndarray
    intensity: np.ndarray
    instance: np.ndarray
    unoccluded: np.ndarray


def cast_lidar(
    world: Town,
    dynamic: _Geometry,
    num_instances: int,
    ego_pose: SE3,
    ego_from_lidar: SE3,
    directions: np.ndarray,
    max_range: float = 70.0,
) -> LidarReturns:
    """Cast lidar rays ``directions`` ``[N, 3]`` (lidar frame) into the town with the actors of
    ``dynamic`` (see :func:`actor_geometry`); returns within ``max_range`` [m]."""
    static = static_geometry(world)
    world_from_lidar = ego_pose @ ego_from_lidar
    dirs = shading.rotate(directions, world_from_lidar.rotation)
    origins = np.broadcast_to(world_from_lidar.translation, dirs.shape)
    hits = _trace(static, dynamic, np.ascontiguousarray(origins), dirs)
    keep = hits.t < max_range
    points = directions[keep] * hits.t[keep, None]
    color = _gather(static, dynamic, hits, keep)["color"]
    intensity = np.clip(color.mean(1) * 400, 0, 255)
    inst = np.zeros(int(keep.sum()), np.int32)
    dyn = hits.dynamic[keep]
    inst[dyn] = dynamic.instance[hits.face[keep][dyn]]
    unoccluded = np.zeros(num_instances + 1, np.int64)
    if not dynamic.empty:
        o = np.ascontiguousarray(origins, dtype=np.float32)
        rd = dynamic.scene.run(o, np.ascontiguousarray(dirs, dtype=np.float32), output=1)
        ok = (rd["primID"] >= 0) & (rd["tfar"] < max_range)
        np.add.at(unoccluded, dynamic.instance[rd["primID"][ok]], 1)
    return LidarReturns(points, intensity, inst, unoccluded)
