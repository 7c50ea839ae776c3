"""``JWMDrivingEnv``: a Gymnasium environment, a thin stateful shell over :mod:`jwmsim.sim`.

Observation (a flat ``Dict``, Stable-Baselines3 friendly):

* ``<CAMERA>``: uint8 ``[H, W, 3]`` per configured camera (see ``DriveEnvConfig.observation``);
* ``ego``: float32 ``[9]``: speed [m/s], longitudinal acceleration [m/s^2], steering [rad], yaw rate
  [rad/s], lateral acceleration [m/s^2], lateral offset from the route [m] (left +), heading error
  to the route [rad], route completion [0, 1], elapsed fraction of the episode [0, 1] (clipped to
  the bounds of its Box);
* optional ``depth_<CAMERA>`` float32 ``[H, W, 1]`` [m] (clipped to 200 m) and ``bev`` uint8
  ``[S, S, 3]``.

Action: ``Box(-1, 1, (2,))`` normalised (acceleration, steering) — or, with
``SimConfig(action_type="waypoints")``, ``Box(-1, 1, (2K,))`` normalised ego-frame waypoints that
map onto ``SimConfig.waypoint_x_range`` / ``waypoint_y_range`` (default x in [-5, 60] m, y in
[-20, 20] m; :func:`jwmsim.sim.actions.normalise_waypoints` converts metres). A NaN or wrongly
shaped action raises :class:`~jwmsim.sim.actions.ActionError` (a ``ValueError``).

``info``: ``metrics`` (NC, DAC, TTC, EP, C of the step), ``rewards`` (terms by name, unweighted),
``penalties`` (this step's, with causes), ``reason`` (why the episode ended), ``traffic_lights``
(``{light id: "green" | "yellow" | "red"}``, empty on a log without lights), and at the end
``episode`` (PDMS, RC, HD-Score, NeuroNCAP, red lights run ...).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, fields, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from jwmsim.config import SimConfig
from jwmsim.envs.drive_config import DriveEnvConfig
from jwmsim.envs.render_paths import RENDER_PATHS, Episode, RenderPath, RenderSetup
from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.geometry import SE3
from jwmsim.logs.segment import LogSegment
from jwmsim.sim import World, build_world, episode_metrics, initial_state, transition
from jwmsim.sim.collision import ego_centre
from jwmsim.sim.sim_state import SimState
from jwmsim.threads import ThreadBudget, apply_thread_budget, ensure_numba_threads, resolve_threads

EGO_VECTOR_SIZE = 9
# bounds of the ego vector (values are clipped into them): speed, accel, steer, yaw rate, lateral
# acceleration, route offset, heading error, route completion, episode fraction
EGO_LOW = np.array([0.0, -10.0, -1.0, -5.0, -50.0, -50.0, -math.pi, 0.0, 0.0], np.float32)
EGO_HIGH = np.array([60.0, 10.0, 1.0, 5.0, 50.0, 50.0, math.pi, 1.0, 1.0], np.float32)
MAX_DEPTH = 200.0  # [m] depth observations are clipped to this


class EnvStateError(JwmsimError, RuntimeError):
    """``step`` before ``reset`` (or after the episode ended)."""


@dataclass(frozen=True)
class EnvSnapshot:
    """A moment of an episode (:meth:`JWMDrivingEnv.snapshot`)."""

    state: SimState
    renderer: object
    images: dict[str, np.ndarray]
    rng_state: dict[str, Any]


def load_log(cfg: DriveEnvConfig) -> LogSegment:
    """The log named by ``cfg.log`` (``"builtin"``: the procedural seed log, made on first use)."""
    from jwmsim.logs.nuscenes import load_nuscenes_log

    if cfg.log == "builtin":
        from jwmsim.logs.procedural.default_log import default_log_path

        return load_nuscenes_log(default_log_path())
    return load_nuscenes_log(cfg.log, **({"scene": cfg.scene_name} if cfg.scene_name else {}))


def make_config(config: DriveEnvConfig | None, overrides: dict[str, Any]) -> DriveEnvConfig:
    """``config`` with keyword ``overrides``: fields of DriveEnvConfig, or of SimConfig (applied to
    ``sim``); unknown keywords are a :class:`ConfigError`."""
    cfg = config or DriveEnvConfig()
    env_keys = {f.name for f in fields(DriveEnvConfig)}
    sim_keys = {f.name for f in fields(SimConfig)}
    unknown = sorted(set(overrides) - env_keys - sim_keys)
    if unknown:
        raise ConfigError(
            f"JWMDrivingEnv got unknown keyword(s) {unknown}",
            hint=f"use fields of DriveEnvConfig {sorted(env_keys)} or SimConfig {sorted(sim_keys)}",
        )
    sim_over = {k: v for k, v in overrides.items() if k in sim_keys and k not in env_keys}
    env_over = {k: v for k, v in overrides.items() if k in env_keys}
    if sim_over:
        env_over["sim"] = replace(env_over.get("sim", cfg.sim), **sim_over)
    return replace(cfg, **env_over) if env_over else cfg


class JWMDrivingEnv(gym.Env):
    """Closed-loop driving on a recorded log (see the module docstring).

    Args:
        config: settings; keyword ``overrides`` replace single fields (of DriveEnvConfig or SimConfig).
        render_mode: ``"rgb_array"`` (camera mosaic + BEV) or ``"human"`` (pygame window).
        segment: a log already loaded (instead of ``config.log``).
        world: a prepared :class:`~jwmsim.sim.World` (e.g. from a scenario; its config wins).
        scene: a Gaussian scene to render (instead of ``config.scene``); a string or path is taken
            as ``config.scene`` (a scene source name or a scene file).
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 10}

    def __init__(
        self,
        config: DriveEnvConfig | None = None,
        render_mode: str | None = None,
        *,
        segment: LogSegment | None = None,
        world: World | None = None,
        scene: GaussianScene | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__()
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"render_mode {render_mode!r} is not supported",
                hint=f"use one of {self.metadata['render_modes']} or None",
            )
        if isinstance(scene, (str, os.PathLike)):  # gym.make(..., scene="lidar" | "file.safetensors")
            overrides["scene"], scene = str(scene), None
        cfg = make_config(config, overrides)
        # before anything starts a thread pool: a vector worker gets its share of the cores
        self.thread_budget: ThreadBudget | None = resolve_threads(cfg.threads)
        apply_thread_budget(self.thread_budget)
        self._pool = None
        if cfg.scenarios:
            if world is not None or segment is not None:
                raise ConfigError(
                    "JWMDrivingEnv got scenarios and a world or segment",
                    hint="pass either DriveEnvConfig.scenarios or world= / segment=",
                )
            from jwmsim.envs.scenario_pool import ScenarioPool

            self._pool = ScenarioPool(cfg.scenarios, cfg.scenario_runs, cfg.sim)
            segment = self._pool.segment
            world = self._pool.world(0, cfg.scenario_runs[0])  # fixes the spaces; reset draws
        if world is not None:
            cfg = replace(cfg, sim=world.config)
            segment = world.segment
        elif segment is None:
            segment = load_log(cfg)
        spec = RENDER_PATHS.get(cfg.observation)
        missing = [c for c in cfg.cameras if c not in segment.cameras] if spec.has_images else []
        if missing:
            raise ConfigError(
                f"camera(s) {missing} are not in log {segment.name!r}",
                hint=f"cameras of this log: {segment.camera_names}",
            )
        self.config = cfg
        self.render_mode = render_mode
        self.segment = segment
        self.world = world if world is not None else build_world(segment, cfg.sim)
        self._cameras = [segment.cameras[c] for c in cfg.cameras] if spec.has_images else []
        self.renderer: RenderPath = spec.make(
            RenderSetup(
                segment=segment,
                cameras=tuple(self._cameras),
                image_size=cfg.image_size,
                depth=cfg.depth,
                scene_source=cfg.scene,
                scene=scene,
                force_scene=cfg.force_scene,
                device=cfg.device,
                backend=cfg.render_backend,
                torch_threads=cfg.render_torch_threads,
                options=dict(cfg.render_options),
            )
        )
        self._episodes = 0
        self._scenario_run = None
        self._bevs: dict[tuple, Any] = {}
        self._window = None
        self._state: SimState | None = None
        self._last_images: dict[str, np.ndarray] = {}
        self.observation_space = self._make_observation_space()
        self.action_space = self._make_action_space()

    # --- spaces -------------------------------------------------------------------------------
    def _make_observation_space(self) -> spaces.Dict:
        h, w = self.config.image_size
        d: dict[str, spaces.Space] = {}
        for cam in self._cameras:
            d[cam.name] = spaces.Box(0, 255, (h, w, 3), np.uint8)
            if self.config.depth:
                d[f"depth_{cam.name}"] = spaces.Box(0.0, MAX_DEPTH, (h, w, 1), np.float32)
        d["ego"] = spaces.Box(EGO_LOW, EGO_HIGH, (EGO_VECTOR_SIZE,), np.float32)
        if self.config.bev:
            s = self.config.bev_size
            d["bev"] = spaces.Box(0, 255, (s, s, 3), np.uint8)
        return spaces.Dict(d)

    def _make_action_space(self) -> spaces.Box:
        from jwmsim.sim.actions import action_type

        sim = self.world.config
        size = action_type(sim).size(sim)
        return spaces.Box(-1.0, 1.0, (size,), np.float32)  # normalised (SB3 wants [-1, 1])

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._keep_thread_budget()
        self._scenario_run = None
        if self._pool is not None:
            self._scenario_run = self._pool.draw(self.np_random)
            self.world = self._scenario_run.world
        self._state = initial_state(self.world)
        self.renderer.reset(Episode(self.world, seed, self._episodes))
        self._episodes += 1
        obs = self._observe(self._state)
        if self.render_mode == "human":
            self.render()
        return obs, self._info(self._state)

    def step(self, action):
        if self._state is None or self._state.done:
            raise EnvStateError(
                "step() called before reset() or after the episode ended",
                hint="call env.reset() to start an episode",
            )
        self._keep_thread_budget()
        self._state = transition(self._state, action, self.np_random)
        st = self._state
        obs = self._observe(st)
        if self.render_mode == "human":
            self.render()
        return obs, float(st.last.reward), bool(st.terminated), bool(st.truncated), self._info(st)

    def snapshot(self) -> EnvSnapshot:
        """Everything needed to go back to this moment: the (immutable) simulation state, the random
        generator's state, the render path's per-episode state and the last images (see
        :meth:`restore`)."""
        if self._state is None:
            raise EnvStateError("snapshot() called before reset()", hint="call env.reset() first")
        rng = copy.deepcopy(self.np_random.bit_generator.state)
        return EnvSnapshot(self._state, self.renderer.snapshot(), dict(self._last_images), rng)

    def restore(self, snapshot: EnvSnapshot) -> None:
        """Go back to a :meth:`snapshot` of this environment's current episode (a viewer scrubbing
        the timeline): the next :meth:`step` continues from there exactly as it did then."""
        if snapshot.state.world is not self.world:
            raise EnvStateError(
                "restore() got a snapshot of another world", hint="snapshots belong to one env episode"
            )
        self._state = snapshot.state
        self.np_random.bit_generator.state = copy.deepcopy(snapshot.rng_state)
        self.renderer.restore(snapshot.renderer)
        self._last_images = dict(snapshot.images)

    def render(self) -> np.ndarray | None:
        if self._state is None:
            raise EnvStateError("render() called before reset()", hint="call env.reset() first")
        frame = self._frame(self._state)
        if self.render_mode == "human":
            self._show(frame)
            return None
        return frame

    def close(self) -> None:
        self.renderer.close()
        if self._window is not None:
            import pygame

            pygame.display.quit()
            self._window = None

    def thread_report(self) -> dict[str, Any]:
        """This process's threads (numba, PyTorch intra-op and inter-op, OS threads, cores) and
        the budget the environment applied (:mod:`jwmsim.threads`; ``budget`` None: none)."""
        from jwmsim.threads import thread_report

        budget = self.thread_budget
        return {**thread_report(), "budget": None if budget is None else budget.__dict__.copy()}

    def _keep_thread_budget(self) -> None:
        """numba's thread count is kept per thread: apply the budget in the thread that steps (a Ray
        actor or a caller's thread may not be the one that made the environment)."""
        if self.thread_budget is not None:
            ensure_numba_threads(self.thread_budget.threads)

    # --- observation --------------------------------------------------------------------------
    @property
    def state(self) -> SimState | None:
        """The current simulation state (read-only)."""
        return self._state

    @property
    def scene(self) -> GaussianScene | None:
        """The Gaussian scene the render path draws, if it draws one."""
        return getattr(self.renderer, "scene", None)

    def _observe(self, st: SimState) -> dict[str, np.ndarray]:
        cfg = self.config
        frame = self.renderer.render(st)
        obs: dict[str, np.ndarray] = {}
        for cam in self._cameras:
            obs[cam.name] = frame.images[cam.name]
            if cfg.depth:
                obs[f"depth_{cam.name}"] = np.clip(frame.depth[cam.name][..., None], 0.0, MAX_DEPTH)
        self._last_images = {c.name: obs[c.name] for c in self._cameras}
        obs["ego"] = self._ego_vector(st)
        if cfg.bev:
            obs["bev"] = self._draw_bev(st, (cfg.bev_size, cfg.bev_size), cfg.bev_pixels_per_m)
        return obs

    def _ego_vector(self, st: SimState) -> np.ndarray:
        e, route, sim = st.ego, self.world.route, self.world.config
        _, d = route.project(e.x, e.y, s_hint=st.route_s)
        heading = route.line.heading_at(st.route_s)
        err = (e.yaw - heading + math.pi) % (2 * math.pi) - math.pi
        rc = min(1.0, max(0.0, st.episode.progress_max / route.length)) if route.length > 0 else 1.0
        vec = np.array(
            [e.speed, e.accel, e.steer, e.yaw_rate, e.lat_accel, d, err, rc, st.time / sim.episode_seconds],
            dtype=np.float32,
        )
        return np.clip(vec, EGO_LOW, EGO_HIGH)

    def _draw_bev(self, st: SimState, size: tuple[int, int], ppm: float) -> np.ndarray:
        """Ego-centred BEV (:class:`~jwmsim.viz.bev.BevRenderer`): map, route, actor boxes."""
        from jwmsim.viz.bev import BevRenderer, BoxArrays

        key = (size, ppm)
        if key not in self._bevs:
            lanes = {lane.id: lane.centreline.points for lane in self.world.road.lanes}
            self._bevs[key] = BevRenderer(self.world.road.drivable_area, lanes, size, ppm)
        bev = self._bevs[key]
        veh = self.world.config.vehicle
        # centred on the ego's box centre, so that the ego box is drawn where it is
        cx, cy = ego_centre(st.ego.x, st.ego.y, st.ego.yaw, veh)
        ego_pose = SE3.from_xy_yaw(cx, cy, st.ego.yaw, st.ego.z)
        boxes = BoxArrays.of_active(st.actors)
        img = bev.draw(
            ego_pose,
            boxes,
            (veh.width, veh.length, veh.height),
            paths=[(self.world.route.line.points, (80, 200, 80))],
            signals=self.world.signals.stop_lines(st.log_time),
        )
        return img

    # --- rendering ------------------------------------------------------------------------------
    def _frame(self, st: SimState) -> np.ndarray:
        from jwmsim.viz.mosaic import camera_mosaic, side_by_side

        h = max(self.config.image_size[0], 64)
        bev = self._draw_bev(st, (2 * h, 2 * h), 2.0)
        if not self._last_images:
            return bev
        mosaic = camera_mosaic(
            [self._last_images[c.name] for c in self._cameras], [c.name for c in self._cameras]
        )
        return side_by_side(mosaic, bev)

    def _show(self, frame: np.ndarray) -> None:
        import pygame

        if self._window is None:
            pygame.display.init()
            self._window = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            pygame.display.set_caption("jwmsim")
        surf = pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self._window.blit(surf, (0, 0))
        pygame.event.pump()
        pygame.display.flip()

    def _info(self, st: SimState) -> dict[str, Any]:
        info: dict[str, Any] = {"step": st.step, "time": st.time, "reason": st.reason}
        info["traffic_lights"] = st.signal_phases  # {light id: green | yellow | red}
        if self._scenario_run is not None:
            info["scenario"] = self._scenario_run.scenario
            info["scenario_run"] = self._scenario_run.run_index
        if st.last is not None:
            info["metrics"] = dict(st.last.metrics)
            info["rewards"] = dict(st.last.rewards)
            info["penalties"] = [(p.metric, p.value, p.cause) for p in st.last.penalties]
        if st.done:
            info["episode"] = episode_metrics(st)
        return info
