"""Settings of ``jwmsim view`` (one frozen dataclass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jwmsim.envs.render_paths import PICTURE_PATH
from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE


@dataclass(frozen=True)
class ViewerOptions:
    """What the viewer shows and drives.

    Attributes:
        render: render path name (a registered one, :data:`jwmsim.envs.render_paths.RENDER_PATHS`;
            default ``jwm``, WorldGen's frames).
        run: which jittered run of the scenario is shown (its ranges drawn as ``jwmsim replay`` does).
        agent: planner spec for the ego (None: the scenario's ``agent``, else ``idm``).
        scene: scene source name or a scene file; force_scene: render a file of another log.
        cameras: camera channels of the mosaic, in order; image_size: ``(H, W)`` per camera [px].
        device: torch device (``auto``, ``cpu``, ``cuda``...).
        bev_px: side of the bird's-eye view [px]; bev_m: metres it spans.
        save: where *save* writes (None: back to the scenario file; a library scenario goes to
            ``./<name>.yaml``).
        play: start playing (else paused at t = 0).
        progress: progress bars while a scene is built.
        render_options: settings of the render path (``jwm``: ``{"weights": DIR, "steps": N}``).
    """

    render: str = PICTURE_PATH
    run: int = 0
    agent: str | None = None
    scene: str = DEFAULT_SCENE_SOURCE
    force_scene: bool = False
    cameras: tuple[str, ...] = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    image_size: tuple[int, int] = (112, 200)
    device: str = "auto"
    bev_px: int = 420
    bev_m: float = 80.0
    save: Path | None = None
    play: bool = False
    progress: bool = True
    render_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from jwmsim.envs.render_paths import RENDER_PATHS

        if self.render not in RENDER_PATHS:
            raise ConfigError(
                f"unknown render path {self.render!r}",
                hint=f"use one of {RENDER_PATHS.names()} (see jwmsim view --help)",
            )
        RENDER_PATHS.get(self.render).check_options(self.render, self.render_options)
        if self.run < 0:
            raise ConfigError(f"run index {self.run} is negative", hint="--run 0 is the first run")
        h, w = self.image_size
        if h < 16 or w < 16:
            raise ConfigError(f"camera image size {h}x{w} is too small", hint="at least 16x16")
        if self.bev_px < 120 or self.bev_m <= 0:
            raise ConfigError(f"BEV of {self.bev_px} px / {self.bev_m} m", hint="at least 120 px, > 0 m")
