"""Clip files: round trip, validation errors naming the file, listing, frame views."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.worldgen.training.dataset import Clip, clip_name, list_clips, load_clip, save_clip
from tests.worldgen.conftest import make_clip


def _assert_same(a: Clip, b: Clip) -> None:
    assert a.cameras == b.cameras and (a.source, a.kind, a.scene, a.condition) == (
        b.source,
        b.kind,
        b.scene,
        b.condition,
    )
    for name in (
        "target",
        "skel_rgb",
        "skel_depth",
        "skel_alpha",
        "world_from_ego",
        "intrinsics",
        "times",
        "shift_m",
    ):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


def test_round_trip(tmp_path: Path) -> None:
    clip = make_clip(context=2)
    path = save_clip(clip, tmp_path / "train" / clip_name("town-000121", 3))
    assert path.name == "clip-town-000121-0003.npz"
    back = load_clip(path)
    _assert_same(clip, back)
    assert back.context is not None and np.array_equal(back.context, clip.context)
    assert [p.name for p in list_clips(tmp_path, "train")] == [path.name]
    assert not list(path.parent.glob("*.tmp"))  # the temporary file was renamed away


def test_scene_version_round_trips_and_may_be_missing(tmp_path: Path) -> None:
    clip = make_clip(scene_version="worldrec-v2-abc-unpruned")
    assert load_clip(save_clip(clip, tmp_path / "a.npz")).scene_version == "worldrec-v2-abc-unpruned"
    arrays = dict(np.load(tmp_path / "a.npz"))
    del arrays["scene_version"]  # a clip written before the version was recorded
    np.savez(tmp_path / "b.npz", **arrays)
    assert load_clip(tmp_path / "b.npz").scene_version == ""


def test_round_trip_without_context(tmp_path: Path) -> None:
    back = load_clip(save_clip(make_clip(), tmp_path / "c.npz"))
    assert back.context is None and back.prior_context() == []


def test_frame_views() -> None:
    clip = make_clip(steps=2, context=3)
    sk = clip.skeleton_frames()
    assert len(sk) == 2 and sk[0].rgb.shape == (2, 16, 24, 3)
    assert sk[1].alpha.dtype == np.float32 and np.allclose(sk[1].alpha, clip.skel_alpha[1] / 255.0)
    assert sk[0].depth.dtype == np.float32 and sk[0].poses.time == pytest.approx(clip.times[0])
    ctx = clip.context_frames()
    assert np.array_equal(ctx[1].images, clip.target[1]) and ctx[1].skeleton is not None
    prior = clip.prior_context()
    assert len(prior) == 3 and np.array_equal(prior[-1].images, clip.context[-1])


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"skel_depth": np.zeros((3, 2, 16, 24), np.float32)}, "skel_depth"),
        ({"target": np.zeros((3, 2, 16, 24, 3), np.float32)}, "target"),
        ({"intrinsics": np.zeros((2, 4, 4))}, "intrinsics"),
        ({"kind": "simulated"}, "kind"),
        ({"scene": "nerf"}, "scene"),
    ],
)
def test_invalid_clip_is_refused(change: dict, word: str) -> None:
    clip = make_clip()
    with pytest.raises(ValueError, match=word):
        replace(clip, **change)


def test_bad_file_names_the_file_and_key(tmp_path: Path) -> None:
    good = save_clip(make_clip(), tmp_path / "good.npz")
    with np.load(good) as z:
        data = {k: z[k] for k in z.files}
    data["skel_alpha"] = data["skel_alpha"].astype(np.float32)
    np.savez(tmp_path / "dtype.npz", **data)
    with pytest.raises(LogFormatError, match=r"dtype\.npz.*skel_alpha"):
        load_clip(tmp_path / "dtype.npz")
    del data["times"]
    np.savez(tmp_path / "missing.npz", **data)
    with pytest.raises(LogFormatError, match=r"missing\.npz.*times"):
        load_clip(tmp_path / "missing.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:500])
    with pytest.raises(LogFormatError, match=r"cut\.npz"):
        load_clip(tmp_path / "cut.npz")
    with pytest.raises(LogFormatError, match="does not exist"):
        load_clip(tmp_path / "nope.npz")


def test_list_clips_and_splits(tmp_path: Path) -> None:
    assert list_clips(tmp_path, "eval") == []
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "clip-x.npz.abc.tmp").write_bytes(b"half")
    assert list_clips(tmp_path, "eval") == []
    with pytest.raises(ConfigError, match="split"):
        list_clips(tmp_path, "test")
