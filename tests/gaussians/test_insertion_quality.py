"""Scoring an inserted actor against the procedural oracle: Sobel sharpness, the actor region, the
depth-tested composite, and one real view of a procedural town."""

from __future__ import annotations

import numpy as np
import pytest

from jwmsim.errors import ConfigError
from jwmsim.gaussians.insertion_quality import (
    actor_region,
    composite_scores,
    score_insertion,
    sharpness_ratio,
    sobel_magnitude,
)


def _checker(h: int = 32, w: int = 32, cell: int = 4) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return np.repeat((((yy // cell) + (xx // cell)) % 2).astype(float)[..., None], 3, 2)


def _blur(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return sum(p[dy : dy + img.shape[0], dx : dx + img.shape[1]] for dy in range(3) for dx in range(3)) / 9


def test_sobel_is_zero_on_flat_images_and_blur_lowers_sharpness() -> None:
    assert np.allclose(sobel_magnitude(np.full((8, 8, 3), 0.4)), 0.0)
    img = _checker()
    region = np.ones(img.shape[:2], bool)
    assert sharpness_ratio(img, img, region) == pytest.approx(1.0)
    assert sharpness_ratio(_blur(img), img, region) < 0.8
    assert np.isnan(sharpness_ratio(img, np.full_like(img, 0.5), region))
    with pytest.raises(ConfigError, match="non-empty"):
        sharpness_ratio(img, img, np.zeros(img.shape[:2], bool))


def test_region_is_the_padded_rectangle_of_mask_and_coverage() -> None:
    mask = np.zeros((20, 30), bool)
    mask[5:8, 10:12] = True
    alpha = np.zeros((20, 30))
    alpha[9, 20] = 0.9
    region = actor_region(mask, alpha, pad=2)
    ys, xs = np.nonzero(region)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (3, 11, 8, 22)
    assert not actor_region(np.zeros((4, 4), bool), np.zeros((4, 4))).any()


def test_composite_scores_a_perfect_candidate_infinite_and_hides_it_behind_nearer_background() -> None:
    h, w = 24, 24
    background = np.full((h, w, 3), 0.5)
    truth = background.copy()
    mask = np.zeros((h, w), bool)
    mask[8:16, 8:16] = True
    truth[mask] = _checker(h, w, 2)[mask]
    alpha = mask.astype(float)
    exact = (truth * alpha[..., None], alpha, np.full((h, w), 10.0))
    grey = (np.full((h, w, 3), 0.3) * alpha[..., None], alpha, np.full((h, w), 10.0))
    far = np.full((h, w), np.inf)
    scores = composite_scores(truth, background, far, mask, {"exact": exact, "grey": grey})
    assert scores["exact"].psnr == float("inf") and scores["exact"].sharpness_ratio == pytest.approx(1.0)
    assert scores["grey"].psnr < 15 and scores["grey"].sharpness_ratio < scores["exact"].sharpness_ratio
    assert scores["exact"].region_px == scores["grey"].region_px == (8 + 6) ** 2
    # a wall at 5 m in front of everything: the candidate (at 10 m) is hidden, the composite is the wall
    hidden = composite_scores(background, background, np.full((h, w), 5.0), mask, {"exact": exact})
    assert hidden["exact"].psnr == float("inf")


def test_one_view_of_an_evaluation_town() -> None:
    """A town car replaced by itself as a Gaussian box of its size scores a finite PSNR; a car
    that is not in view scores None."""
    from jwmsim.gaussians.synthetic import box_actor
    from jwmsim.logs.procedural import Town, nuscenes_like_rig
    from jwmsim.logs.procedural.render import render_ground_truth

    town = Town.generate(900)
    cam = nuscenes_like_rig(160, 90)["CAM_FRONT"]
    t = 6.0
    full = render_ground_truth(town, cam, town.ego_pose_at(t), time=t)
    seen = [a for a in town.actors if a.actor_id in full.actor_ids and full.mask(a.actor_id).sum() >= 60]
    unseen = [
        a
        for a in town.actors
        if a.is_present(t) and a.actor_id in full.actor_ids and not full.mask(a.actor_id).any()
    ]
    assert seen and unseen
    actor = max(seen, key=lambda a: int(full.mask(a.actor_id).sum()))
    w, length, h = actor.size_wlh
    box = box_actor((length, w, h), n=600, seed=0)
    scores = score_insertion(town, cam, t, actor.actor_id, {"box": box}, min_pixels=60, full=full)
    assert scores is not None and 3.0 < scores["box"].psnr < 40.0 and scores["box"].region_px >= 60
    assert score_insertion(town, cam, t, unseen[0].actor_id, {"box": box}, full=full) is None
    assert score_insertion(town, cam, t, "no-such-actor", {"box": box}) is None
