"""Window-by-window fusion of a log, and the evaluation helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.prune import PruneConfig
from jwmsim.worldrec.reconstruct import ReconstructConfig, reconstruct_cache, reconstruct_segment
from jwmsim.worldrec.training.evaluate import (
    _methods,
    evaluate_logged,
    markdown_table,
    prepare_eval_town,
    summarise,
)


def test_fusion_over_several_windows(tiny_model, tiny_cache) -> None:
    scene, rep = reconstruct_cache(tiny_model, tiny_cache, ReconstructConfig(ctx_stride=1, window_steps=3))
    assert rep["windows"] == 4 and rep["context_views"] == 10 * len(tiny_cache.cameras)
    assert 0 < rep["tokens_seen"] <= rep["tokens"]
    assert scene.num_gaussians == rep["tokens_seen"] * tiny_model.config.gaussians_per_query
    assert scene.device.type == "cpu" and not scene.background.means.requires_grad
    for comp in [scene.background, *scene.actors.values()]:
        for t in comp.tensors().values():
            assert torch.isfinite(t).all()
    # anchors are spawned once per world cell, however many windows see it
    bg = scene.background.means.numpy()
    assert len(bg) > 0 and np.isfinite(bg).all()


def test_fusion_of_one_window_matches_more_context(tiny_model, tiny_segment) -> None:
    one, r1 = reconstruct_segment(
        tiny_model, tiny_segment, frames=[0, 3, 6], config=ReconstructConfig(ctx_stride=1)
    )
    assert r1["windows"] == 1 and one.num_gaussians > 0
    many, r2 = reconstruct_segment(
        tiny_model, tiny_segment, config=ReconstructConfig(ctx_stride=1, window_steps=2)
    )
    assert r2["windows"] == 5 and r2["tokens"] >= r1["tokens"]


def test_evaluation_compares_with_the_lidar_skeleton_and_fitting(tiny_model, tiny_segment) -> None:
    prune = PruneConfig(frame_stride=3, image_hw=(16, 28))
    methods = _methods(tiny_model, tiny_segment, ReconstructConfig(ctx_stride=1), 3, prune, (32, 56))
    assert set(methods) == {"worldrec", "lidar", "fit"}
    res = evaluate_logged(methods, tiny_segment, (32, 56))
    for m in ("worldrec", "lidar", "fit"):
        assert np.isfinite(res[m]["psnr"]) and 0 < res[m]["ssim"] <= 1
        assert res[m]["views"] == len(tiny_segment.camera_names)  # frame 4 only (10 frames)
        assert set(res[m]["per_camera"]) == set(tiny_segment.camera_names)
    assert res["worldrec"]["gaussians"] == methods["worldrec"][0].num_gaussians
    # the same log held out every 4th frame (2, 6) stands in for the out-of-sample set
    methods4 = _methods(tiny_model, tiny_segment, ReconstructConfig(ctx_stride=1), 0, prune, (32, 56), 4)
    res4 = evaluate_logged(methods4, tiny_segment, (32, 56), every=4)
    assert res4["worldrec"]["views"] == 2 * len(tiny_segment.camera_names)
    table = markdown_table(summarise({"in_sample": res, "out_of_sample": res4}, []))
    header = table.splitlines()[0]
    assert "WorldRec" in header and "lidar skeleton" in header and "per-scene fit" in header
    rows = [line.split(" | ")[0] for line in table.splitlines()]
    assert any(r.startswith("| in-sample: real log frames 0-39") for r in rows)
    assert any(r.startswith("| out-of-sample: new log: real frames 40-59") for r in rows)
    assert "| out-of-sample: Gaussians" in table


def test_evaluation_towns_are_only_evaluation_seeds(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not an evaluation town"):
        prepare_eval_town(tmp_path, 120, 1.0)


def test_pruning_keeps_what_the_cameras_see(tiny_segment) -> None:
    from jwmsim.gaussians.image_metrics import psnr
    from jwmsim.gaussians.lidar_skeleton import lidar_skeleton
    from jwmsim.gaussians.prune import prune_scene
    from jwmsim.gaussians.render import render

    scene = lidar_skeleton(tiny_segment, progress=False)
    pruned, rep = prune_scene(scene, tiny_segment, PruneConfig(weight_coverage=0.995, frame_stride=2))
    assert rep["background_before"] == len(scene.background)
    assert 0 < rep["background_after"] == len(pruned.background) < len(scene.background)
    assert pruned.actors.keys() == scene.actors.keys() and pruned.metadata["pruned"].startswith("cov0.995")
    cams = [tiny_segment.cameras[c] for c in tiny_segment.camera_names]
    fr = tiny_segment.frames[tiny_segment.camera_names[0]][5]
    poses = {a: p for a, p in tiny_segment.actors_at(fr.time).items() if a in scene.actors}
    full = render(scene, cams, fr.world_from_ego, poses, (32, 56)).rgb
    part = render(pruned, cams, fr.world_from_ego, poses, (32, 56)).rgb
    assert psnr(part.clamp(0, 1), full.clamp(0, 1)) > 30.0
