"""The ``jwm`` render path: the skeleton render of each step, then the WorldGen generator.

Per episode the generator's KV cache is cleared and primed with the log's real camera frames
just before the episode's start time (where the log has them; at most ``sinks + window``
frames, resized to the render size, with the skeleton condition dropped), so that an episode
continues the recorded video. ``snapshot`` / ``restore`` carry the cache, so a viewer can scrub.

Options (``RenderSetup.options`` / ``DriveEnvConfig.render_options`` / ``jwmsim replay --steps``):
``steps`` (denoiser calls per frame), ``guidance`` (classifier-free guidance scale), ``solver``
(``sharp``, ``renoise`` or ``euler``; default: the pipeline's), ``anchor`` (what the frame keeps of
the skeleton where it covers the view: ``overlay``, ``detail`` or ``none``; default: the
pipeline's, :mod:`jwmsim.worldgen.anchoring`), ``noise_correlation`` (of each frame's starting
noise with the previous frame's), ``weights`` (a model folder; default
``assets/worldgen``), ``window`` and ``sinks`` (KV cache), ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jwmsim.envs.render_paths import (
    Episode,
    RenderedFrame,
    RenderPath,
    RenderPathSpec,
    RenderSetup,
    SkeletonRenderer,
    check_options,
)
from jwmsim.errors import ConfigError
from jwmsim.sim.sim_state import SimState
from jwmsim.threads import cap_torch_threads
from jwmsim.worldgen.frames import ContextFrame, FramePoses, SkeletonFrame

if TYPE_CHECKING:
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig

OPTIONS = ("steps", "guidance", "solver", "anchor", "noise_correlation", "weights", "window", "sinks", "seed")


def sampler_from_options(options: dict) -> SamplerConfig:
    """The sampler settings of the path's options (ConfigError for bad values); what is not given
    is the pipeline's default sampler (:class:`~jwmsim.worldgen.pipeline_worldgen.SamplerConfig`)."""
    from jwmsim.worldgen.pipeline_worldgen import SamplerConfig  # torch: imported on use

    try:
        steps = int(options.get("steps", SamplerConfig.steps))
        solver = str(options.get("solver", SamplerConfig.solver))
        return SamplerConfig(
            steps=steps,
            solver=solver,
            anchor=str(options.get("anchor", SamplerConfig.anchor)),
            noise_correlation=float(options.get("noise_correlation", SamplerConfig.noise_correlation)),
            guidance=float(options.get("guidance", 1.0)),
            window=int(options.get("window", SamplerConfig.window)),
            num_sinks=int(options.get("sinks", SamplerConfig.num_sinks)),
            seed=int(options.get("seed", 0)),
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"render path 'jwm': bad option value ({err})", hint=f"options: {list(OPTIONS)}"
        ) from None


@dataclass(frozen=True)
class _Snapshot:
    pipeline: object


class JWMRenderer:
    """``jwm``: see the module docstring."""

    def __init__(self, setup: RenderSetup) -> None:
        check_options(setup, "jwm", OPTIONS)
        from jwmsim.devices import resolve_device
        from jwmsim.worldgen.pipeline_worldgen import WorldGenPipeline  # torch: imported on use
        from jwmsim.worldgen.weights import default_weights_dir

        sampler = sampler_from_options(dict(setup.options))
        # the generator's PyTorch threads stay within the process's budget (a vector worker's share)
        sampler = replace(sampler, torch_threads=cap_torch_threads(sampler.torch_threads))
        self.device = resolve_device(setup.device)
        self.pipeline = WorldGenPipeline.from_pretrained(
            setup.options.get("weights"), sampler, str(self.device)
        )
        self.weights = Path(setup.options.get("weights") or default_weights_dir())
        self.sampler = sampler
        self.skeleton = SkeletonRenderer(replace(setup, depth=True, options={}))
        self.segment = setup.segment
        self.cameras = list(setup.cameras)
        self.names = tuple(c.name for c in self.cameras)
        self.size = setup.image_size
        self.want_depth = setup.depth
        h, w = self.size
        self.intrinsics = np.stack([self.segment.intrinsics(n, (h, w)).matrix for n in self.names])
        self.ego_from_cam = np.stack([c.ego_from_cam.matrix for c in self.cameras])
        self.last = None  # the last generation's WorldGenOutput (timings, cache size)

    def _poses(self, world_from_ego: np.ndarray, time: float) -> FramePoses:
        return FramePoses(self.names, world_from_ego, self.ego_from_cam, self.intrinsics, float(time))

    def context_frames(self, start_time: float) -> list[ContextFrame]:
        """The log's frames before ``start_time`` (at most the cache's frames), oldest first."""
        keep = self.pipeline.config.num_sinks + self.pipeline.config.window
        first = self.names[0]
        before = [i for i, f in enumerate(self.segment.frames[first]) if f.time < start_time - 1e-3]
        out = []
        for i in before[-keep:]:
            frame = self.segment.frames[first][i]
            images = []
            for name in self.names:
                j = self.segment.nearest_frame(name, frame.time)
                images.append(self.segment.image(name, j, self.size))
            out.append(ContextFrame(np.stack(images), self._poses(frame.world_from_ego.matrix, frame.time)))
        return out

    def reset(self, episode: Episode) -> None:
        self.skeleton.reset(episode)
        self.pipeline.reset(self.context_frames(float(episode.world.start_time)))

    def render(self, state: SimState) -> RenderedFrame:
        sk = self.skeleton.render(state)
        frame = SkeletonFrame(
            rgb=np.stack([sk.images[n] for n in self.names]),
            depth=np.stack([sk.depth[n] for n in self.names]),
            alpha=np.stack([sk.alpha[n] for n in self.names]),
            poses=self._poses(state.ego.pose().matrix, state.log_time),
        )
        self.last = self.pipeline(frame)
        return RenderedFrame(
            images={n: self.last.images[i] for i, n in enumerate(self.names)},
            depth=dict(sk.depth) if self.want_depth else {},
            alpha=dict(sk.alpha),
        )

    def provenance(self) -> dict[str, str]:
        """How this path makes its images (recorded by ``jwmsim export``): the generator's weights
        folder and digest, and the sampler's settings."""
        from jwmsim.worldgen.weights import weights_digest

        sampler = self.sampler
        return {
            "generator": "worldgen",
            "weights": str(self.weights),
            "weights_digest": weights_digest(self.weights),
            "sampler": f"{sampler.solver}, {sampler.steps} steps, guidance {sampler.guidance:g}, "
            f"anchor {sampler.anchor}",
        }

    def close(self) -> None:
        self.skeleton.close()
        self.pipeline.cache.clear()

    def snapshot(self) -> object:
        return _Snapshot(self.pipeline.snapshot())

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, _Snapshot):
            raise ConfigError(f"not a jwm render path snapshot: {type(snapshot).__name__}")
        self.pipeline.restore(snapshot.pipeline)


def make_jwm_path(setup: RenderSetup) -> RenderPath:
    """The ``jwm`` registry entry's ``make``."""
    return JWMRenderer(setup)


# the ``jwm`` entry of the ``jwmsim.render_paths`` entry-point group (pyproject.toml); loading it
# imports no torch: the generator is loaded when a path is made
JWM_PATH = RenderPathSpec(
    make_jwm_path,
    "skeleton render, then the WorldGen generator primed with the log's frames (options: steps, "
    "guidance, solver, anchor, weights)",
    has_depth=True,
    uses_scene=True,
    options=OPTIONS,
)
