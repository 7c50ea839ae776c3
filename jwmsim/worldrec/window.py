"""One window of a log, ready for the model: context views, their lidar depth maps and the
sparse 3D queries built from the window's lidar (see :mod:`jwmsim.worldrec.queries`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from jwmsim.worldrec.inputs import LogCache, WindowViews, window_views
from jwmsim.worldrec.modeling_worldrec import FEATURE_STRIDE
from jwmsim.worldrec.queries import (
    Tokens,
    actor_tokens,
    anchor_tokens,
    background_tokens,
    box_pose,
    depth_maps,
    split_actor_points,
    with_actor_ids,
)

ACTOR_RANGE = 70.0  # [m] actors farther than this from the window's ego get no queries


@dataclass(frozen=True)
class Window:
    """``views`` (V context views), ``depth`` ``[V, h, w]`` lidar depth maps, ``tokens`` (queries)."""

    views: WindowViews
    depth: torch.Tensor
    tokens: Tokens


def window_actor_ids(cache: LogCache, views: WindowViews) -> list[str]:
    """Actors annotated at some view time of the window and within :data:`ACTOR_RANGE` of its ego."""
    ref = views.ref_world_from_ego[:3, 3]
    out = []
    for aid, tr in cache.tracks.items():
        times = [t for t in np.unique(np.round(views.times, 3)) if tr.is_present(float(t))]
        if times and np.linalg.norm(box_pose(tr, float(times[0]))[:2, 3] - ref[:2]) < ACTOR_RANGE:
            out.append(aid)
    return sorted(out)


def build_window(
    cache: LogCache,
    frames: Sequence[int],
    config: Any,
    rng: np.random.Generator,
    cameras: Sequence[int] | None = None,
) -> Window:
    """The window of frame indices ``frames`` (all cameras, or ``cameras``) of ``cache``.

    Args:
        config: the model's config (``model.config``).
        rng: picks the subsets when a kind of query exceeds its cap.
    """
    views = window_views(cache, frames, cameras)
    pts_all = (
        np.concatenate([s.points for s in views.sweeps]) if views.sweeps else np.zeros((0, 3), np.float32)
    )
    depth = depth_maps(pts_all, views.viewmats, views.ks, views.image_hw, FEATURE_STRIDE)
    bg_pts, act_pts = split_actor_points(views.sweeps, cache.tracks)
    ego_pos = cache.world_from_ego[0, [int(f) for f in frames], :3, 3]
    bg = background_tokens(
        bg_pts, ego_pos, config.lidar_voxel, config.lidar_voxel_range, config.max_lidar_queries, rng
    )
    ids = window_actor_ids(cache, views)
    actors = actor_tokens(act_pts, cache.tracks, ids, config.actor_voxel, config.max_actor_queries, rng)
    anchors = anchor_tokens(
        views.ref_world_from_ego,
        tuple(config.anchor_extent),
        config.anchor_voxel,
        bg.xyz,
        views.viewmats,
        views.ks,
        depth,
        views.image_hw,
        config.max_anchor_queries,
        config.visibility_tau,
        rng,
    )
    tokens = Tokens.concat([with_actor_ids(bg, ids), with_actor_ids(anchors, ids), actors])
    return Window(views, depth, tokens)
