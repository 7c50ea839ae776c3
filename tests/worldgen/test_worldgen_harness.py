"""The evaluation harness with the built-in baselines on tiny synthetic clips, and its command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import ConfigError
from jwmsim.worldgen.training.dataset import save_clip
from jwmsim.worldgen.training.evaluate import EvalConfig, rollout_summary, run_clip, run_eval, write_outputs
from jwmsim.worldgen.training.gen_metrics import frame_scores
from jwmsim.worldgen.training.generators import (
    GENERATORS,
    CopyLastGenerator,
    GeneratorOptions,
    SkeletonGenerator,
)
from tests.worldgen.conftest import make_clip


def test_skeleton_baseline_scores_the_skeleton() -> None:
    clip = make_clip(steps=3, context=2)
    run = run_clip(SkeletonGenerator(), clip)
    want = frame_scores(clip.skel_rgb[1], clip.target[1], clip.skel_alpha[1] / 255.0)
    assert run.scores["psnr"].shape == (3, 2)
    assert np.allclose(run.scores["psnr"][1], want["psnr"])
    assert np.allclose(run.scores["ssim_covered"][1], want["ssim_covered"], equal_nan=True)


def test_copy_last_repeats_the_newest_context_frame() -> None:
    clip = make_clip(steps=3, context=2)
    gen = CopyLastGenerator()
    gen.reset(clip.prior_context())
    outs = [gen.generate(f) for f in clip.skeleton_frames()]
    assert all(np.array_equal(o, clip.context[-1]) for o in outs)
    gen.reset([])  # no context: its first skeleton frame, repeated
    frames = clip.skeleton_frames()
    assert np.array_equal(gen.generate(frames[0]), clip.skel_rgb[0])
    assert np.array_equal(gen.generate(frames[2]), clip.skel_rgb[0])


def test_copy_last_is_perfect_on_a_still_scene() -> None:
    clip = make_clip(steps=2, context=1)
    still = np.broadcast_to(clip.context[0], clip.target.shape).copy()
    from dataclasses import replace

    run = run_clip(CopyLastGenerator(), replace(clip, target=still))
    assert np.all(np.isinf(run.scores["psnr"]))


def test_registry_has_the_baselines_and_refuses_duplicates() -> None:
    assert {"skeleton", "copy-last"} <= set(GENERATORS.names())
    with pytest.raises(ValueError, match="already registered"):
        GENERATORS.add("skeleton", GENERATORS.get("skeleton"))
    with pytest.raises(ConfigError, match="unknown frame generator"):
        EvalConfig(Path("."), ("nope",))


def test_rollout_summary_per_second_and_memory() -> None:
    clip = make_clip(steps=25, context=1, condition="rollout-2.5s")
    run = run_clip(SkeletonGenerator(), clip, track_memory=True)
    s = rollout_summary(run)
    assert s["steps"] == 25 and [p["second"] for p in s["per_second"]] == [0, 1, 2]
    assert s["per_second"][2]["images"] == 5 * 2
    assert s["per_second"][0]["rss_mib"] > 0 and "traced_growth_mib" in s


def _tiny_eval_root(root: Path) -> None:
    folder = root / "eval"
    for i, cond in enumerate(("shift-0m", "shift-2m", "lane-change")):
        for scene in ("lidar", "worldrec"):
            save_clip(
                make_clip(context=2, seed=i, condition=cond, scene=scene),
                folder / f"clip-t-{cond}-{scene}.npz",
            )
    real = make_clip(context=2, kind="real", condition="real-heldout", source="pandaset-002")
    save_clip(real, folder / "clip-pandaset-002-real-heldout-lidar.npz")
    save_clip(make_clip(steps=22, context=2, condition="rollout-2.2s"), folder / "clip-t-rollout-lidar.npz")


def test_run_eval_and_outputs(tmp_path: Path) -> None:
    _tiny_eval_root(tmp_path / "data")
    report = run_eval(EvalConfig(tmp_path / "data", ("skeleton", "copy-last")), log=lambda _: None)
    assert report["clips"] == 8
    assert set(report["towns"]["skeleton"]) == {"lidar", "worldrec"}
    assert set(report["towns"]["copy-last"]["lidar"]) == {"shift-0m", "shift-2m", "lane-change"}
    assert report["towns"]["skeleton"]["lidar"]["shift-2m"]["images"] == 3 * 2
    assert "lidar" in report["real_heldout"]["copy-last"]
    assert report["rollout"]["skeleton"]["steps"] == 22
    written = write_outputs(report, tmp_path / "out")
    names = {p.name for p in written}
    assert {"results.json", "results.md", "psnr_vs_shift.png", "drift.png", "memory.png"} <= names
    assert json.loads((tmp_path / "out" / "results.json").read_text())["generators"] == [
        "skeleton",
        "copy-last",
    ]
    md = (tmp_path / "out" / "results.md").read_text()
    assert "shift-2m" in md and "Drift rollout" in md


def test_rollout_can_be_cut_short(tmp_path: Path) -> None:
    _tiny_eval_root(tmp_path)
    report = run_eval(
        EvalConfig(tmp_path, ("skeleton",), GeneratorOptions(), max_rollout_steps=11), log=lambda _: None
    )
    assert report["rollout"]["skeleton"]["steps"] == 11


def test_only_keeps_the_named_clips(tmp_path: Path) -> None:
    _tiny_eval_root(tmp_path)
    cfg = EvalConfig(tmp_path, ("skeleton",), only=("shift-2m", "real-heldout"))
    report = run_eval(cfg, log=lambda _: None)
    assert report["clips"] == 3 and report["only"] == ["shift-2m", "real-heldout"]
    assert set(report["towns"]["skeleton"]["lidar"]) == {"shift-2m"} and not report["rollout"]
    with pytest.raises(ConfigError, match="no evaluation clip"):
        run_eval(EvalConfig(tmp_path, ("skeleton",), only=("shift-9m",)), log=lambda _: None)


@pytest.mark.parametrize("version", ["", "worldrec-v2-0123456789ab-unpruned"])
def test_a_clip_of_another_skeleton_is_refused(tmp_path: Path, version: str) -> None:
    """A clip whose skeleton an earlier WorldRec (or an unrecorded one) built scores a skeleton
    nobody renders any more: the evaluation names it and how to write the set again."""
    _tiny_eval_root(tmp_path)
    path = tmp_path / "eval" / "clip-t-shift-2m-worldrec.npz"
    save_clip(make_clip(context=2, condition="shift-2m", scene="worldrec", scene_version=version), path)
    with pytest.raises(ConfigError, match="clip-t-shift-2m-worldrec.npz: its worldrec skeleton") as err:
        run_eval(EvalConfig(tmp_path, ("skeleton",), only=("shift-2m",)), log=lambda _: None)
    assert "--split eval" in (err.value.hint or "")
    report = run_eval(EvalConfig(tmp_path, ("skeleton",), only=("shift-0m",)), log=lambda _: None)
    assert report["scene_versions"]["worldrec"].startswith("worldrec-v2-")


def test_teacher_and_student_generators_are_registered() -> None:
    assert {"worldgen", "worldgen-teacher", "worldgen-ode"} <= set(GENERATORS.names())


def _cli(args: list[str]) -> int:
    from jwmsim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code)


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["eval", "gen", "--root", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no WorldGen evaluation clips" in err and "--split eval" in err and "Traceback" not in err
    _tiny_eval_root(tmp_path)
    assert _cli(["eval", "gen", "--root", str(tmp_path), "-g", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "unknown frame generator 'nope'" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert _cli(["eval", "gen", "--root", str(tmp_path), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_cli_runs(tmp_path: Path) -> None:
    _tiny_eval_root(tmp_path)
    args = [
        "eval",
        "gen",
        "--root",
        str(tmp_path),
        "-g",
        "skeleton",
        "-g",
        "copy-last",
        "--out",
        str(tmp_path / "o"),
    ]
    assert _cli(args) == 0
    assert (tmp_path / "o" / "results.md").is_file()
