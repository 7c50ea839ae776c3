"""A whole log -> one :class:`GaussianScene`, window by window (incremental fusion), and loading
of trained weights.

Fusion (the UFO pattern): one world-frame token set is built from all the log's lidar (background
voxels, actors in their box frames); the log's context frames (every ``ctx_stride``-th) are cut
into windows of ``window_steps`` time steps; each window spawns anchor tokens in visible empty
cells of the world anchor grid (a cell already spawned is reused), and updates only the tokens
within ``token_range`` of its ego path, by visibility-weighted averages of the query state and
of what it aggregated. After the last window every token seen at least once is decoded into K
Gaussians, and a second pass over the windows samples their colours. The cost is linear in the
number of windows (each touches its neighbourhood only).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from jwmsim.checkpoints import load_strict
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.logs.segment import ActorTrack, LogSegment
from jwmsim.progress import progress_bar
from jwmsim.worldrec.inputs import LogCache, window_views
from jwmsim.worldrec.modeling_worldrec import (
    FEATURE_STRIDE,
    Aggregate,
    GaussianBatch,
    WorldRecModel,
    gaussians_to_scene,
    owner_geometry,
)
from jwmsim.worldrec.queries import (
    Tokens,
    actor_tokens,
    anchor_tokens,
    background_tokens,
    depth_maps,
    split_actor_points,
    with_actor_ids,
)
from jwmsim.worldrec.window import window_actor_ids

WEIGHTS_NAME = "diffusion_pytorch_model.safetensors"  # what ModelMixin.save_pretrained writes


@dataclass(frozen=True)
class ReconstructConfig:
    """How a log is cut into windows."""

    ctx_stride: int = 3  # [frames] between context time steps
    window_steps: int = 4  # time steps per window (<= the model's max_time_steps)
    token_range: float = 80.0  # [m] tokens farther than this from a window's ego path are not updated
    seed: int = 0


def load_worldrec(path: str | Path, device: str | torch.device = "cpu") -> WorldRecModel:
    """A trained model from a ``save_pretrained`` folder, checked strictly
    (:func:`jwmsim.checkpoints.load_strict`: every tensor present with its shape, nothing else).

    Raises:
        CheckpointError: the folder, ``config.json`` or the weights are missing, unreadable or do
            not match (never a model with random weights).
    """
    hint = "train one with `jwmsim train worldrec`, or restore assets/worldrec/ from git"
    return load_strict(path, WorldRecModel, "WorldRec", hint, device)


def _anchor_keys(xyz: np.ndarray, voxel: float) -> list[tuple[int, int, int]]:
    return [tuple(k) for k in np.floor(xyz / voxel).astype(np.int64).tolist()]


@torch.no_grad()
def reconstruct_cache(
    model: WorldRecModel,
    cache: LogCache,
    config: ReconstructConfig = ReconstructConfig(),
    progress: bool = False,
    metadata: dict[str, str] | None = None,
) -> tuple[GaussianScene, dict[str, Any]]:
    """Fuse all of ``cache`` into one scene (see the module docstring).

    Returns:
        The scene (CPU, float32) and a report: seconds, windows, tokens, Gaussians.
    """
    t0 = time.perf_counter()
    cfg = model.config
    rng = np.random.default_rng(config.seed)
    frames = list(range(0, cache.num_frames, config.ctx_stride))
    steps = min(config.window_steps, cfg.max_time_steps)
    windows = [frames[i : i + steps] for i in range(0, len(frames), steps)]
    bg_pts, act_pts = split_actor_points(cache.lidar, cache.tracks)
    ego_pos = cache.world_from_ego[0, :, :3, 3]
    bg = background_tokens(
        bg_pts, ego_pos, cfg.lidar_voxel, cfg.lidar_voxel_range, cfg.max_lidar_queries * len(windows), rng
    )
    win_views = [window_views(cache, w) for w in windows]
    ids = sorted({a for v in win_views for a in window_actor_ids(cache, v)})
    base = Tokens.concat(
        [
            with_actor_ids(bg, ids),
            actor_tokens(act_pts, cache.tracks, ids, cfg.actor_voxel, cfg.max_actor_queries, rng),
        ]
    )
    anchor_xyz: list[np.ndarray] = []
    anchor_index: dict[tuple[int, int, int], int] = {}
    dev = model.device
    d, f = cfg.query_dim, cfg.feat_dim
    state: dict[str, list[torch.Tensor]] = {"q": [], "f": [], "rgb": [], "mass": []}

    def grow(n: int) -> None:
        for key, width in (("q", d), ("f", f), ("rgb", 3), ("mass", 0)):
            shape = (n,) if width == 0 else (n, width)
            state[key].append(torch.zeros(shape, device=dev))

    grow(len(base))
    depths, subsets, sky = [], [], []
    bar = progress_bar(
        zip(windows, win_views, strict=True),
        total=len(windows),
        desc="worldrec windows",
        disable=not progress,
    )
    for wframes, views in bar:
        pts = (
            np.concatenate([s.points for s in views.sweeps]) if views.sweeps else np.zeros((0, 3), np.float32)
        )
        depth = depth_maps(pts, views.viewmats, views.ks, views.image_hw, FEATURE_STRIDE)
        occupied = bg.xyz if not anchor_xyz else np.concatenate([bg.xyz, *anchor_xyz])
        new = anchor_tokens(
            views.ref_world_from_ego,
            tuple(cfg.anchor_extent),
            cfg.anchor_voxel,
            occupied,
            views.viewmats,
            views.ks,
            depth,
            views.image_hw,
            cfg.max_anchor_queries,
            cfg.visibility_tau,
            rng,
        )
        fresh = [i for i, k in enumerate(_anchor_keys(new.xyz, cfg.anchor_voxel)) if k not in anchor_index]
        if fresh:
            for i in fresh:
                anchor_index[_anchor_keys(new.xyz[i : i + 1], cfg.anchor_voxel)[0]] = len(anchor_index)
            anchor_xyz.append(new.xyz[fresh])
            grow(len(fresh))
        tokens = _all_tokens(base, anchor_xyz, cfg.anchor_voxel, ids)
        sub = _near(
            tokens,
            cache.world_from_ego[0, wframes, :3, 3],
            views.times,
            ids,
            cache.tracks,
            config.token_range,
        )
        sub_tokens = tokens.select(sub)
        depths.append(depth)
        subsets.append(sub)
        v_dev, d_dev = views.to(dev), depth.to(dev)
        feats = model.encode(v_dev.images)
        geo = owner_geometry(views, ids, cache.tracks).to(dev)
        q = model.embed(sub_tokens, views.ref_world_from_ego)
        agg = model.aggregate(q, sub_tokens, v_dev, geo, feats, d_dev)
        w = agg.mass[:, None]
        idx = torch.as_tensor(sub, device=dev)
        for key, val in (("q", w * q), ("f", w * agg.features), ("rgb", w * agg.rgb), ("mass", agg.mass)):
            full = torch.cat(state[key])
            state[key] = [full.index_add(0, idx, val)]
        sky.append(model.predict_sky(feats, v_dev.images))
    tokens = _all_tokens(base, anchor_xyz, cfg.anchor_voxel, ids)
    mass = torch.cat(state["mass"])
    seen = (mass > 1e-6).nonzero()[:, 0]
    m = mass[seen][:, None]
    q = torch.cat(state["q"])[seen] / m
    agg = Aggregate(torch.cat(state["f"])[seen] / m, torch.cat(state["rgb"])[seen] / m, mass[seen])
    seen_np = seen.cpu().numpy()
    kept = tokens.select(seen_np)
    g = model.decode(q, agg, kept)
    remap = np.full(len(tokens), -1, np.int64)
    remap[seen_np] = np.arange(len(seen_np))
    k = cfg.gaussians_per_query
    total = torch.zeros(g.means.shape[0], 3, device=dev)
    weight = torch.zeros(g.means.shape[0], device=dev)
    for views, depth, sub in zip(win_views, depths, subsets, strict=True):
        local = remap[sub]
        local = local[local >= 0]
        if len(local) == 0:
            continue
        gsel = torch.as_tensor((local[:, None] * k + np.arange(k)).reshape(-1), device=dev)
        part = GaussianBatch(
            *(
                t[gsel]
                for t in (g.means, g.quats, g.log_scales, g.opacity_logits, g.color_delta, g.owner, g.query)
            )
        )
        geo = owner_geometry(views, ids, cache.tracks).to(dev)
        t_sum, w_sum = model.sample_colours(part, kept.select(local), views.to(dev), geo, depth.to(dev))
        total.index_add_(0, gsel, t_sum)
        weight.index_add_(0, gsel, w_sum)
    colours = model.colour_logits(g, agg.rgb, total, weight)
    sky_logits = torch.stack(sky).mean(0)
    scene = gaussians_to_scene(g, colours, sky_logits, ids, metadata).to("cpu", torch.float32)
    report = {
        "build_seconds": round(time.perf_counter() - t0, 3),
        "windows": len(windows),
        "context_views": sum(v.num_views for v in win_views),
        "tokens": len(tokens),
        "tokens_seen": len(seen_np),
        "gaussians": scene.num_gaussians,
        "actors": len(scene.actors),
    }
    return scene, report


def _all_tokens(base: Tokens, anchor_xyz: list[np.ndarray], voxel: float, ids: Sequence[str]) -> Tokens:
    if not anchor_xyz:
        return base
    xyz = np.concatenate(anchor_xyz)
    n = len(xyz)
    anchors = Tokens(
        xyz, np.zeros(n, np.int64), np.full(n, voxel, np.float32), np.full(n, 1, np.int64), tuple(ids)
    )
    return Tokens.concat([base, anchors])


def _near(
    tokens: Tokens,
    ego_positions: np.ndarray,
    times: np.ndarray,
    ids: Sequence[str],
    tracks: Mapping[str, ActorTrack],
    radius: float,
) -> np.ndarray:
    """Indices of the tokens a window updates: world tokens within ``radius`` of its ego path,
    and the tokens of the actors annotated at some time of the window."""
    world = np.flatnonzero(tokens.owner == 0)
    tree = cKDTree(tokens.xyz[world, :2])
    hits = sorted({i for row in tree.query_ball_point(ego_positions[:, :2], radius) for i in row})
    uniq = np.unique(np.round(times, 4))
    present = [j + 1 for j, a in enumerate(ids) if any(tracks[a].is_present(float(t)) for t in uniq)]
    actors = np.flatnonzero(np.isin(tokens.owner, present))
    return np.concatenate([world[np.asarray(hits, dtype=np.int64)], actors]).astype(np.int64)


def reconstruct_segment(
    model: WorldRecModel,
    segment: LogSegment,
    frames: Sequence[int] | None = None,
    config: ReconstructConfig = ReconstructConfig(),
    progress: bool = False,
) -> tuple[GaussianScene, dict[str, Any]]:
    """Reconstruct ``segment`` from the frames ``frames`` (default all) and the lidar sweeps of
    its context frames (every ``config.ctx_stride``-th of them)."""
    t0 = time.perf_counter()
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    idx = list(range(n)) if frames is None else [int(i) for i in frames]
    # lidar: only the sweeps of the context frames (the ones reconstruct_cache uses)
    cache = LogCache.from_segment(
        segment, tuple(model.config.image_hw), frames=idx, lidar_frames=idx[:: config.ctx_stride]
    )
    t_load = time.perf_counter() - t0
    meta = {"source": segment.source or segment.name, "log": segment.name, "method": "worldrec"}
    scene, report = reconstruct_cache(model, cache, config, progress, meta)
    report["load_seconds"] = round(t_load, 3)
    report["build_seconds"] = round(time.perf_counter() - t0, 3)
    return scene, report
