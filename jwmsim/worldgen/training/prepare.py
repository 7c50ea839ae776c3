"""Write WorldGen training clips: ``python -m jwmsim.worldgen.training.prepare --root DIR --split train
--towns 100-115 --clips-per-town N [--real-clips M]``.

Per training town (seeds 100-199 only, :func:`jwmsim.worldrec.training.data.check_training_seed`): the town's
log is written with the current generator (once, under ``<root>/towns/``), its lidar skeleton and
WorldRec scenes are built (once, cached under ``$JWMSIM_CACHE/scenes``), then clips ``0..N-1`` are
rendered off the logged drive (:mod:`jwmsim.worldgen.training.perturb`). Real-log clips come from the real
log (:mod:`jwmsim.worldgen.training.real_clips`, never targeting its held-out last second).

Resumable: a clip already on disk is skipped, and clip ``k`` of a source is the same whatever ``N``,
so raising ``N`` adds clips. Interruptible: every clip is written atomically, so Ctrl-C loses at
most the clip being rendered. ``--split eval`` writes the evaluation set instead
(:mod:`jwmsim.worldgen.training.eval_set`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.progress import progress_bar
from jwmsim.worldgen.training.dataset import STEP_S, clip_name, split_dir
from jwmsim.worldgen.training.perturb import PerturbConfig
from jwmsim.worldgen.training.real_clips import TRAIN_FRAME_END
from jwmsim.worldgen.training.town_clips import ClipSpec

# real-log scenes are built from frames 0..k, k in these; the last leaves 4 frames to predict before
# the evaluation frames (>= TRAIN_FRAME_END)
REAL_SCENE_ENDS = (9, 19, 29, 35)


@dataclass(frozen=True)
class PrepareConfig:
    """A training-clip run.

    Attributes:
        root: data root (clips under ``<root>/train``, town logs under ``<root>/towns``).
        towns: training town seeds.
        clips_per_town: clips ``0..N-1`` of each town.
        real_clips: clips of the real log (0: none).
        real_log: the real log's dataroot (None: no real clips).
        log_duration: seconds of each town log [s].
        p_worldrec: probability that a clip's skeleton is the WorldRec scene (else the lidar one).
        perturb: how clips leave the logged drive.
        spec: clip size.
    """

    root: Path
    towns: tuple[int, ...]
    clips_per_town: int
    real_clips: int = 0
    real_log: Path | None = None
    log_duration: float = 4.1  # [s] (a keyframe last: tracks then cover every sweep)
    p_worldrec: float = 0.35
    perturb: PerturbConfig = PerturbConfig()
    spec: ClipSpec = ClipSpec()

    def __post_init__(self) -> None:
        from jwmsim.worldrec.training.data import check_training_seed

        for seed in self.towns:
            check_training_seed(seed)
        if self.clips_per_town < 0 or self.real_clips < 0:
            raise ConfigError("--clips-per-town and --real-clips must be >= 0")
        if self.real_clips and (self.real_log is None or not Path(self.real_log).is_dir()):
            raise ConfigError(
                f"real log {self.real_log} is not a folder", hint="pass --real-log DIR or --real-clips 0"
            )
        if self.log_duration < (self.spec.steps - 1) * STEP_S + 0.5:
            raise ConfigError(
                f"--log-duration {self.log_duration} s is too short for clips of {self.spec.steps} steps"
            )


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"100-103,110"`` -> ``(100, 101, 102, 103, 110)``."""
    out: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = part.split("-", 1)
                out += list(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise ConfigError(
            f"cannot read town seeds {text!r}", hint="write them like 100-115 or 100,104"
        ) from None
    if not out:
        raise ConfigError(f"no town seeds in {text!r}", hint="write them like 100-115")
    return tuple(out)


def town_jobs(cfg: PrepareConfig, seed: int) -> list[int]:
    """Clip indices of town ``seed`` still missing."""
    folder = split_dir(cfg.root, "train")
    return [k for k in range(cfg.clips_per_town) if not (folder / clip_name(f"town-{seed:06d}", k)).is_file()]


def make_town_clips(cfg: PrepareConfig, seed: int, bar: tqdm, log: Callable[[str], None]) -> int:
    """Write the missing clips of town ``seed``; returns how many were written."""
    from jwmsim.worldgen.training.dataset import save_clip
    from jwmsim.worldgen.training.town_clips import TownClipMaker, prepare_town_log

    todo = town_jobs(cfg, seed)
    if not todo:
        return 0
    source = f"town-{seed:06d}"
    maker = TownClipMaker(prepare_town_log(cfg.root, seed, cfg.log_duration), source, cfg.spec)
    starts = maker.start_times()
    folder = split_dir(cfg.root, "train")
    for k in todo:
        rng = np.random.default_rng([seed, k, 11])
        scene = "worldrec" if rng.random() < cfg.p_worldrec else "lidar"
        t0 = float(starts[int(rng.integers(len(starts)))])
        clip = maker.make(rng, scene, t0, cfg.perturb)
        save_clip(clip, folder / clip_name(source, k))
        bar.update(1)
    return len(todo)


def real_jobs(cfg: PrepareConfig) -> list[tuple[int, str, int, int]]:
    """``(k, scene, last, first_target)`` of the real-log clips still missing, grouped by scene."""
    folder = split_dir(cfg.root, "train")
    jobs = []
    steps = cfg.spec.steps
    for k in range(cfg.real_clips):
        rng = np.random.default_rng([7, k, 13])
        scene = "worldrec" if rng.random() < cfg.p_worldrec else "lidar"
        last = int(REAL_SCENE_ENDS[int(rng.integers(len(REAL_SCENE_ENDS)))])
        lo = max(0, last - 3)
        hi = TRAIN_FRAME_END - steps + 1
        first = int(rng.integers(min(lo, hi - 1), hi))
        if not (folder / clip_name("pandaset-002", k)).is_file():
            jobs.append((k, scene, last, first))
    return sorted(jobs, key=lambda j: (j[1], j[2], j[0]))


def make_real_clips(cfg: PrepareConfig, bar: tqdm) -> int:
    from jwmsim.worldgen.training.dataset import save_clip
    from jwmsim.worldgen.training.real_clips import RealClipMaker

    jobs = real_jobs(cfg)
    if not jobs:
        return 0
    assert cfg.real_log is not None
    maker = RealClipMaker(Path(cfg.real_log), spec=cfg.spec)
    folder = split_dir(cfg.root, "train")
    for k, scene, last, first in jobs:
        clip = maker.make(scene, last, first, train=True)
        save_clip(clip, folder / clip_name(maker.source, k))
        bar.update(1)
    return len(jobs)


def run(cfg: PrepareConfig, log: Callable[[str], None] = print) -> dict[str, float]:
    """Write every missing clip of ``cfg``; returns counts and seconds."""
    import torch

    torch.set_num_threads(1)
    total = sum(len(town_jobs(cfg, s)) for s in cfg.towns) + len(real_jobs(cfg))
    t0 = time.perf_counter()
    written = 0
    with progress_bar(total=total, desc="worldgen clips", unit="clip") as bar:
        if cfg.real_clips:
            written += make_real_clips(cfg, bar)
        for seed in cfg.towns:
            written += make_town_clips(cfg, seed, bar, log)
    seconds = time.perf_counter() - t0
    log(f"wrote {written} clips in {seconds:.0f} s to {split_dir(cfg.root, 'train')}")
    return {"written": written, "seconds": round(seconds, 1)}


def build_parser() -> argparse.ArgumentParser:
    from jwmsim.worldgen.training.dataset import default_root
    from jwmsim.worldrec.training.data import default_real_log

    ap = argparse.ArgumentParser(description="Write WorldGen training or evaluation clips.")
    ap.add_argument("--root", type=Path, default=default_root(), help="data root (default %(default)s)")
    ap.add_argument("--split", choices=("train", "eval"), default="train")
    ap.add_argument("--towns", default="100-115", help="town seeds, e.g. 100-115 (train) or 900-904 (eval)")
    ap.add_argument("--clips-per-town", type=int, default=25)
    ap.add_argument("--real-clips", type=int, default=0, help="clips of the real log (train)")
    ap.add_argument("--real-log", type=Path, default=default_real_log())
    ap.add_argument("--log-duration", type=float, default=4.1, help="seconds of each town log")
    ap.add_argument("--rollout-seconds", type=float, default=60.0, help="eval: drift rollout length")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        seeds = parse_seeds(args.towns)
        if args.split == "eval":
            from jwmsim.worldgen.training.eval_set import EvalSetConfig, write_eval_set

            write_eval_set(
                EvalSetConfig(
                    root=args.root,
                    towns=seeds,
                    real_log=args.real_log if args.real_log.is_dir() else None,
                    log_duration=args.log_duration,
                    rollout_seconds=args.rollout_seconds,
                )
            )
            return 0
        run(
            PrepareConfig(
                root=args.root,
                towns=seeds,
                clips_per_town=args.clips_per_town,
                real_clips=args.real_clips,
                real_log=args.real_log,
                log_duration=args.log_duration,
            )
        )
    except JwmsimError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted: the clips written so far are complete; run again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
