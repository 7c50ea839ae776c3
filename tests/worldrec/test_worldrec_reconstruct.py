"""Window-by-window fusion of a log, and the evaluation helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jwmsim.errors import ConfigError
from jwmsim.worldrec.evaluate import _methods, evaluate_logged, markdown_table, prepare_eval_town, summarise
from jwmsim.worldrec.reconstruct import ReconstructConfig, reconstruct_cache, reconstruct_segment


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


def test_evaluation_compares_with_the_lidar_skeleton(tiny_model, tiny_segment) -> None:
    methods = _methods(tiny_model, tiny_segment, ReconstructConfig(ctx_stride=1))
    res = evaluate_logged(methods, tiny_segment, (32, 56))
    for m in ("worldrec", "lidar"):
        assert np.isfinite(res[m]["psnr"]) and 0 < res[m]["ssim"] <= 1
        assert res[m]["views"] == len(tiny_segment.camera_names)  # frame 4 only (10 frames)
        assert set(res[m]["per_camera"]) == set(tiny_segment.camera_names)
    table = markdown_table(summarise(res, []))
    assert "WorldRec" in table and "lidar skeleton" in table


def test_evaluation_towns_are_only_evaluation_seeds(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not an evaluation town"):
        prepare_eval_town(tmp_path, 120, 1.0)
