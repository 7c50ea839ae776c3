"""Stage 3 of WorldGen (ODE distillation): the teacher's trajectories, stored at the student's levels.

For clips of the training set (``F`` frames, the first ``n_ctx`` of them true context), the
frozen causal teacher generates the other frames with many Euler steps of the flow and
classifier-free guidance (:func:`~jwmsim.worldgen.training.rollout.causal_rollout`), each frame attending to
the teacher's own earlier outputs. On the way, the state ``x`` is recorded at the student's few
levels (``[1000, 750, 500, 250]`` warped by the shift, merged into the Euler schedule so that it
passes through them exactly). A pair file holds one batch of such trajectories (float16):

* ``context`` ``[B, n_ctx, C, 3, H, W]``, ``cond`` ``[B, F, C, 5, H, W]``, ``rays``, ``motion``;
* ``x0`` ``[B, F - n_ctx, C, 3, H, W]``: where each trajectory ended (the teacher's frames);
* ``states`` ``[B, F - n_ctx, R, C, 3, H, W]`` and ``levels`` ``[R]``.

The student then learns to map each stored state to its trajectory's end
(:func:`ode_loss`), in the teacher-forcing layout whose clean blocks are the context and the
teacher's frames, i.e. exactly what the student's cache holds at inference. Files are written
atomically, one per batch; generation resumes where it stopped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jwmsim.errors import ConfigError, LogFormatError
from jwmsim.progress import progress_bar
from jwmsim.worldgen.flow import euler_levels, few_step_levels
from jwmsim.worldgen.modeling_worldgen import WorldGenModel
from jwmsim.worldgen.training.rollout import ClipInputs, causal_rollout, score_frames
from jwmsim.worldgen.training.train_clips import ClipSet

PAIR_KEYS = ("context", "cond", "rays", "motion", "x0", "states", "levels")


@dataclass(frozen=True)
class OdeSettings:
    """How the teacher's trajectories are made.

    Attributes:
        pairs: trajectory files to make (each holds ``batch`` clips).
        batch: clips per file (generated together).
        frames: frames per clip; context: of them, true context frames.
        euler_steps: Euler steps of the teacher's flow (before the student's levels are merged in).
        guidance: the teacher's classifier-free guidance scale.
        student_steps: the student's sampling steps (its levels are recorded).
        crop_hw: windows of the images (as in training) [px]; None: whole images.
    """

    pairs: int = 48
    batch: int = 8
    frames: int = 4
    context: int = 1
    euler_steps: int = 16
    guidance: float = 1.5
    student_steps: int = 4
    crop_hw: tuple[int, int] | None = (64, 96)

    def __post_init__(self) -> None:
        if self.pairs < 1 or self.batch < 1 or self.euler_steps < 1 or self.student_steps < 1:
            raise ConfigError("ODE pairs, batch, euler_steps and student_steps must be >= 1")
        if not 1 <= self.context < self.frames:
            raise ConfigError(f"ODE context frames must be in [1, frames), got {self.context}")


def teacher_schedule(euler_steps: int, student_levels: list[float], shift: float) -> list[float]:
    """The Euler levels (highest first, ending with 0) with the student's levels merged in."""
    merged = set(euler_levels(euler_steps, shift)) | {float(s) for s in student_levels}
    return sorted(merged, reverse=True)


def _stack_clips(
    clips: ClipSet, rng: np.random.Generator, st: OdeSettings, model: WorldGenModel
) -> ClipInputs:
    samples = [
        clips.draw(rng, st.frames, model.config.patch, model.config.depth_scale, st.crop_hw)
        for _ in range(st.batch)
    ]
    x0 = torch.stack([s.x0 for s in samples])
    return ClipInputs(
        context=x0[:, : st.context],
        cond=torch.stack([s.cond for s in samples]),
        rays=torch.stack([s.rays for s in samples]),
        motion=torch.stack([s.motion for s in samples]),
    )


def pair_path(folder: Path, index: int) -> Path:
    return folder / f"pairs_{index:05d}.pt"


@torch.no_grad()
def make_ode_pairs(
    teacher: WorldGenModel,
    clips: ClipSet,
    folder: Path,
    settings: OdeSettings,
    seed: int = 0,
    autocast: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write ``settings.pairs`` trajectory files into ``folder`` (those already there are kept:
    generation resumes); returns their paths. Each file's clips and noise come from ``seed`` and
    its index, so a resumed run makes the same files."""
    from jwmsim.worldgen.pipeline_worldgen import SOLVERS

    folder.mkdir(parents=True, exist_ok=True)
    teacher = teacher.eval()
    shift = float(teacher.config.timestep_shift)
    student = few_step_levels(settings.student_steps, shift)
    levels = teacher_schedule(settings.euler_steps, student, shift)
    paths = [pair_path(folder, i) for i in range(settings.pairs)]
    todo = [i for i, p in enumerate(paths) if not p.is_file()]
    for i in progress_bar(todo, desc="ODE trajectories", unit="file", disable=not progress):
        rng = np.random.default_rng([seed, i])
        gen = torch.Generator().manual_seed(seed * 100_003 + i)
        inputs = _stack_clips(clips, rng, settings, teacher)
        out = causal_rollout(
            teacher,
            inputs,
            levels,
            SOLVERS.get("euler"),
            guidance=settings.guidance,
            generator=gen,
            record=student,
            autocast=autocast,
        )
        payload = {
            "context": inputs.context.half(),
            "cond": inputs.cond.half(),
            "rays": inputs.rays.float(),
            "motion": inputs.motion.float(),
            "x0": out.x0.half(),
            "states": out.states.half(),
            "levels": torch.tensor(student, dtype=torch.float32),
            "settings": {**settings.__dict__, "seed": seed, "teacher_levels": levels},
        }
        tmp = paths[i].with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, paths[i])
    return paths


@dataclass(frozen=True)
class OdeSample:
    """One clip's trajectories (tensors as in the module docstring, without the batch axis)."""

    context: torch.Tensor
    cond: torch.Tensor
    rays: torch.Tensor
    motion: torch.Tensor
    x0: torch.Tensor
    states: torch.Tensor
    levels: torch.Tensor


def read_pairs(path: Path) -> dict[str, Any]:
    """A trajectory file, checked; :class:`LogFormatError` naming the file when it is unreadable."""
    hint = "delete it: the ode stage makes it again"
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise LogFormatError(f"ODE trajectory file {path} is unreadable ({err})", hint=hint) from err
    if not isinstance(data, dict) or any(k not in data for k in PAIR_KEYS):
        raise LogFormatError(f"ODE trajectory file {path} lacks {list(PAIR_KEYS)}", hint=hint)
    return data


class OdePairs:
    """The trajectory files of a folder, drawn one clip at a time (all kept in memory)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.files = sorted(self.folder.glob("pairs_*.pt"))
        if not self.files:
            raise ConfigError(f"no ODE trajectory files in {self.folder}", hint="run the ode stage")
        self.data = [read_pairs(p) for p in self.files]
        self.index = [(f, b) for f, d in enumerate(self.data) for b in range(d["x0"].shape[0])]

    def __len__(self) -> int:
        return len(self.index)

    def refresh(self) -> int:
        return len(self)

    def draw(self, rng: np.random.Generator) -> OdeSample:
        f, b = self.index[int(rng.integers(len(self.index)))]
        d = self.data[f]
        return OdeSample(*(d[k][b].float() for k in PAIR_KEYS[:-1]), d["levels"].float())


def ode_loss(model: Any, samples: list[OdeSample], gen: torch.Generator) -> torch.Tensor:
    """MSE between the student's ``x0`` from a stored state (one student level drawn per frame)
    and the trajectory's end, in the teacher-forcing layout (clean blocks: context + the
    teacher's frames; noisy blocks: the states; :func:`~jwmsim.worldgen.training.rollout.score_frames`)."""
    dev = next(model.parameters()).device
    ctx = torch.stack([s.context for s in samples]).to(dev)
    cond = torch.stack([s.cond for s in samples]).to(dev)
    rays = torch.stack([s.rays for s in samples]).to(dev)
    motion = torch.stack([s.motion for s in samples]).to(dev)
    x0 = torch.stack([s.x0 for s in samples]).to(dev)
    states = torch.stack([s.states for s in samples]).to(dev)  # [B, G, R, C, 3, H, W]
    levels = samples[0].levels.to(dev)
    b, g, r = states.shape[:3]
    pick = torch.randint(r, (b, g), generator=gen).to(dev)
    x_s = torch.gather(states, 2, pick.view(b, g, 1, 1, 1, 1, 1).expand(b, g, 1, *states.shape[3:])).squeeze(
        2
    )
    pred = score_frames(model, ctx, x0, x_s, levels[pick], cond, rays, motion)
    return (pred - x0).pow(2).mean()
