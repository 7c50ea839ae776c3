"""The pygame window of ``jwmsim view``: event loop, playback at the simulation rate, mouse editing
in the bird's-eye view, screenshots.

:class:`ViewerApp` owns a :class:`~jwmsim.viewer.session.Session` (the run and its timeline) and
draws every frame with :mod:`jwmsim.viewer.drawing`; keys are dispatched through
:data:`jwmsim.viewer.commands.COMMANDS`.
Tests drive it headless (``SDL_VIDEODRIVER=dummy``) by posting pygame events and calling
:meth:`ViewerApp.pump`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jwmsim.errors import ConfigError, JwmsimError
from jwmsim.scenario.schema import Scenario
from jwmsim.viewer.bev_view import BevView
from jwmsim.viewer.commands import COMMANDS
from jwmsim.viewer.controls import DRIVE_KEYS, KeyboardDriver, command_for_key, help_lines
from jwmsim.viewer.drawing import Layout, compose, help_overlay
from jwmsim.viewer.hud import HudInfo, hud_lines
from jwmsim.viewer.options import ViewerOptions
from jwmsim.viewer.session import Session

FRAME_AVERAGE = 20  # frames the shown frame time is averaged over


def _init_pygame() -> object:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not os.path.isdir(runtime):
        # SDL prints "XDG_RUNTIME_DIR is invalid or not set" without one; a private folder of
        # our own (mode 0700, as the XDG spec asks) keeps that noise out of jwmsim's own messages
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="jwmsim-xdg-")
    import pygame

    pygame.display.init()
    return pygame


HEADLESS_DRIVERS = ("dummy", "offscreen")  # SDL video drivers that show no window


def display_driver() -> str:
    """The SDL video driver pygame picks here (``x11``, ``wayland``, ``windows``, ``cocoa`` ... or,
    without a display, ``offscreen`` / ``dummy``: no visible window)."""
    pygame = _init_pygame()
    return str(pygame.display.get_driver())


class ViewerApp:
    """The viewer window.

    Args:
        scenario: a loaded scenario; options: viewer settings.
        session: a prepared session (tests); default: built from ``scenario``.
    """

    def __init__(self, scenario: Scenario, options: ViewerOptions, session: Session | None = None) -> None:
        self.options = options
        self.session = session or Session(scenario, options)
        self.pygame = _init_pygame()
        from jwmsim.envs.render_paths import RENDER_PATHS

        n = len(options.cameras) if RENDER_PATHS.get(options.render).has_images else 0
        self.layout = Layout.make(n, options.image_size, options.bev_px)
        try:
            self.window = self.pygame.display.set_mode(self.layout.size)
        except self.pygame.error as err:
            self.session.close()
            raise ConfigError(
                f"cannot open a window ({err})",
                hint="run where a display is available, or headless with --screenshot PATH --steps N",
            ) from None
        self.pygame.display.set_caption(f"jwmsim view: {scenario.name}")
        self.bev = BevView(self.session.world, options.bev_px, options.bev_m)
        self.driver = KeyboardDriver()
        self.manual = False
        self.playing = options.play
        self.speed = 1.0
        self.show_help = False
        self.running = True
        self.selected: str | None = None
        self.drag: tuple[str, float, float] | None = None
        self.scrubbing = False  # the mouse holds the scrub bar
        self.keep_time = False  # edits re-simulate to the current step instead of restarting
        self.mouse: tuple[int, int] | None = None
        from jwmsim.scenario.assets import asset_names

        self.assets = asset_names() or ["sedan"]  # shipped assets, then actor-bank entries (bank:...)
        self.asset = "sedan" if "sedan" in self.assets else self.assets[0]
        self.status, self.status_error = "", False
        self.frame_times: list[float] = []
        self.step_times: list[float] = []
        self.frame: np.ndarray | None = None
        self._next_due = time.perf_counter()

    # --- state shown ---------------------------------------------------------------------------
    @property
    def scenario(self) -> Scenario:
        return self.session.scenario

    def say(self, text: str, error: bool = False) -> None:
        """Set the HUD's status line."""
        self.status, self.status_error = text, error

    def _render_label(self) -> str:
        """The render path, and for a generator path its weights and sampler."""
        from jwmsim.replay_run import render_description, render_label

        env = self.session.env
        return render_label(render_description(self.options.render, getattr(env, "renderer", None)))

    def _mean(self, values: list[float]) -> float:
        return 1000.0 * float(np.mean(values[-FRAME_AVERAGE:])) if values else 0.0

    @property
    def episode_steps(self) -> int:
        """Steps of a full episode (its duration at the simulation rate)."""
        cfg = self.session.world.config
        return max(1, int(round(cfg.episode_seconds / cfg.dt)))

    def _scrub_to(self, u: float) -> None:
        """Seek to the step under column ``u`` of the scrub bar (within the recorded timeline)."""
        self.playing = False
        self.session.seek(self.layout.timeline_step(u, self.episode_steps))

    @property
    def frame_ms(self) -> float:
        """Mean frame time of the last frames that stepped [ms]."""
        return self._mean(self.frame_times)

    @property
    def step_ms(self) -> float:
        """Mean time of the simulation step and camera rendering alone, over the same frames [ms]."""
        return self._mean(self.step_times)

    def redraw(self) -> np.ndarray:
        """Compose the frame, show it; returns it (``[H, W, 3]`` uint8)."""
        s = self.session
        moment = s.moment
        names = list(self.options.cameras) if self.layout.mosaic.w else []
        images = [moment.observation[c] for c in names if c in moment.observation]
        info = HudInfo(
            title=f"{self.scenario.name}  run {self.options.run}  render {self._render_label()}",
            driver="keyboard (arrows)" if self.manual else f"planner {s.planner.name} (P)",
            playing=self.playing,
            speed=self.speed,
            step=s.cursor,
            steps=len(s.timeline),
            frame_ms=self.frame_ms,
            step_ms=self.step_ms,
            selected=self.selected,
            asset=self.asset,
            status=self.status,
            status_error=self.status_error,
        )
        history = [m.state for m in s.timeline[: s.cursor + 1]]
        bev = self.bev.draw(s.state, history, self.selected, self.drag)
        bar = (s.cursor, len(s.timeline), self.episode_steps)
        frame = compose(self.layout, images, names, hud_lines(s.state, self.scenario, info), bev, bar)
        if self.show_help:
            frame = help_overlay(frame, help_lines())
        self.frame = frame
        frame = np.ascontiguousarray(frame)
        surf = self.pygame.image.frombuffer(frame.tobytes(), (frame.shape[1], frame.shape[0]), "RGB")
        self.window.blit(surf, (0, 0))
        self.pygame.display.flip()
        return frame

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save the window's contents as a PNG."""
        path = Path(path)
        if self.frame is None:
            self.redraw()
        self.pygame.image.save(self.window, str(path))
        return path

    # --- simulation ----------------------------------------------------------------------------
    def step(self) -> bool:
        """One step (replaying the recording before its end; the keyboard's action when a drive key
        is held or at the end in keyboard mode; else the planner's) and a redraw; False at the end."""
        s = self.session
        action = None
        if self.manual and (self.driver.held or s.at_end):
            action = self.driver.action()
        t0 = time.perf_counter()
        try:
            moved = s.step(action)
        except JwmsimError as err:
            self.playing = False
            self.say(f"step failed: {err.message}", error=True)
            return False
        t1 = time.perf_counter()
        if not moved:
            self.playing = False
            self.redraw()
            return False
        if s.done:
            self.playing = False
        self.redraw()
        self.step_times.append(t1 - t0)
        self.frame_times.append(time.perf_counter() - t0)
        return True

    def edit(self, make: Callable[[], Scenario], message: str) -> bool:
        """Apply an edit: ``make()`` returns the edited scenario; the run is rebuilt from it and
        restarts at t = 0 (with :attr:`keep_time`: is simulated again to the current step). Errors go
        to the status line and leave the scenario as it was."""
        try:
            scenario = make()
            self.session.apply(scenario, keep_time=self.keep_time)
        except (JwmsimError, ValueError) as err:
            self.say(getattr(err, "message", str(err)).splitlines()[0], error=True)
            return False
        self.bev = BevView(self.session.world, self.options.bev_px, self.options.bev_m)
        if self.selected is not None and self.selected not in self.session.world.initial_actors.ids:
            self.selected = None
        t = self.session.state.time
        self.say(
            f"{message}; " + (f"simulated again to t = {t:.1f} s" if self.keep_time else "restarted at t = 0")
        )
        return True

    # --- events --------------------------------------------------------------------------------
    def _bev_xy(self, pos: tuple[int, int]) -> tuple[float, float] | None:
        b = self.layout.bev
        if not b.contains(*pos):
            return None
        return self.bev.to_world(self.session.state, pos[0] - b.x, pos[1] - b.y)

    def handle(self, event: object) -> None:
        """Handle one pygame event."""
        pg = self.pygame
        kind = event.type
        if kind == pg.QUIT:
            self.running = False
        elif kind == pg.KEYDOWN:
            name = pg.key.name(event.key)
            if name in DRIVE_KEYS:
                self.driver.press(name)
                self.manual = True
            command = command_for_key(name)
            if command is not None and command != "drive":
                COMMANDS.get(command)(self)
        elif kind == pg.KEYUP:
            self.driver.release(pg.key.name(event.key))
        elif kind == pg.MOUSEBUTTONDOWN and event.button == 1:
            self.mouse = event.pos
            b = self.layout.bev
            if self.layout.timeline.contains(*event.pos):
                self.scrubbing = True
                self._scrub_to(event.pos[0])
            elif b.contains(*event.pos):
                aid = self.bev.actor_at(self.session.state, event.pos[0] - b.x, event.pos[1] - b.y)
                self.selected = aid
                self.drag = None
                if aid is not None:
                    xy = self._bev_xy(event.pos)
                    assert xy is not None
                    self.drag = (aid, *xy)
                    self.say(f"selected {aid}")
        elif kind == pg.MOUSEMOTION:
            self.mouse = event.pos
            if self.scrubbing and event.buttons[0]:
                self._scrub_to(event.pos[0])
            if self.drag is not None and event.buttons[0]:
                xy = self._bev_xy(event.pos)
                if xy is not None:
                    self.drag = (self.drag[0], *xy)
        elif kind == pg.MOUSEBUTTONUP and event.button == 1:
            self.mouse = event.pos
            self.scrubbing = False
            drag, self.drag = self.drag, None
            if drag is None:
                return
            xy = self._bev_xy(event.pos)
            start = self._bev_xy_of_start(drag)
            if xy is None or start is None or np.hypot(xy[0] - start[0], xy[1] - start[1]) < 0.3:
                return  # a click, not a drag
            from jwmsim.viewer.editing import move_actor

            s = self.session
            self.edit(
                lambda: move_actor(self.scenario, s.concrete, s.world, drag[0], *xy), f"moved {drag[0]}"
            )

    def _bev_xy_of_start(self, drag: tuple[str, float, float]) -> tuple[float, float] | None:
        aid = drag[0]
        a = self.session.state.actors
        return (float(a.x[a.ids.index(aid)]), float(a.y[a.ids.index(aid)])) if aid in a.ids else None

    def pump(self) -> None:
        """Handle every pending event, then redraw."""
        for event in self.pygame.event.get():
            self.handle(event)
        if self.running:
            self.redraw()

    def run(self, max_seconds: float | None = None) -> None:
        """The interactive loop: events, playback at ``speed`` x the simulation rate (a step is
        due every ``dt / speed`` seconds; when a frame takes longer, playback runs slower and the
        HUD's frame time turns red). ``max_seconds``: leave the loop after that long."""
        self.redraw()
        t_end = None if max_seconds is None else time.perf_counter() + max_seconds
        dt = self.session.world.config.dt
        while self.running and (t_end is None or time.perf_counter() < t_end):
            events = self.pygame.event.get()
            for event in events:
                self.handle(event)
            if not self.running:
                break
            now = time.perf_counter()
            if self.playing and now >= self._next_due:
                self._next_due = max(self._next_due + dt / self.speed, now)
                self.step()
            elif events:
                self.redraw()
            else:
                if not self.playing:
                    self._next_due = now
                self.pygame.time.wait(5)

    def run_steps(self, steps: int) -> None:
        """Headless: ``steps`` steps as fast as they go (each drawn), for screenshots and timing."""
        self.redraw()
        for _ in range(steps):
            for event in self.pygame.event.get():
                self.handle(event)
            if not self.step():
                break

    def close(self) -> None:
        """Close the run and the window (again: nothing happens)."""
        self.session.close()
        self.pygame.display.quit()
