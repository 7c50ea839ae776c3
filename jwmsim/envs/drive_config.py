"""Configuration of :class:`~jwmsim.envs.drive_env.JWMDrivingEnv` (frozen, validated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jwmsim.config import SimConfig
from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE

# run indices that training environments draw scenario runs from (evaluation uses 0 .. runs-1)
DEFAULT_TRAINING_RUNS: tuple[int, int] = (1000, 1_000_000)


@dataclass(frozen=True)
class DriveEnvConfig:
    """Settings of the driving environment; simulation settings are in ``sim``.

    Attributes:
        log: ``"builtin"`` (the procedural seed log) or a nuScenes dataroot.
        scene_name: scene of the dataroot (None: its first scene).
        cameras: camera channels observed, in order (each becomes an observation key).
        image_size: ``(height, width)`` of the camera observations [px].
        observation: the render path (:data:`jwmsim.envs.render_paths.RENDER_PATHS`):
            ``"skeleton"``: renders of the log's Gaussian scene at the simulated poses (closed
            loop); ``"log_frames"``: the logged image nearest in time (open loop: the images do
            not follow the simulated ego; for smoke tests and debugging); ``"none"``: no camera
            images; more paths join the registry (e.g. a generator).
        scene: for paths that render a Gaussian scene: a scene source
            (:data:`jwmsim.scenes.sources.SCENE_SOURCES`: ``"worldrec"``, the default, the
            WorldRec network's reconstruction; ``"lidar"``, the lidar skeleton; ``"fit"``; each
            cached per log) or the path of a saved GaussianScene.
        force_scene: render a scene file even if it records another log than ``log`` (or none).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``: where the
            scene is rendered.
        render_backend: ``"auto"`` (gsplat on CUDA, the numba rasterizer on a CPU), ``"cpu"``,
            ``"gsplat"`` (CUDA) or ``"reference"``.
        render_torch_threads: PyTorch threads while rendering (restored afterwards); the CPU
            rasterizer runs on numba's threads, and more PyTorch threads on the small tensor
            operations around it oversubscribe the cores (measured: 240 ms instead of 1 ms for one
            operation with 2 threads on a busy 2-core machine). None: leave PyTorch's setting.
        threads: this process's numba, PyTorch and BLAS threads, set when the environment is
            made (:mod:`jwmsim.threads`): ``"auto"`` (default) gives an environment made in a
            vector worker (a child process such as Gymnasium's ``AsyncVectorEnv`` or SB3's
            ``SubprocVecEnv`` worker, a Ray actor, or a worker of :mod:`jwmsim.backends.vector`)
            its share of the cores and leaves a process that steps alone as it is (the whole
            machine); an int sets that many threads; None changes nothing.
        render_options: settings of the render path by name (e.g. ``{"steps": 4}`` for ``jwm``).
        depth: add ``depth_<CAMERA>`` float32 ``[H, W, 1]`` observations [m] (skeleton only).
        bev: add a ``bev`` uint8 ``[bev_size, bev_size, 3]`` ego-centred raster.
        bev_size / bev_pixels_per_m: its size [px] and scale.
        scenarios: library scenario names or YAML paths: each episode is a jittered run of one
            of them, drawn by the environment's random generator
            (:mod:`jwmsim.envs.scenario_pool`; their seed log replaces ``log``, and each scenario
            sets the episode's start and length). Empty: episodes on ``log`` itself.
        scenario_runs: ``(low, high)``: the run indices drawn (the evaluation and the replay use
            ``0 .. runs-1``; the default keeps training off them).
        sim: simulation settings (rate, episode length, action type, rewards, terminations).
    """

    log: str = "builtin"
    scene_name: str | None = None
    cameras: tuple[str, ...] = ("CAM_FRONT",)
    image_size: tuple[int, int] = (64, 112)
    observation: str = "skeleton"
    scene: str = DEFAULT_SCENE_SOURCE
    force_scene: bool = False
    device: str = "auto"
    render_backend: str = "auto"
    render_torch_threads: int | None = 1
    threads: int | str | None = "auto"
    render_options: dict[str, Any] = field(default_factory=dict)
    depth: bool = False
    bev: bool = False
    bev_size: int = 64
    bev_pixels_per_m: float = 1.0
    scenarios: tuple[str, ...] = ()
    scenario_runs: tuple[int, int] = DEFAULT_TRAINING_RUNS
    sim: SimConfig = field(default_factory=SimConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        if isinstance(self.scenarios, str):
            object.__setattr__(self, "scenarios", (self.scenarios,))
        object.__setattr__(self, "scenarios", tuple(str(s) for s in self.scenarios))
        object.__setattr__(self, "scenario_runs", tuple(self.scenario_runs))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        from jwmsim.envs.render_paths import RENDER_PATHS

        if self.observation not in RENDER_PATHS:
            raise ConfigError(
                f"DriveEnvConfig.observation = {self.observation!r} is not a render path",
                hint=f"use one of {RENDER_PATHS.names()}",
            )
        if RENDER_PATHS.get(self.observation).has_images and not self.cameras:
            raise ConfigError(
                "DriveEnvConfig.cameras is empty", hint="name at least one camera, e.g. ('CAM_FRONT',)"
            )
        if len(self.image_size) != 2 or min(self.image_size) < 8:
            raise ConfigError(
                f"DriveEnvConfig.image_size = {self.image_size} is invalid",
                hint="(height, width) in pixels, each >= 8",
            )
        if self.depth and not RENDER_PATHS.get(self.observation).has_depth:
            with_depth = [n for n in RENDER_PATHS.names() if RENDER_PATHS.get(n).has_depth]
            raise ConfigError(
                f"DriveEnvConfig.depth: render path {self.observation!r} has no depth images",
                hint=f"use one of {with_depth}",
            )
        if self.bev_size < 16 or self.bev_pixels_per_m <= 0:
            raise ConfigError(
                f"DriveEnvConfig.bev_size = {self.bev_size} / bev_pixels_per_m = "
                f"{self.bev_pixels_per_m} are invalid",
                hint="bev_size >= 16 px, scale > 0",
            )
        if self.render_torch_threads is not None and self.render_torch_threads < 1:
            raise ConfigError(
                f"DriveEnvConfig.render_torch_threads = {self.render_torch_threads} is invalid",
                hint="a positive thread count, or None to leave PyTorch's setting",
            )
        from jwmsim.threads import check_threads_setting

        check_threads_setting(self.threads)
        if not isinstance(self.render_options, dict) or not all(
            isinstance(k, str) for k in self.render_options
        ):
            raise ConfigError(
                f"DriveEnvConfig.render_options = {self.render_options!r} is invalid",
                hint="a dict of option names to values, e.g. {'steps': 4}",
            )
        if not isinstance(self.sim, SimConfig):
            raise ConfigError(f"DriveEnvConfig.sim must be a SimConfig, got {type(self.sim).__name__}")
