"""Renders every image the documentation shows, into ``docs/images/``.

``python docs/gen_images.py`` (about a minute on a 2-core CPU once the built-in seed log and its
scene are cached; the first call generates them):

* ``replay_frame.png``: a frame of ``jwmsim replay cut_in`` (run 0, IDM, t = 4 s): the three front
  cameras rendered from the default scene, the metrics panel and the bird's-eye view;
* ``viewer.png``: ``jwmsim view cut_in`` after 40 steps, headless, at the default window size;
* ``contact_sheet.jpg``: the six cameras of the built-in seed log at t = 3 s.

``--only NAME`` renders one of them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"
SCENARIO = "cut_in"
STEPS = 40  # 4 s at 10 Hz: the cutter is changing lanes


def replay_frame(out: Path) -> None:
    """Drive run 0 of the scenario as ``jwmsim replay`` does and save the frame of the last step."""
    import imageio.v3 as iio

    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario, load_seed_log, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.library import find_library_scenario
    from jwmsim.viz.replay_frame import ReplayFrameDrawer

    cameras = ("CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT")
    size = (112, 200)
    path = find_library_scenario(SCENARIO)
    scenario = load_scenario(path)
    log = load_seed_log(scenario)
    run = sample(scenario, 0, scenario.seed)
    world = build_world_for_run(run, log)
    env = JWMDrivingEnv(world=world, observation="skeleton", cameras=cameras, image_size=size)
    planner = make_planner("idm")
    obs, _ = env.reset(seed=run.seed + run.run_index)
    planner.reset(world)
    drawer = ReplayFrameDrawer(env.state, f"{scenario.name}  run 0  agent idm", size, len(cameras))
    frame = drawer.draw(env.state, [obs[c] for c in cameras], list(cameras))
    for _ in range(STEPS):
        obs, *_ = env.step(planner.act(env.state, obs))
        frame = drawer.draw(env.state, [obs[c] for c in cameras], list(cameras))
    env.close()
    iio.imwrite(out, frame)


def viewer(out: Path) -> None:
    command = ["jwmsim", "view", SCENARIO, "--screenshot", str(out), "--steps", str(STEPS)]
    subprocess.run([str(Path(sys.executable).parent / command[0]), *command[1:]], check=True)


def contact_sheet(out: Path) -> None:
    command = [sys.executable, "-m", "jwmsim.logs.procedural.contact_sheet", str(out), "--time", "3"]
    subprocess.run(command, check=True)


RENDERERS = {
    "replay_frame.png": replay_frame,
    "viewer.png": viewer,
    "contact_sheet.jpg": contact_sheet,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the documentation's images into docs/images/.")
    parser.add_argument("--only", choices=sorted(RENDERERS), help="render one image")
    args = parser.parse_args(argv)
    IMAGES.mkdir(exist_ok=True)
    for name, render in RENDERERS.items():
        if args.only in (None, name):
            render(IMAGES / name)
            print(f"wrote {IMAGES / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
