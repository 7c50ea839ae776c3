"""Frame generators by name (:data:`GENERATORS`), for ``jwmsim eval gen --generator NAME``.

Built in, the baselines a generator is measured against:

* ``skeleton``: returns the skeleton's render as it is;
* ``copy-last``: repeats the last context frame (the newest real frame before the rollout) at
  every step; with no context it repeats its first skeleton frame.

A generator joins with ``GENERATORS.add(name, GeneratorSpec(make, description))``; ``make`` receives
:class:`GeneratorOptions` (device, sampling steps, weights folder) and returns a
:class:`~jwmsim.worldgen.frames.FrameGenerator`. The WorldGen pipeline registers as ``worldgen``
lazily (torch and the model load when it is made).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jwmsim.registry import Registry
from jwmsim.worldgen.frames import ContextFrame, FrameGenerator, SkeletonFrame, check_frame


@dataclass(frozen=True)
class GeneratorOptions:
    """Settings a generator may use (each ignores what does not apply to it).

    Attributes:
        device: torch device name (``cpu``, ``cuda``, ``cuda:N``).
        steps: sampling steps (None: the generator's default).
        weights: checkpoint folder (None: the shipped weights).
    """

    device: str = "cpu"
    steps: int | None = None
    weights: Path | None = None


@dataclass(frozen=True)
class GeneratorSpec:
    """A registry entry: ``make(options) -> FrameGenerator`` and one line for ``--help``."""

    make: Callable[[GeneratorOptions], FrameGenerator]
    description: str


GENERATORS: Registry[GeneratorSpec] = Registry("frame generator")


class SkeletonGenerator:
    """``skeleton``: the skeleton render itself, ``[C, H, W, 3]`` uint8."""

    name = "skeleton"

    def reset(self, context: Sequence[ContextFrame]) -> None:
        pass

    def generate(self, frame: SkeletonFrame) -> np.ndarray:
        check_frame(frame)
        return frame.rgb.copy()


class CopyLastGenerator:
    """``copy-last``: the newest context frame's images at every step (or, without context, the
    first skeleton frame's)."""

    name = "copy-last"

    def __init__(self) -> None:
        self._last: np.ndarray | None = None

    def reset(self, context: Sequence[ContextFrame]) -> None:
        self._last = np.array(context[-1].images, copy=True) if len(context) else None

    def generate(self, frame: SkeletonFrame) -> np.ndarray:
        check_frame(frame)
        if self._last is None or self._last.shape != frame.rgb.shape:
            self._last = frame.rgb.copy()
        return self._last.copy()


GENERATORS.add("skeleton", GeneratorSpec(lambda _: SkeletonGenerator(), "the skeleton render alone"))
GENERATORS.add(
    "copy-last", GeneratorSpec(lambda _: CopyLastGenerator(), "repeat the last real (context) frame")
)


def _worldgen(options: GeneratorOptions) -> FrameGenerator:
    """The WorldGen pipeline (imported here, on first use: torch and the model load only then)."""
    from jwmsim.worldgen.pipeline_worldgen import make_worldgen_generator

    return make_worldgen_generator(options.weights, steps=options.steps, device=options.device)


def _free(options: GeneratorOptions) -> FrameGenerator:
    """The default pipeline with ``anchor="none"``: what the anchor changes."""
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline

    d = SamplerConfig()
    sampler = SamplerConfig(steps=options.steps or d.steps, anchor="none")
    return WorldGenPipeline.from_pretrained(options.weights, sampler, options.device)


def _teacher(steps: int | None) -> Callable[[GeneratorOptions], FrameGenerator]:
    """The causal teacher (``assets/worldgen``, or ``--weights``), not anchored: ``steps`` None: its
    full step count (Euler, with guidance: :data:`~jwmsim.worldgen.pipeline_worldgen.TEACHER_SAMPLER`);
    else that many re-noising steps without guidance (the earlier default)."""

    def make(options: GeneratorOptions) -> FrameGenerator:
        from dataclasses import replace

        from jwmsim.worldgen.pipeline_worldgen import TEACHER_SAMPLER, SamplerConfig, WorldGenPipeline
        from jwmsim.worldgen.weights import teacher_weights_dir

        sampler = TEACHER_SAMPLER
        if steps is not None:
            sampler = SamplerConfig(steps=steps, solver="renoise", anchor="none")
        if options.steps is not None and steps is None:
            sampler = replace(sampler, steps=options.steps)
        return WorldGenPipeline.from_pretrained(
            options.weights or teacher_weights_dir(), sampler, options.device
        )

    return make


def _ode_student(options: GeneratorOptions) -> FrameGenerator:
    """The stage-3 student (``assets/worldgen_ode``, or ``--weights``), 1 step unless ``--steps``."""
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline
    from jwmsim.worldgen.weights import ode_student_dir

    sampler = SamplerConfig(steps=options.steps or 1, solver="renoise")
    return WorldGenPipeline.from_pretrained(options.weights or ode_student_dir(), sampler, options.device)


GENERATORS.add(
    "worldgen",
    GeneratorSpec(_worldgen, "the WorldGen pipeline with its default weights and sampler"),
)
GENERATORS.add(
    "worldgen-renoise",
    GeneratorSpec(
        _teacher(4), "the teacher in 4 re-noising steps (the earlier default: the x0 of level 0.625)"
    ),
)
GENERATORS.add(
    "worldgen-free",
    GeneratorSpec(_free, "the default weights and sampler without the anchor: the sample as it is"),
)
GENERATORS.add(
    "worldgen-teacher",
    GeneratorSpec(_teacher(None), "the causal teacher at its full step count (16 Euler steps, guidance 1.5)"),
)


def _student(options: GeneratorOptions) -> FrameGenerator:
    """The student of the current teacher (``assets/worldgen_student``, or ``--weights``), 1 step."""
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig, WorldGenPipeline
    from jwmsim.worldgen.weights import student_dir

    sampler = SamplerConfig(steps=options.steps or 1)
    return WorldGenPipeline.from_pretrained(options.weights or student_dir(), sampler, options.device)


GENERATORS.add(
    "worldgen-student",
    GeneratorSpec(
        _student, "the student distilled from the current teacher (assets/worldgen_student), 1 step"
    ),
)
GENERATORS.add(
    "worldgen-ode",
    GeneratorSpec(_ode_student, "the ODE-distilled student in assets/worldgen_ode, 1 step"),
)


def generator_help() -> str:
    return "; ".join(f"{n}: {GENERATORS.get(n).description}" for n in GENERATORS.names())
