"""Settings of ``jwmsim export`` (a frozen dataclass, checked on construction)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE

ALL_CAMERAS = (
    "CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK_LEFT", "CAM_BACK_RIGHT", "CAM_BACK",
)  # fmt: skip
KEYFRAME_PERIOD_S = 0.5  # [s] nuScenes keyframes (samples) at 2 Hz; the other frames are sweeps
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class ExportOptions:
    """How to export a scenario's jittered runs.

    Attributes:
        out: the dataroot to create or resume; it must not be a file.
        runs: number of jittered runs = scenes (None: the scenario's ``runs``).
        render: a render path of :data:`jwmsim.envs.render_paths.RENDER_PATHS` that makes images.
        scene: scene source (``lidar``, ``fit`` ...) or a saved GaussianScene file.
        force_scene: render a scene file built for another log.
        cameras: exported channels (None: every camera of the log, nuScenes order).
        image_size: ``(height, width)`` of the exported images [px].
        agent: planner (None: the scenario's, else ``idm``).
        name: table folder suffix: the tables go to ``v1.0-<name>`` (None: the scenario's name).
        jpeg_quality: JPEG quality of the images (0-100).
        backend: execution backend (``local`` or ``ray``, :data:`jwmsim.backends.BACKENDS`).
        workers: parallel scenes (None: one per CPU core, at most one per scene; 1: this process).
        ray_address: Ray cluster to join (None: a local Ray instance), for ``backend="ray"``.
        render_backend / device: Gaussian rasterizer and torch device.
        progress: show a tqdm bar.
        duration: [s] replaces the scenario's duration (``--duration``; None: the scenario's).
        render_options: settings of the render path (``jwm``: ``{"weights": DIR, "steps": N}``).
    """

    out: Path
    runs: int | None = None
    render: str = "skeleton"
    scene: str = DEFAULT_SCENE_SOURCE
    force_scene: bool = False
    cameras: tuple[str, ...] | None = None
    image_size: tuple[int, int] = (180, 320)
    agent: str | None = None
    name: str | None = None
    jpeg_quality: int = 90
    backend: str = "local"
    workers: int | None = None
    ray_address: str | None = None
    render_backend: str = "auto"
    device: str = "auto"
    progress: bool = True
    duration: float | None = None
    render_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from jwmsim.envs.render_paths import RENDER_PATHS

        object.__setattr__(self, "out", Path(self.out))
        if self.render not in RENDER_PATHS:
            raise ConfigError(
                f"render path {self.render!r} is not available",
                hint=f"choose one of {RENDER_PATHS.names()} (--render)",
            )
        if not RENDER_PATHS.get(self.render).has_images:
            raise ConfigError(
                f"render path {self.render!r} makes no camera images, so there is nothing to export",
                hint="use --render skeleton (or another path that renders images)",
            )
        RENDER_PATHS.get(self.render).check_options(self.render, self.render_options)
        if self.runs is not None and self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}", hint="export at least one run")
        if self.duration is not None:
            from jwmsim.scenario.loader import check_duration

            check_duration(self.duration)
        from jwmsim.backends import BACKENDS, BackendOptions

        if self.backend not in BACKENDS:
            raise ConfigError(
                f"execution backend {self.backend!r} is not available",
                hint=f"choose one of {BACKENDS.names()} (--backend)",
            )
        if self.ray_address is not None and self.backend != "ray":
            raise ConfigError("--ray-address needs --backend ray", hint="add --backend ray")
        BackendOptions(self.workers, self.ray_address)  # checks both
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(
                f"--out {self.out} is a file, not a folder",
                hint="pass a folder for the dataroot (created if missing), e.g. --out exports/cut_in",
            )
        if self.cameras is not None and not self.cameras:
            raise ConfigError("--cameras is empty", hint=f"name channels such as {','.join(ALL_CAMERAS[:3])}")
        h, w = self.image_size
        if h < 16 or w < 16:
            raise ConfigError(f"image size {h}x{w} is too small", hint="at least 16x16 (--size HEIGHTxWIDTH)")
        if self.name is not None and not _NAME.match(self.name):
            raise ConfigError(
                f"--name {self.name!r} is not a valid table folder suffix",
                hint="use letters, digits, '-' and '_' (the tables go to v1.0-<name>)",
            )
        if not 0 <= self.jpeg_quality <= 100:
            raise ConfigError(f"--jpeg-quality must be in [0, 100], got {self.jpeg_quality}")
