"""Renders ``docs/images/actor_bank_cut_in.png``: the same frame of the ``cut_in`` scenario (run 0,
IDM, t = 4 s, front camera, default scene of the built-in seed log) with the cutting-in car drawn as
the mesh sedan (before) and as the shipped sedan, a car reconstructed from the real log and taken
from the actor bank (after), beside the procedural town's ground truth of that frame with a
procedural sedan in the cutter's box (what a real car there would look like), each with a close-up.

    python docs/gen_actor_bank_figure.py        # about a minute once the seed log and scene are cached
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

IMAGES = Path(__file__).resolve().parent / "images"
SCENARIO = "cut_in"
STEPS = 40  # 4 s at 10 Hz, as docs/gen_images.py: the cutter is changing lanes
CAMERA = "CAM_FRONT"
SIZE = (180, 320)  # (H, W) [px]: the seed log's camera resolution


def _label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = img.copy()
    cv2.rectangle(out, (0, 0), (8 + 7 * len(text), 16), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _crop(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``box`` (y0, y1, x0, x1) scaled up to the full image size (nearest)."""
    import cv2

    y0, y1, x0, x1 = box
    return cv2.resize(img[y0:y1, x0:x1], (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST)


def cut_in_frame() -> tuple[object, object, dict, dict, str]:
    """The environment after ``STEPS`` steps of run 0: (env, state, poses, extra actors, cutter id)."""
    from jwmsim.envs.drive_env import JWMDrivingEnv
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario, load_seed_log, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.library import find_library_scenario

    scenario = load_scenario(find_library_scenario(SCENARIO))
    run = sample(scenario, 0, scenario.seed)
    world = build_world_for_run(run, load_seed_log(scenario))
    env = JWMDrivingEnv(world=world, observation="skeleton", cameras=(CAMERA,), image_size=SIZE)
    planner = make_planner("idm")
    obs, _ = env.reset(seed=run.seed + run.run_index)
    planner.reset(world)
    for _ in range(STEPS):
        obs, *_ = env.step(planner.act(env.state, obs))
    poses, extra = env.renderer.actors_to_draw(env.state)
    return env, env.state, poses, extra, scenario.actors[0].id


def oracle_frame(state: object, cutter: str, size_wlh: tuple[float, float, float]) -> np.ndarray:
    """The procedural town's ground truth of ``state`` (ego and actors at their simulated poses),
    a procedural sedan of box ``size_wlh`` in the cutter's place."""
    from jwmsim.logs.procedural import Town, nuscenes_like_rig
    from jwmsim.logs.procedural.default_log import DEFAULT_SEED
    from jwmsim.logs.procedural.meshes import ActorModel, vehicle
    from jwmsim.logs.procedural.render import render_ground_truth

    town = Town.generate(DEFAULT_SEED)
    a = state.actors  # type: ignore[attr-defined]
    poses = {a.ids[i]: a.pose(int(i)) for i in np.flatnonzero(a.active)}  # log actors by instance token
    model = vehicle(np.random.default_rng(0), "sedan")
    scale = np.array(size_wlh)[[1, 0, 2]] / np.array(model.size_wlh)[[1, 0, 2]]  # box frame x, y, z
    mesh = dataclasses.replace(model.mesh, vertices=model.mesh.vertices * scale)
    model = ActorModel(model.category, size_wlh, mesh)
    cam = nuscenes_like_rig(SIZE[1], SIZE[0])[CAMERA]
    ego = state.ego.pose()  # type: ignore[attr-defined]
    return render_ground_truth(town, cam, ego, actor_poses=poses, inserted={cutter: model}).rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES / "actor_bank_cut_in.png")
    args = parser.parse_args()
    import imageio.v3 as iio
    import torch

    from jwmsim.gaussians.assets import mesh_asset
    from jwmsim.gaussians.render import render

    env, state, poses, extra, cutter = cut_in_frame()
    path = env.renderer
    before = dict(extra, **{cutter: mesh_asset("sedan")})
    images = {}
    for name, actors in (("before", before), ("after", extra)):
        with torch.no_grad():
            out = render(
                path.scene, path.cameras, state.ego.pose(), poses, SIZE, backend="cpu", extra_actors=actors
            )
        images[name] = (out.rgb[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
        if name == "after":
            alone = (
                render(
                    path.scene,
                    path.cameras,
                    state.ego.pose(),
                    {cutter: poses[cutter]},
                    SIZE,
                    backend="cpu",
                    extra_actors={cutter: extra[cutter]},
                )
                .alpha[0]
                .numpy()
            )
    a = state.actors
    i = a.ids.index(cutter)
    truth = oracle_frame(state, cutter, (float(a.width[i]), float(a.length[i]), float(a.height[i])))
    env.close()
    ys, xs = np.nonzero(alone > 0.3)
    cy, cx = int(ys.mean()), int(xs.mean())
    half_h, half_w = SIZE[0] // 6, SIZE[1] // 6
    cy, cx = int(np.clip(cy, half_h, SIZE[0] - half_h)), int(np.clip(cx, half_w, SIZE[1] - half_w))
    box = (cy - half_h, cy + half_h, cx - half_w, cx + half_w)
    titles = {
        "before": "before: mesh sedan",
        "after": "after: real-log car (actor bank)",
        "truth": "procedural ground truth",
    }
    images["truth"] = truth
    rows = [
        np.concatenate([_label(images[k], titles[k]) for k in ("before", "after", "truth")], 1),
        np.concatenate([_label(_crop(images[k], box), "close-up") for k in ("before", "after", "truth")], 1),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(args.out, np.concatenate(rows, 0))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
