"""``jwmsim view SCENARIO``: the live viewer (pygame) for scenario designers."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from jwmsim.cli.replay import generator_options, parse_size
from jwmsim.envs.render_paths import PICTURE_PATH, render_path_help
from jwmsim.errors import ConfigError
from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE


def view_command(
    scenario: Path = typer.Argument(
        ..., help="scenario YAML file, or the name of a library scenario (e.g. cut_in)"
    ),
    render: str = typer.Option(PICTURE_PATH, "--render", help=f"render path ({render_path_help()})"),
    run: int = typer.Option(0, "--run", help="which jittered run of the scenario to show"),
    agent: str = typer.Option(
        None, "--agent", help="planner driving the ego (default: the scenario's, else idm)"
    ),
    scene: str = typer.Option(DEFAULT_SCENE_SOURCE, "--scene", help="scene source or a GaussianScene file"),
    force_scene: bool = typer.Option(False, "--force-scene", help="render a scene file of another log"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N"),
    size: str = typer.Option("112x200", "--size", help="camera image size HEIGHTxWIDTH"),
    cameras: str = typer.Option(
        "CAM_FRONT_LEFT,CAM_FRONT,CAM_FRONT_RIGHT", "--cameras", help="comma-separated camera channels"
    ),
    save: Path = typer.Option(None, "--save", help="where S saves (default: the scenario file itself)"),
    play: bool = typer.Option(False, "--play", help="start playing (else paused at t = 0)"),
    screenshot: Path = typer.Option(
        None, "--screenshot", help="headless: run --steps steps, save a PNG, exit"
    ),
    steps: int = typer.Option(30, "--steps", help="steps before the --screenshot"),
    weights: Path = typer.Option(
        None, "--weights", help="weights folder of a generator render path (jwm; default: the path's)"
    ),
) -> None:
    """Watch a scenario run, drive the ego, scrub the timeline, edit the scenario and save it
    (H in the window lists the keys)."""
    from jwmsim.scenario import load_scenario
    from jwmsim.viewer.options import ViewerOptions

    opts = ViewerOptions(
        render=render,
        run=run,
        agent=agent,
        scene=scene,
        force_scene=force_scene,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()),
        image_size=parse_size(size),
        device=device,
        save=save,
        play=play,
        render_options=generator_options(None, weights),
    )
    if screenshot is not None:
        if steps < 0:
            raise ConfigError(f"--steps {steps} is negative", hint="--steps 0 shows t = 0")
        if not screenshot.parent.is_dir():
            raise ConfigError(f"--screenshot {screenshot}: folder {screenshot.parent} does not exist")
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    loaded = load_scenario(scenario)  # a bad scenario is reported before any window is tried
    from jwmsim.viewer.app import HEADLESS_DRIVERS, ViewerApp, display_driver

    if screenshot is None and display_driver() in HEADLESS_DRIVERS:
        raise ConfigError(
            f"no display to open the viewer's window on (SDL video driver {display_driver()!r})",
            hint="run it on a desktop (or with X forwarding), or headless: --screenshot PATH --steps N",
        )
    viewer = ViewerApp(loaded, opts)
    if screenshot is None:
        try:
            viewer.run()
        finally:
            viewer.close()
        return
    viewer.run_steps(steps)
    viewer.screenshot(screenshot)
    typer.echo(
        f"{screenshot}: t = {viewer.session.state.time:.1f} s after {viewer.session.cursor} steps; "
        f"frame time {viewer.frame_ms:.1f} ms (sim + render {viewer.step_ms:.1f} ms)"
    )
    viewer.close()
