"""Sparse 3D queries ("tokens") of WorldRec and the lidar depth maps used for visibility (NumPy,
no learned parts).

Three kinds of token:

* ``KIND_LIDAR``: background lidar points (actor boxes removed) averaged on a voxel grid whose
  size doubles every ``lidar_voxel_range`` metres away from the ego path (fine near, coarse far);
* ``KIND_ANCHOR``: a world-aligned grid of anchors around the ego (the ego-centred grid), kept only
  where some context camera sees them, in front of the lidar depth, and where no lidar token lies;
* ``KIND_ACTOR``: lidar points inside an actor's box, in its **box frame** (plus points on the box
  shell where the lidar saw the actor poorly), so its Gaussians move with the box.

Every token has an ``owner`` (0 = world, ``a + 1`` = ``actor_ids[a]``), an anchor in its owner's
frame and a ``unit`` (its voxel size [m]) that scales its offsets and Gaussian sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from jwmsim.logs.segment import ActorTrack
from jwmsim.worldrec.inputs import LidarFrame

KIND_LIDAR, KIND_ANCHOR, KIND_ACTOR = 0, 1, 2
NUM_KINDS = 3
BOX_MARGIN = 0.25  # [m] points this close to a box are not background
MIN_ACTOR_POINTS = 30  # below this, shell points are added
MAX_VOXEL_LEVEL = 3  # lidar voxels grow to at most 2**3 x the base size


@dataclass(frozen=True)
class Tokens:
    """N sparse queries.

    Attributes:
        xyz: ``[N, 3]`` float64 anchors in the owner frame [m].
        owner: ``[N]`` int64, 0 = world, ``a + 1`` = ``actor_ids[a]``.
        unit: ``[N]`` float32 voxel size [m].
        kind: ``[N]`` int64 (``KIND_*``).
        actor_ids: ids of the owners ``1..A``.
    """

    xyz: np.ndarray
    owner: np.ndarray
    unit: np.ndarray
    kind: np.ndarray
    actor_ids: tuple[str, ...]

    def __len__(self) -> int:
        return int(len(self.xyz))

    @classmethod
    def empty(cls, actor_ids: Sequence[str] = ()) -> Tokens:
        return cls(
            np.zeros((0, 3)),
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros(0, np.int64),
            tuple(actor_ids),
        )

    def select(self, index: np.ndarray) -> Tokens:
        return Tokens(self.xyz[index], self.owner[index], self.unit[index], self.kind[index], self.actor_ids)

    @staticmethod
    def concat(parts: Sequence[Tokens]) -> Tokens:
        """Tokens of ``parts`` that share ``actor_ids``."""
        ids = parts[0].actor_ids
        if any(p.actor_ids != ids for p in parts):
            raise ValueError("Tokens.concat needs parts with the same actor_ids")
        return Tokens(
            np.concatenate([p.xyz for p in parts]),
            np.concatenate([p.owner for p in parts]),
            np.concatenate([p.unit for p in parts]),
            np.concatenate([p.kind for p in parts]),
            ids,
        )


def _pack(keys: np.ndarray) -> np.ndarray:
    """Rows of small integers ``[P, k]`` (``k <= 4``, each within +-2**17) as one int64 each, so that
    ``np.unique`` sorts a flat array (much faster than ``unique(axis=0)``)."""
    out = np.zeros(len(keys), np.int64)
    for j in range(keys.shape[1]):
        out = out * (1 << 18) + (keys[:, j] + (1 << 17))
    return out


def _voxel_mean(points: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``points`` ``[P, 3]`` per distinct row of ``keys`` ``[P, k]``; also the first key row."""
    _, first, inv = np.unique(_pack(keys), return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    counts = np.bincount(inv)
    mean = np.stack([np.bincount(inv, points[:, k]) for k in range(3)], 1) / counts[:, None]
    return mean, keys[first]


_POSES: dict[tuple[int, float], np.ndarray] = {}


def box_pose(track: ActorTrack, t: float) -> np.ndarray:
    """``world_from_box`` ``[4, 4]`` of ``track`` at ``t``, memoised (the same frame times recur
    every training step, and quaternion interpolation is slow)."""
    key = (id(track), round(float(t), 5))
    m = _POSES.get(key)
    if m is None:
        if len(_POSES) > 200_000:
            _POSES.clear()
        m = _POSES[key] = track.pose_at(float(t)).matrix
    return m


def split_actor_points(
    sweeps: Sequence[LidarFrame], tracks: Mapping[str, ActorTrack]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Background points (world) and, per actor present in a sweep, its points in its box frame
    (vectorised over the actors of each sweep)."""
    bg, actors = [], {}
    items = list(tracks.items())
    for sweep in sweeps:
        pts = sweep.points.astype(np.float64)
        present = [(aid, tr) for aid, tr in items if tr.is_present(sweep.time)]
        if not present or len(pts) == 0:
            bg.append(pts)
            continue
        poses = np.stack([box_pose(tr, sweep.time) for _, tr in present])  # [A, 4, 4]
        half = np.array([[tr.size_wlh[1], tr.size_wlh[0], tr.size_wlh[2]] for _, tr in present]) / 2
        radius = np.linalg.norm(half[:, :2], axis=1) + BOX_MARGIN + 0.5
        lo, hi = pts[:, :2].min(0) - radius.max(), pts[:, :2].max(0) + radius.max()
        c = poses[:, :2, 3]
        near_a = np.flatnonzero(np.all((c >= lo) & (c <= hi), axis=1))
        keep = np.ones(len(pts), dtype=bool)
        if len(near_a):
            d2 = ((pts[:, None, :2] - c[None, near_a]) ** 2).sum(-1)  # [P, A']
            pi, ai = np.nonzero(d2 < radius[near_a][None] ** 2)
            ai = near_a[ai]
            rot, trans = poses[ai, :3, :3], poses[ai, :3, 3]
            local = np.einsum("nji,nj->ni", rot, pts[pi] - trans)  # R^T (p - t)
            loose = np.all(np.abs(local) <= half[ai] + BOX_MARGIN, axis=1)
            keep[pi[loose]] = False
            tight = np.all(np.abs(local) <= half[ai] + 0.05, axis=1)
            for a in np.unique(ai[tight]):
                sel = tight & (ai == a)
                actors.setdefault(present[a][0], []).append(local[sel])
        bg.append(pts[keep])
    points = np.concatenate(bg) if bg else np.zeros((0, 3))
    return points, {k: np.concatenate(v) for k, v in actors.items()}


def background_tokens(
    points: np.ndarray,
    ego_positions: np.ndarray,
    voxel: float,
    voxel_range: float,
    max_tokens: int,
    rng: np.random.Generator,
) -> Tokens:
    """Lidar tokens: ``points`` ``[P, 3]`` world averaged per voxel; the voxel doubles every
    ``voxel_range`` metres from the nearest of ``ego_positions`` ``[E, 3]`` (up to 8x); at most
    ``max_tokens`` (a random subset beyond that)."""
    if len(points) == 0:
        return Tokens.empty()
    dist, _ = cKDTree(ego_positions[:, :2]).query(points[:, :2])
    level = np.clip(np.floor(np.log2(np.maximum(dist / voxel_range, 1.0))), 0, MAX_VOXEL_LEVEL).astype(
        np.int64
    )
    size = voxel * 2.0**level
    keys = np.concatenate([level[:, None], np.floor(points / size[:, None]).astype(np.int64)], 1)
    mean, uniq = _voxel_mean(points, keys)
    unit = (voxel * 2.0 ** uniq[:, 0]).astype(np.float32)
    if len(mean) > max_tokens:
        sel = np.sort(rng.choice(len(mean), max_tokens, replace=False))
        mean, unit = mean[sel], unit[sel]
    n = len(mean)
    return Tokens(mean, np.zeros(n, np.int64), unit, np.full(n, KIND_LIDAR, np.int64), ())


def _shell_points(track: ActorTrack, spacing: float, rng: np.random.Generator, count: int) -> np.ndarray:
    w, length, h = track.size_wlh
    half = np.array([length, w, h]) / 2 * 0.9
    pts = rng.uniform(-1, 1, (count, 3))
    axis = rng.integers(0, 3, count)
    pts[np.arange(count), axis] = np.sign(pts[np.arange(count), axis])
    return pts * half


def actor_tokens(
    actor_points: Mapping[str, np.ndarray],
    tracks: Mapping[str, ActorTrack],
    actor_ids: Sequence[str],
    voxel: float,
    max_per_actor: int,
    rng: np.random.Generator,
) -> Tokens:
    """Tokens of each actor of ``actor_ids`` in its box frame: its lidar points per voxel, plus
    shell points when it has fewer than :data:`MIN_ACTOR_POINTS`."""
    parts = []
    for a, aid in enumerate(actor_ids):
        pts = actor_points.get(aid, np.zeros((0, 3)))
        tr = tracks[aid]
        if len(pts):
            pts, _ = _voxel_mean(pts, np.floor(pts / voxel).astype(np.int64))
        if len(pts) < MIN_ACTOR_POINTS:
            w, length, h = tr.size_wlh
            area = 2 * (w * length + w * h + length * h)
            pts = np.concatenate(
                [pts, _shell_points(tr, voxel, rng, int(np.clip(area * 2, 16, max_per_actor)))]
            )
        if len(pts) > max_per_actor:
            pts = pts[np.sort(rng.choice(len(pts), max_per_actor, replace=False))]
        n = len(pts)
        parts.append(
            Tokens(
                pts,
                np.full(n, a + 1, np.int64),
                np.full(n, voxel, np.float32),
                np.full(n, KIND_ACTOR, np.int64),
                tuple(actor_ids),
            )
        )
    return Tokens.concat(parts) if parts else Tokens.empty(actor_ids)


def project(points_world: np.ndarray, viewmats: np.ndarray, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``uv`` ``[V, P, 2]`` and ``z`` ``[V, P]`` of world points ``[P, 3]`` in V cameras
    (``viewmats`` ``[V, 4, 4]`` camera_from_world, ``ks`` ``[V, 3, 3]``)."""
    pc = np.einsum("vij,pj->vpi", viewmats[:, :3, :3], points_world) + viewmats[:, None, :3, 3]
    z = pc[..., 2]
    zs = np.where(np.abs(z) < 1e-6, 1e-6, z)
    u = ks[:, None, 0, 0] * pc[..., 0] / zs + ks[:, None, 0, 2]
    v = ks[:, None, 1, 1] * pc[..., 1] / zs + ks[:, None, 1, 2]
    return np.stack([u, v], -1), z


def depth_maps(
    points_world: np.ndarray, viewmats: torch.Tensor, ks: torch.Tensor, image_hw: tuple[int, int], stride: int
) -> torch.Tensor:
    """Lidar z-buffer of every view at ``1 / stride`` resolution: ``[V, ceil(H/s), ceil(W/s)]``
    float32, the nearest lidar depth in each cell [m], ``inf`` where no point falls.

    NumPy, one view at a time, culling points behind the camera first: on 2 busy cores this beat
    a batched PyTorch version 2-3x (small element-wise work suffers from thread contention)."""
    h, w = image_hw
    hd, wd = -(-h // stride), -(-w // stride)
    nv = viewmats.shape[0]
    out = np.full(nv * hd * wd, np.inf, np.float32)
    pts = np.asarray(points_world, dtype=np.float32)
    vm = viewmats.detach().cpu().numpy().astype(np.float32)
    k = ks.detach().cpu().numpy().astype(np.float32)
    for v in range(nv if len(pts) else 0):
        pc = pts @ vm[v, :3, :3].T + vm[v, :3, 3]
        front = pc[:, 2] > 0.3
        pc = pc[front]
        z = pc[:, 2]
        u = k[v, 0, 0] * pc[:, 0] / z + k[v, 0, 2]
        y = k[v, 1, 1] * pc[:, 1] / z + k[v, 1, 2]
        ok = (u > -0.5) & (u < w - 0.5) & (y > -0.5) & (y < h - 0.5)
        xi = np.clip(((u[ok] + 0.5) // stride).astype(np.int64), 0, wd - 1)
        yi = np.clip(((y[ok] + 0.5) // stride).astype(np.int64), 0, hd - 1)
        np.minimum.at(out, v * hd * wd + yi * wd + xi, z[ok])
    return torch.from_numpy(out.reshape(nv, hd, wd))


def anchor_tokens(
    ref_world_from_ego: np.ndarray,
    extent: tuple[float, float, float, float, float],
    voxel: float,
    occupied: np.ndarray,
    viewmats: torch.Tensor,
    ks: torch.Tensor,
    depth: torch.Tensor,
    image_hw: tuple[int, int],
    max_tokens: int,
    tau: float,
    rng: np.random.Generator,
) -> Tokens:
    """Anchors of the world-aligned grid (cell ``voxel`` [m], centres at ``(i + 0.5) * voxel``)
    inside the ego-frame box ``extent`` around ``ref_world_from_ego``, kept where some view sees
    the centre (in the image, 1 m or more in front, not behind the lidar depth there) and no point
    of ``occupied`` ``[P, 3]`` (the lidar tokens) lies within ``0.6 voxel``."""
    xb, xf, yh, zl, zh = extent
    corners = np.array([[x, y, z] for x in (xb, xf) for y in (-yh, yh) for z in (zl, zh)])
    world = corners @ ref_world_from_ego[:3, :3].T + ref_world_from_ego[:3, 3]
    lo = np.floor(world.min(0) / voxel).astype(int)
    hi = np.floor(world.max(0) / voxel).astype(int)
    grid = np.stack(
        np.meshgrid(*[np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)], indexing="ij"), -1
    )
    centres = (grid.reshape(-1, 3) + 0.5) * voxel
    local = (centres - ref_world_from_ego[:3, 3]) @ ref_world_from_ego[:3, :3]
    inside = (
        (local[:, 0] >= xb)
        & (local[:, 0] <= xf)
        & (np.abs(local[:, 1]) <= yh)
        & (local[:, 2] >= zl)
        & (local[:, 2] <= zh)
    )
    centres = centres[inside]
    if len(occupied) and len(centres):
        d, _ = cKDTree(occupied).query(centres, distance_upper_bound=0.6 * voxel)
        centres = centres[~np.isfinite(d)]
    if len(centres) == 0:
        return Tokens.empty()
    h, w = image_hw
    uv, z = project(centres, viewmats.double().numpy(), ks.double().numpy())
    inimg = (z > 1.0) & (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)
    hd, wd = depth.shape[1:]
    xi = np.clip(((uv[..., 0] + 0.5) * wd / w).astype(np.int64), 0, wd - 1)
    yi = np.clip(((uv[..., 1] + 0.5) * hd / h).astype(np.int64), 0, hd - 1)
    dz = depth.numpy()[np.arange(len(uv))[:, None], yi, xi]
    free = dz > z - 2 * tau * np.maximum(1.0, z / 10.0)
    seen = (inimg & free).any(0)
    centres = centres[seen]
    if len(centres) > max_tokens:
        centres = centres[np.sort(rng.choice(len(centres), max_tokens, replace=False))]
    n = len(centres)
    return Tokens(
        centres, np.zeros(n, np.int64), np.full(n, voxel, np.float32), np.full(n, KIND_ANCHOR, np.int64), ()
    )


def with_actor_ids(tokens: Tokens, actor_ids: Sequence[str]) -> Tokens:
    """The same (world-owned) tokens declared with ``actor_ids`` (so they concatenate with actors)."""
    if (tokens.owner > 0).any():
        raise ValueError("with_actor_ids is for world-owned tokens only")
    return Tokens(tokens.xyz, tokens.owner, tokens.unit, tokens.kind, tuple(actor_ids))
