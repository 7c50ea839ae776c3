"""Render paths: how a simulation state becomes camera images, in one registry.

A render path is a small stateful object (:class:`RenderPath`):

* ``reset(episode)`` at the start of every episode (a generator clears its past frames and KV
  cache here; the skeleton path prepares the Gaussians of the episode's inserted actors);
* ``render(state) -> RenderedFrame``: images (uint8 ``[H, W, 3]``) per camera, plus depth [m] and
  coverage alpha where the path has them;
* ``close()`` frees what it holds (a GPU, a model);
* ``snapshot() -> object`` and ``restore(snapshot)``: its per-episode state (past frames, a KV
  cache), so that a viewer can scrub back in time and replay from there; stateless paths return
  None.

The driving environment, ``jwmsim replay`` and the command-line help hold one render path by name
and know nothing of what is inside it. Built in (:data:`RENDER_PATHS`):

* ``skeleton``: the log's Gaussian scene rendered at the simulated ego and actor poses;
* ``log_frames``: the logged image nearest in time (open loop: the view does not follow the
  simulated ego; for smoke tests and debugging);
* ``jwm``: the skeleton render, then the WorldGen generator (:mod:`jwmsim.envs.jwm_render_path`, its
  own entry point);
* ``none``: no images.

A new path is an entry of the ``jwmsim.render_paths`` entry-point group whose object is a
:class:`RenderPathSpec` (or, at run time, ``RENDER_PATHS.add(name, spec)``); its ``make(setup)``
receives everything the environment knows (:class:`RenderSetup`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.registry import ENTRY_POINT_GROUPS, Registry
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE

if TYPE_CHECKING:
    import torch

    from jwmsim.gaussians.scene import GaussianComponent, GaussianScene
    from jwmsim.geometry import SE3
    from jwmsim.logs.segment import Camera, LogSegment
    from jwmsim.sim import World
    from jwmsim.sim.sim_state import SimState


@dataclass(frozen=True)
class RenderSetup:
    """What a render path is built from.

    Attributes:
        segment: the log.
        cameras: the observed cameras, in order.
        image_size: ``(height, width)`` of every image [px].
        depth: depth images are wanted.
        scene_source: scene source name (``lidar``, ``fit`` ...) or a scene file path.
        scene: a scene already loaded (wins over ``scene_source``).
        force_scene: render a scene file even if it records another log.
        device: torch device the path renders on.
        backend: Gaussian render backend (``auto``: gsplat on CUDA, the numba rasterizer on a CPU).
        torch_threads: PyTorch threads while rendering on a CPU (None: leave as is).
        progress: show progress bars while building a scene.
        options: settings of the path itself, by name (e.g. ``{"steps": 4}`` for ``jwm``); a path
            refuses names it does not know.
    """

    segment: LogSegment
    cameras: tuple[Camera, ...]
    image_size: tuple[int, int]
    depth: bool = False
    scene_source: str = DEFAULT_SCENE_SOURCE
    scene: GaussianScene | None = None
    force_scene: bool = False
    device: torch.device | str = "cpu"
    backend: str = "auto"
    torch_threads: int | None = 1
    progress: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Episode:
    """What a render path is told at an episode's start.

    Attributes:
        world: the episode's world (log, road, route, initial actors, inserted assets).
        seed: the reset seed (None: unseeded).
        index: episodes reset so far by this holder (0 for the first).
    """

    world: World
    seed: int | None = None
    index: int = 0


@dataclass(frozen=True)
class RenderedFrame:
    """One rendered step. ``images[cam]`` uint8 ``[H, W, 3]``; ``depth[cam]`` float32 ``[H, W]`` [m]
    and ``alpha[cam]`` float32 ``[H, W]`` in [0, 1] where the path has them."""

    images: dict[str, np.ndarray] = field(default_factory=dict)
    depth: dict[str, np.ndarray] = field(default_factory=dict)
    alpha: dict[str, np.ndarray] = field(default_factory=dict)


class RenderPath(Protocol):
    """The protocol of the module docstring."""

    def reset(self, episode: Episode) -> None: ...

    def render(self, state: SimState) -> RenderedFrame: ...

    def close(self) -> None: ...

    def snapshot(self) -> object: ...

    def restore(self, snapshot: object) -> None: ...


class Stateless:
    """Mixin of render paths whose images depend on the state alone (nothing to snapshot)."""

    def snapshot(self) -> object:
        return None

    def restore(self, snapshot: object) -> None:
        pass


@dataclass(frozen=True)
class RenderPathSpec:
    """A registry entry.

    Attributes:
        make: builds the path for one holder (an environment).
        description: one line, for ``--help``.
        has_images: the path produces camera images.
        has_depth: it can produce depth images.
        uses_scene: it renders a Gaussian scene (so the log needs lidar for the ``lidar`` source).
        options: the render options it takes (``render_options`` / ``--steps``); others are refused.
    """

    make: Callable[[RenderSetup], RenderPath]
    description: str
    has_images: bool = True
    has_depth: bool = False
    uses_scene: bool = False
    options: tuple[str, ...] = ()

    def check_options(self, name: str, options: Mapping[str, object]) -> None:
        """Refuse options this path does not take (ConfigError), before anything is built."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigError(
                f"render path {name!r} has no option(s) {unknown}",
                hint=f"its options are {list(self.options)}" if self.options else "it takes no options",
            )


def _check_spec(item: object) -> None:
    if not isinstance(item, RenderPathSpec):
        raise TypeError(f"{item!r} is not a jwmsim.envs.render_paths.RenderPathSpec")


RENDER_PATHS: Registry[RenderPathSpec] = Registry(
    "render path", ENTRY_POINT_GROUPS["render path"], _check_spec
)

# the render path of the pictures people look at: ``jwmsim replay`` videos and the viewer. The
# environment's observation stays ``skeleton`` by default (``DriveEnvConfig``): RL steps it 5x faster.
PICTURE_PATH = "jwm"


def render_path_names() -> list[str]:
    """Registered render path names (for help texts)."""
    return RENDER_PATHS.names()


def render_path_help(images_only: bool = False) -> str:
    """``name: description`` of every render path (``images_only``: of those that make camera
    images), for the ``--help`` of a command that accepts exactly those."""
    specs = {n: RENDER_PATHS.get(n) for n in RENDER_PATHS.names()}
    return "; ".join(f"{n}: {s.description}" for n, s in specs.items() if s.has_images or not images_only)


def needs_lidar(path: str, scene_source: str) -> bool:
    """Whether the log must be loaded with its lidar sweeps for ``path`` with ``scene_source``."""
    from jwmsim.scenes.sources import SCENE_SOURCES

    spec = RENDER_PATHS.get(path)
    return spec.uses_scene and scene_source in SCENE_SOURCES and SCENE_SOURCES.get(scene_source).needs_lidar


# --- built-in paths ---------------------------------------------------------------------------------


class NoImages(Stateless):
    """``none``: renders nothing."""

    def reset(self, episode: Episode) -> None:
        pass

    def render(self, state: SimState) -> RenderedFrame:
        return RenderedFrame()

    def close(self) -> None:
        pass


class LogFrames(Stateless):
    """``log_frames``: the logged image nearest in time to the state's log time, per camera."""

    def __init__(self, setup: RenderSetup) -> None:
        self.segment = setup.segment
        self.cameras = setup.cameras
        self.size = setup.image_size

    def reset(self, episode: Episode) -> None:
        pass

    def render(self, state: SimState) -> RenderedFrame:
        t = min(max(state.log_time, 0.0), self.segment.duration)
        images = {}
        for cam in self.cameras:
            idx = self.segment.nearest_frame(cam.name, t)
            images[cam.name] = self.segment.image(cam.name, idx, self.size)
        return RenderedFrame(images)

    def close(self) -> None:
        pass


class SkeletonRenderer(Stateless):
    """``skeleton``: the Gaussian scene at the state's ego and actor poses.

    Actors the scene has no component for are drawn from the asset named by the scenario (inserted
    actors: a shipped asset or an actor-bank actor ``bank:...``), else as the actor bank's actor of
    their class scaled to their box (:func:`jwmsim.gaussians.actor_bank.fallback_class`), else (no
    bank actor of that class, e.g. static objects) as a box of Gaussians of their size.
    """

    def __init__(self, setup: RenderSetup) -> None:
        from jwmsim.devices import resolve_device
        from jwmsim.scenes.sources import scene_for_log

        self.device = resolve_device(setup.device)
        scene = setup.scene
        if scene is None:
            scene = scene_for_log(
                setup.segment, setup.scene_source, progress=setup.progress, force=setup.force_scene
            )
        self.scene = scene.to(self.device)
        self.cameras = list(setup.cameras)
        self.size = setup.image_size
        self.backend = setup.backend
        self.torch_threads = setup.torch_threads
        self.want_depth = setup.depth
        self._episode_assets: dict[str, GaussianComponent] = {}
        self._box_assets: dict[str, GaussianComponent] = {}

    def reset(self, episode: Episode) -> None:
        world = episode.world
        self._episode_assets = {}
        for aid, asset in zip(world.initial_actors.ids, world.assets, strict=True):
            if asset and aid not in self.scene.actors:
                comp = _shipped_asset(asset, str(self.device))
                if comp is not None:
                    self._episode_assets[aid] = comp
        self._box_assets = {}

    def _extra_actors(self, state: SimState) -> tuple[dict, dict]:
        a = state.actors
        poses, extra = {}, {}
        for i in np.flatnonzero(a.active):
            aid = a.ids[i]
            poses[aid] = a.pose(int(i))
            if aid in self.scene.actors:
                continue
            if aid in self._episode_assets:
                extra[aid] = self._episode_assets[aid]
                continue
            if aid not in self._box_assets:
                size = (float(a.length[i]), float(a.width[i]), float(a.height[i]))
                comp = _bank_fallback(a.kinds[i], size, str(self.device))
                if comp is None:
                    comp = _box_asset(size, int(i), str(self.device))
                self._box_assets[aid] = comp
            extra[aid] = self._box_assets[aid]
        return poses, extra

    def actors_to_draw(self, state: SimState) -> tuple[dict[str, SE3], dict[str, GaussianComponent]]:
        """``world_from_box`` of every active actor of ``state``, and the Gaussians (asset, bank
        actor or box) of those the scene has no component for: what :meth:`render` draws (the export
        renders them one by one for instance masks)."""
        return self._extra_actors(state)

    def render(self, state: SimState) -> RenderedFrame:
        import torch

        from jwmsim.gaussians.render import render

        poses, extra = self._extra_actors(state)
        limit = self.torch_threads if self.device.type == "cpu" else None
        with torch.no_grad(), _torch_threads(limit):
            out = render(
                self.scene,
                self.cameras,
                state.ego.pose(),
                poses,
                self.size,
                backend=self.backend,
                extra_actors=extra,
            )
            rgb = (out.rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
            depth = out.depth.float().cpu().numpy() if self.want_depth else None
            alpha = out.alpha.float().cpu().numpy()
        names = [c.name for c in self.cameras]
        return RenderedFrame(
            images={n: rgb[i] for i, n in enumerate(names)},
            depth={n: depth[i] for i, n in enumerate(names)} if depth is not None else {},
            alpha={n: alpha[i] for i, n in enumerate(names)},
        )

    def close(self) -> None:
        self._episode_assets = {}
        self._box_assets = {}


@functools.lru_cache(maxsize=64)
def _shipped_asset(name: str, device: str) -> GaussianComponent | None:
    """A shipped actor asset, or an actor-bank actor ``bank:<entry or class>`` at its source box
    size (as :mod:`jwmsim.scenario.assets` sizes it), on ``device``, loaded once per process
    (None: no such asset)."""
    from jwmsim.gaussians.actor_bank import bank_assets, bank_key, load_bank_actor
    from jwmsim.gaussians.assets import available_assets, load_actor_asset

    key = bank_key(name)
    if key is not None:
        return load_bank_actor(key)[0].to(device) if name in {b.name for b in bank_assets()} else None
    return load_actor_asset(name).to(device) if name in available_assets() else None


@functools.lru_cache(maxsize=1024)
def _bank_fallback(kind: str, size_lwh: tuple[float, float, float], device: str) -> GaussianComponent | None:
    """The actor bank's actor of the class of an actor of coarse ``kind`` and box ``size_lwh`` [m],
    scaled to that box, on ``device`` (None: the bank has no actor of that class)."""
    from jwmsim.gaussians.actor_bank import fallback_class, load_bank_actor

    cls = fallback_class(kind, size_lwh[0])
    if cls is None:
        return None
    length, width, height = size_lwh
    return load_bank_actor(cls, (width, length, height))[0].to(device)


BOX_GAUSSIANS = 600  # Gaussians of the box that stands in for an actor without a scene asset


@functools.lru_cache(maxsize=4096)
def _box_asset(size_lwh: tuple[float, float, float], seed: int, device: str) -> GaussianComponent:
    """The Gaussian box of an actor of ``size_lwh`` [m] (seeded by its index among the actors), built
    once per process: every episode of a replay meets the same log actors, and building their
    boxes (35 on the built-in log) cost about 0.1-0.4 s of each episode's reset."""
    from jwmsim.gaussians.synthetic import box_actor

    return box_actor(size_lwh, n=BOX_GAUSSIANS, seed=seed).to(device)


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Limit PyTorch to ``n`` threads inside the block (None: no change)."""
    import torch

    if n is None or torch.get_num_threads() == n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_options(setup: RenderSetup, name: str, known: tuple[str, ...]) -> None:
    """Refuse render-path options that path ``name`` does not know (ConfigError)."""
    unknown = sorted(set(setup.options) - set(known))
    if unknown:
        raise ConfigError(
            f"render path {name!r} has no option(s) {unknown}",
            hint=f"its options are {list(known)}" if known else "it takes no options",
        )


def _check_depth(setup: RenderSetup, name: str) -> None:
    if setup.depth:
        raise ConfigError(f"render path {name!r} has no depth images", hint="use depth=False or 'skeleton'")


def _make_none(setup: RenderSetup) -> RenderPath:
    _check_depth(setup, "none")
    check_options(setup, "none", ())
    return NoImages()


def _make_log_frames(setup: RenderSetup) -> RenderPath:
    _check_depth(setup, "log_frames")
    check_options(setup, "log_frames", ())
    return LogFrames(setup)


def _make_skeleton(setup: RenderSetup) -> RenderPath:
    check_options(setup, "skeleton", ())
    return SkeletonRenderer(setup)


# The built-in paths. Each is an entry of the ``jwmsim.render_paths`` entry-point group
# (pyproject.toml), as a plugin's path would be; nothing registers on import.
SKELETON_PATH = RenderPathSpec(
    _make_skeleton,
    "Gaussian scene rendered at the simulated poses (closed loop)",
    has_depth=True,
    uses_scene=True,
)
LOG_FRAMES_PATH = RenderPathSpec(_make_log_frames, "nearest logged camera image (open loop, for debugging)")
NO_IMAGES_PATH = RenderPathSpec(_make_none, "no camera images (metrics only)", has_images=False)
