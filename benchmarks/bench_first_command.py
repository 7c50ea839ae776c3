"""The README's first command, timed as a new user runs it, and the replay's overhead over the env.

1. ``first_command``: ``jwmsim replay scenarios/cut_in.yaml`` (20 runs of 120 steps, three 112x200
   cameras, the IDM planner) in a subprocess with an empty ``JWMSIM_CACHE``, so that it includes the
   generation of the built-in seed log, the lidar skeleton and the runs (numba's compilation too).
   Wall time in total and by phase (the log's generation and the scene's build are timed by the
   command itself: the seed log's ``generator.json`` and the scene's ``build_seconds``).
2. ``env_vs_replay``: steps per second of the environment alone (the same world, scene and cameras,
   the planner's actions) against one replay run in this process (world building, planner, video,
   metrics), same run; ``--ratio-repeats`` times (``env_vs_replay_repeats``, each with its own
   interleaved rounds: on a shared machine the spread between repeats is the load's). With
   ``cpu_s``: CPU seconds of the process (all threads) per round, whose ratio is what the replay's
   extra work costs whatever the load.
3. ``--ref REV``: the same first command (with ``--ref-runs`` runs, default 4) on an older commit,
   checked out with ``git worktree`` into a temporary folder and run with this venv, for a
   before/after comparison on the same machine in the same session.

Run:  .venv/bin/python benchmarks/bench_first_command.py [--runs 20] [--ref REV] [--ref-runs 4]
          [--ratio-repeats 3] [--no-first-command]
Writes benchmarks/results/bench_first_command.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info, write_report  # noqa: E402

CLI = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"


def first_command(repo: Path, runs: int | None, extra: list[str]) -> dict[str, object]:
    """Run the replay of ``cut_in.yaml`` from ``repo`` with an empty cache; wall times [s]."""
    with tempfile.TemporaryDirectory(prefix="jwmsim-bench-") as tmp:
        env = {**os.environ, "JWMSIM_CACHE": str(Path(tmp) / "cache"), "PYTHONPATH": str(repo)}
        out = Path(tmp) / "out"
        cmd = [
            sys.executable,
            "-c",
            CLI,
            "replay",
            "scenarios/cut_in.yaml",
            "--out",
            str(out),
            "--no-progress",
        ]
        if runs is not None:
            cmd += ["--runs", str(runs)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd + extra, cwd=repo, env=env, capture_output=True, text=True)
        total = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"first command failed in {repo}:\n{res.stderr[-3000:]}")
        summary = json.loads((out / "summary.json").read_text())
        scenes = list((Path(tmp) / "cache" / "scenes").glob("*.safetensors"))
        build = None
        if scenes:
            from jwmsim.gaussians.scene import GaussianScene

            meta = GaussianScene.load(scenes[0]).metadata
            build = float(meta["build_seconds"]) if "build_seconds" in meta else None
        steps = sum(r["steps"] for r in summary["runs"])
        return {
            "command": " ".join(["jwmsim", *cmd[3:]]),
            "total_s": round(total, 1),
            "runs_s": summary["wall_time_s"],
            "scene_build_s": build,
            "log_generation_and_startup_s": round(total - summary["wall_time_s"] - (build or 0.0), 1),
            "runs": len(summary["runs"]),
            "render": summary.get("render"),
            "videos": summary.get("videos"),
            "steps": steps,
            "replay_steps_per_s": round(steps / summary["wall_time_s"], 2),
            "workers": summary.get("workers", 1),
            "mean_pdms": summary["aggregate"]["pdms"]["mean"],
        }


def env_vs_replay(rounds: int = 5) -> dict[str, object]:
    """Env-alone steps/s against one replay run (planner, frame drawing, video, metrics) in this
    process, on the same trajectory (the env is stepped with the actions the replay's planner takes),
    world and scene; ``rounds`` interleaved rounds, medians (the
    ratio: the median of the rounds' ratios)."""
    from jwmsim.envs import JWMDrivingEnv
    from jwmsim.replay import ReplayOptions, prepare_runs
    from jwmsim.replay_run import load_for_runs, run_one
    from jwmsim.scenario import sample
    from jwmsim.scenario.build import build_world_for_run

    with tempfile.TemporaryDirectory(prefix="jwmsim-bench-") as tmp:
        # the skeleton path on both sides: this measures the replay's own overhead over the env
        opts = ReplayOptions(out=Path(tmp), render="skeleton", progress=False, workers=1)
        scenario, setup, _, _ = prepare_runs(REPO / "scenarios" / "cut_in.yaml", opts)
        loaded = load_for_runs(setup)
        world = build_world_for_run(sample(scenario, 0, scenario.seed), loaded.log)
        seed = scenario.seed  # the replay's reset seed of run 0
        # the planner's actions of run 0, from the simulation alone (the planner reads the state
        # only), so that the env below drives exactly the replay's trajectory
        blind = JWMDrivingEnv(world=world, observation="none")
        blind.reset(seed=seed)
        loaded.planner.reset(world)
        actions = []
        while not blind.state.done:
            actions.append(loaded.planner.act(blind.state))
            blind.step(actions[-1])
        env = JWMDrivingEnv(
            world=world, scene=loaded.scene, cameras=setup.cameras, image_size=setup.image_size
        )
        env.reset(seed=seed)
        env.step(actions[0])  # warm-up
        run_one(loaded, 0)  # warm-up (asset loading, video encoder start)
        env_rates, replay_rates, env_cpu, replay_cpu = [], [], [], []
        for _ in range(rounds):  # interleaved, so that both see the same load
            env.reset(seed=seed)
            t0, c0, n = time.perf_counter(), time.process_time(), 0
            for a in actions:
                _, _, term, trunc, _ = env.step(a)
                n += 1
                if term or trunc:
                    break
            env_rates.append(n / (time.perf_counter() - t0))
            env_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            res = run_one(loaded, 0)
            replay_rates.append(res.steps / (time.perf_counter() - t0))
            replay_cpu.append(time.process_time() - c0)
        env_rate, replay_rate = float(np.median(env_rates)), float(np.median(replay_rates))
    return {
        "env_steps_per_s": round(env_rate, 2),
        "replay_steps_per_s": round(replay_rate, 2),
        "replay_over_env": round(float(np.median(np.array(replay_rates) / np.array(env_rates))), 3),
        "rounds": {"env": [round(r, 2) for r in env_rates], "replay": [round(r, 2) for r in replay_rates]},
        "cpu_s": {"env": [round(c, 2) for c in env_cpu], "replay": [round(c, 2) for c in replay_cpu]},
        "env_cpu_over_replay_cpu": round(float(np.median(np.array(env_cpu) / np.array(replay_cpu))), 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--runs", type=int, default=None, help="runs of the first command (default: the scenario's 20)"
    )
    ap.add_argument("--ref", default=None, help="older git revision to compare against (e.g. 1fbc9b1)")
    ap.add_argument("--ref-runs", type=int, default=4, help="runs of the first command on --ref")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_first_command.json")
    ap.add_argument("--ratio-repeats", type=int, default=3, help="repeats of the env-vs-replay measurement")
    ap.add_argument("--no-first-command", action="store_true", help="measure the env-vs-replay ratio only")
    args = ap.parse_args()

    result: dict[str, object] = {"machine": machine_info()}
    repeats = []
    for i in range(max(1, args.ratio_repeats)):
        print(f"env vs replay (one run, this process), repeat {i + 1}/{args.ratio_repeats} ...", flush=True)
        repeats.append(env_vs_replay())
        print(json.dumps(repeats[-1]), flush=True)
    result["env_vs_replay"] = repeats[0]
    result["env_vs_replay_repeats"] = repeats
    if not args.no_first_command:
        print("first command (empty cache) ...", flush=True)
        result["first_command"] = first_command(REPO, args.runs, [])
        print(json.dumps(result["first_command"]), flush=True)
    if args.ref:
        tree = Path(tempfile.mkdtemp(prefix="jwmsim-ref-"))
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), args.ref],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            print(f"first command at {args.ref} ({args.ref_runs} runs) ...", flush=True)
            ref = first_command(tree, args.ref_runs, [])
            ref["revision"] = args.ref
            result["first_command_ref"] = ref
            now = first_command(REPO, args.ref_runs, [])
            result["first_command_same_runs"] = now
            print(json.dumps(ref), "\n", json.dumps(now), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
            shutil.rmtree(tree, ignore_errors=True)
    result["machine_after"] = {"load_average": [round(x, 2) for x in os.getloadavg()]}
    result["reproduce"] = "  ".join(["python benchmarks/bench_first_command.py", *sys.argv[1:]])
    write_report(args.out, result)


if __name__ == "__main__":
    main()
