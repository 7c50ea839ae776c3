"""PPO (stable-baselines3) on ``JWM-Drive-v0`` as registered, then a closed-loop evaluation of the
policy against ``random`` and ``idm`` on held-out jittered scenario runs.

    .venv/bin/python examples/train_ppo.py --out runs/ppo                 # full run (~1 h, 2 cores)
    .venv/bin/python examples/train_ppo.py --out runs/ppo --resume        # continue from a checkpoint
    .venv/bin/python examples/train_ppo.py --out runs/ppo_smoke --steps 2048 --eval-runs 2   # smoke
    .venv/bin/python examples/train_ppo.py --out runs/ppo_bc --warm-start idm --learning-rate 1e-4
        # clone IDM first (jwmsim.behaviour_cloning: demonstrations -> demos.npz, bc_policy.zip,
        # bc_history.json, checkpoints/ppo_0_steps.zip), then fine-tune with PPO

Observation: ``bev`` (default; the 64x64 ego-centred BEV raster + the 9-vector of ego state, no
camera rendering) or ``camera`` (CAM_FRONT 64x112 skeleton render + the ego vector). Both are flat
``Dict`` spaces that SB3's ``MultiInputPolicy`` takes as they are; the environments run in
``SubprocVecEnv`` workers (spawned). BEV is the default because it steps about an order of
magnitude faster on a CPU (measured rates: ``benchmarks/bench_env_steps.py``), which makes an hour
of training on 2 cores worth anything.

Out folder: ``train_config.json`` (the first call's settings; each ``--resume`` call appends its own to
``resume_config.jsonl``), ``checkpoints/ppo_<steps>_steps.zip`` (every
``--checkpoint-every`` steps and on Ctrl-C), ``logs/session_<k>/progress.csv`` (SB3's CSV logger;
also TensorBoard event files when tensorboard is installed), ``learning_curve.png``,
``policy.zip`` (load it with ``--agent sb3:OUT/policy.zip``), ``train_stats.json`` (steps/s) and
``eval/`` (the ``jwmsim eval closed-loop`` report). A policy zip is unpickled when loaded, which can
run code: only load policies you trust.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OBSERVATIONS: dict[str, dict[str, Any]] = {
    "bev": {"observation": "none", "bev": True, "bev_size": 64},
    "camera": {"observation": "skeleton", "cameras": ("CAM_FRONT",), "image_size": (64, 112)},
}
CHECKPOINT = re.compile(r"^ppo_(\d+)_steps\.zip$")
# Training reward (SimConfig.reward_weights). The simulator's default charges 0.5 per step with a
# projected collision (TTC) against 0.1 per metre of progress, and a standing ego has no TTC
# penalty: PPO learns to stop at once (measured: EP 0.10, RC 0.09, yet PDMS 0.457, since PDMS
# gives a standing car 7/12). Here progress pays more, a TTC step costs about one metre of
# progress, and a collision costs about 100 m.
TRAINING_REWARD: tuple[tuple[str, float], ...] = (
    ("progress", 0.2),
    ("collision", 20.0),
    ("offroad", 5.0),
    ("ttc", 0.2),
    ("comfort", 0.05),
    ("lane_deviation", 0.05),
    ("route_complete", 10.0),
)


@dataclass(frozen=True)
class TrainConfig:
    """PPO settings (SB3 names) and the environments.

    Attributes:
        observation: ``bev`` or ``camera`` (see the module docstring).
        scenarios: scenario names or YAML paths the episodes are drawn from (``library``: the
            shipped library); each environment takes the scenarios of one seed log
            (``DriveEnvConfig.scenarios``: jittered runs with indices >= 1000, never the
            evaluation's), environments shared among the logs by their scenario counts.
        logs: instead of scenarios, plain episodes on these logs (``builtin`` or nuScenes
            dataroots), one per environment in turn.
        steps: total environment steps; envs: SubprocVecEnv workers.
        n_steps: rollout length per environment; batch_size / n_epochs / learning_rate / gamma:
            PPO's.
        episode_seconds: [s] length of a training episode (the scenarios run 5-10 s).
        checkpoint_every: [steps] between checkpoints; seed: of PPO and the environments.
        reward_weights: the training reward's weights by term (see :data:`TRAINING_REWARD`).
        vec_env: ``subproc`` (SB3's SubprocVecEnv, this machine) or ``ray``
            (:class:`jwmsim.backends.ray_vec_env.RayVecEnv`: the environments in Ray actors, on
            ``ray_address`` or a local Ray instance; the same rollouts for the same seeds).
        warm_start: a planner (``idm``) to clone before PPO starts
            (:mod:`jwmsim.behaviour_cloning`): ``demo_steps`` recorded steps in environments made
            as PPO's, executed with Gaussian noise ``demo_noise`` on the action, ``bc_epochs``
            epochs, then the policy's log std set to ``bc_log_std``. None: PPO from scratch.
    """

    observation: str = "bev"
    scenarios: tuple[str, ...] = ("library",)
    logs: tuple[str, ...] = ()
    steps: int = 400_000
    envs: int = 4
    n_steps: int = 512
    batch_size: int = 256
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    episode_seconds: float = 10.0
    checkpoint_every: int = 20_000
    reward_weights: tuple[tuple[str, float], ...] = TRAINING_REWARD
    seed: int = 0
    vec_env: str = "subproc"
    ray_address: str | None = None
    warm_start: str | None = None
    demo_steps: int = 40_000
    demo_noise: float = 0.1
    bc_epochs: int = 8
    bc_log_std: float = -1.2

    def __post_init__(self) -> None:
        from jwmsim.errors import ConfigError

        if self.observation not in OBSERVATIONS:
            raise ConfigError(f"--observation {self.observation!r}", hint=f"one of {sorted(OBSERVATIONS)}")
        for name in ("steps", "envs", "n_steps", "batch_size", "n_epochs", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not self.logs and not self.scenarios:
            raise ConfigError("nothing to train on", hint="--scenarios library, or --logs builtin")
        if self.vec_env not in ("subproc", "ray"):
            raise ConfigError(f"--vec-env {self.vec_env!r}", hint="subproc or ray")
        if self.warm_start is not None:
            from jwmsim.planning import parse_planner_spec, planner_class

            spec = parse_planner_spec(self.warm_start)  # an unknown planner fails here, before any work
            if spec.name is not None:
                planner_class(spec.name)
            if self.demo_steps < self.envs or self.bc_epochs < 1 or self.demo_noise < 0:
                raise ConfigError("--demo-steps >= --envs, --bc-epochs >= 1 and --demo-noise >= 0 needed")

    def env_kwargs(self) -> list[dict[str, Any]]:
        """``gym.make`` keywords of each environment."""
        if self.logs:
            where = [{"log": self.logs[i % len(self.logs)]} for i in range(self.envs)]
        else:
            where = [{"scenarios": g} for g in share_envs(scenario_groups(self.scenarios), self.envs)]
        common = {
            "episode_seconds": self.episode_seconds,
            "reward_weights": dict(self.reward_weights),
            **OBSERVATIONS[self.observation],
        }
        return [{**w, **common} for w in where]


def scenario_groups(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    """``names`` (``library`` expands to the shipped library) grouped by seed log; scenarios whose
    log is missing here (the real log without ../shared) are left out with a message."""
    from jwmsim.errors import ConfigError
    from jwmsim.scenario import ScenarioError, load_scenario
    from jwmsim.scenario.library import library_names
    from jwmsim.scenario.loader import seed_log_dataroot

    expanded = [n for name in names for n in (library_names() if name == "library" else [name])]
    groups: dict[tuple, list[str]] = {}
    for name in expanded:
        scenario = load_scenario(name)
        try:
            key = seed_log_dataroot(scenario)
        except ScenarioError as err:
            print(f"note: scenario {name} left out of training: {err}", file=sys.stderr)
            continue
        groups.setdefault(key, []).append(name)
    if not groups:
        raise ConfigError(f"no scenario of {list(names)} has its log here", hint="see the messages above")
    return [tuple(g) for g in groups.values()]


def share_envs(groups: list[tuple[str, ...]], envs: int) -> list[tuple[str, ...]]:
    """The scenario group of each of ``envs`` environments: every group gets at least one (when
    there are enough), the rest in proportion to the groups' scenario counts."""
    counts = [1] * min(envs, len(groups)) + [0] * max(0, len(groups) - envs)
    total = sum(len(g) for g in groups)
    while sum(counts) < envs:  # the next environment to the group furthest below its share
        k = max(range(len(groups)), key=lambda i: len(groups[i]) / total * envs - counts[i])
        counts[k] += 1
    return [g for g, c in zip(groups, counts, strict=True) for _ in range(c)]


def make_env(kwargs: dict[str, Any], seed: int) -> Any:
    """One monitored ``JWM-Drive-v0`` in a SubprocVecEnv worker (which ignores Ctrl-C: the trainer
    saves a checkpoint and closes the workers). Its numba and PyTorch threads are the worker's
    share of the cores (``DriveEnvConfig.threads="auto"``; :mod:`jwmsim.backends.vector`)."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor

    import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)

    env = Monitor(gym.make("JWM-Drive-v0", **kwargs))
    env.reset(seed=seed)
    return env


def latest_checkpoint(out: Path) -> tuple[Path, int] | None:
    """The checkpoint with the most steps in ``out/checkpoints``, and its step count."""
    found = []
    for p in (out / "checkpoints").glob("ppo_*_steps.zip"):
        m = CHECKPOINT.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    if not found:
        return None
    steps, path = max(found)
    return path, steps


def _loggers(out: Path) -> Any:
    from stable_baselines3.common.logger import configure

    formats = ["stdout", "csv"]
    try:
        import tensorboard  # noqa: F401

        formats.append("tensorboard")
    except ImportError:
        pass
    session = 0
    while (out / "logs" / f"session_{session}").exists():
        session += 1
    return configure(str(out / "logs" / f"session_{session}"), formats)


def plot_learning_curve(out: Path) -> Path | None:
    """``learning_curve.png``: mean episode reward and length over the steps of all sessions."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, rewards, lengths = [], [], []
    for f in sorted((out / "logs").glob("session_*/progress.csv")):
        with f.open() as fh:
            for row in csv.DictReader(fh):
                if row.get("rollout/ep_rew_mean"):
                    steps.append(float(row["time/total_timesteps"]))
                    rewards.append(float(row["rollout/ep_rew_mean"]))
                    lengths.append(float(row.get("rollout/ep_len_mean") or "nan"))
    if not steps:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    a.plot(steps, rewards)
    a.set(xlabel="environment steps", ylabel="mean episode reward", title="PPO on JWM-Drive-v0")
    b.plot(steps, lengths)
    b.set(xlabel="environment steps", ylabel="mean episode length [steps]")
    fig.tight_layout()
    path = out / "learning_curve.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def warm_start(model: Any, cfg: TrainConfig, out: Path) -> None:
    """Clone ``cfg.warm_start`` into ``model`` (see :mod:`jwmsim.behaviour_cloning`): the
    demonstrations go to ``out/demos.npz`` (reused when present), the fit's errors to
    ``out/bc_history.json`` and the cloned policy to ``out/bc_policy.zip``."""
    from jwmsim.behaviour_cloning import CloneSettings, Demos, DemoTask, clone_into, collect_demos

    demo_file = out / "demos.npz"
    if demo_file.is_file():
        demos = Demos.load(demo_file)
        print(f"demonstrations: {demo_file} ({len(demos)} steps, {demos.episodes} episodes)")
    else:
        tasks = [
            DemoTask(
                kw, cfg.demo_steps // cfg.envs, cfg.seed + 1000 + i, cfg.warm_start, cfg.demo_noise, cfg.gamma
            )
            for i, kw in enumerate(cfg.env_kwargs())
        ]
        t0 = time.perf_counter()
        demos = collect_demos(tasks, backend="ray" if cfg.vec_env == "ray" else "local", progress=True)
        demos.save(demo_file)
        seconds = time.perf_counter() - t0
        print(f"demonstrations: {len(demos)} steps, {demos.episodes} episodes in {seconds:.0f} s")
    settings = CloneSettings(epochs=cfg.bc_epochs, log_std=cfg.bc_log_std, seed=cfg.seed)
    t0 = time.perf_counter()
    history = clone_into(model, demos, settings, progress=True)
    history["seconds"] = round(time.perf_counter() - t0, 1)
    history["expert"] = cfg.warm_start
    (out / "bc_history.json").write_text(json.dumps(history, indent=1))
    model.save(str(out / "bc_policy.zip"))
    last = history["actor"][-1]
    print(
        f"cloned {cfg.warm_start}: action MSE {last['train_mse']:.4f} train / {last['val_mse']:.4f} held out"
    )


def train(cfg: TrainConfig, out: Path, resume: bool) -> Path:
    """Train (or continue) PPO; returns the saved policy zip."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CheckpointCallback
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from jwmsim.errors import CheckpointError, ConfigError
    from jwmsim.machine import machine_info
    from jwmsim.training import write_run_config

    out.mkdir(parents=True, exist_ok=True)
    cfg_file = out / "train_config.json"
    start = latest_checkpoint(out) if resume else None
    if resume:
        if start is None:
            raise ConfigError(
                f"--resume: no checkpoint in {out / 'checkpoints'}", hint="train without --resume"
            )
        saved = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}
        if saved.get("observation", cfg.observation) != cfg.observation:
            raise ConfigError(
                f"--resume: {out} trains observation {saved['observation']!r}, not {cfg.observation!r}",
                hint=f"pass --observation {saved['observation']} or another --out",
            )
    elif latest_checkpoint(out) is not None:
        raise ConfigError(
            f"{out} already holds checkpoints", hint="pass --resume to continue, or another --out"
        )
    write_run_config(out, asdict(cfg), start[1] if start is not None else None)
    torch.set_num_threads(1)
    fns = [
        (lambda kw=kw, i=i: make_env(kw, cfg.seed + i))  # noqa: B023
        for i, kw in enumerate(cfg.env_kwargs())
    ]
    for i, kw in enumerate(cfg.env_kwargs()):
        print(f"env {i}: {kw.get('scenarios') or kw.get('log')}")
    if cfg.vec_env == "ray":
        from jwmsim.backends.ray_vec_env import RayVecEnv

        venv = RayVecEnv(fns, ray_address=cfg.ray_address)
    else:
        from jwmsim.backends.vector import worker_factories

        # spawned workers, each with cores // envs numba and PyTorch threads (Ray: one per actor)
        venv = SubprocVecEnv(worker_factories(fns), start_method="spawn")
    try:
        if start is not None:
            try:
                model = PPO.load(str(start[0]), env=venv, device="cpu")
            except Exception as err:
                raise CheckpointError(
                    f"cannot load checkpoint {start[0]}: {type(err).__name__}: {err}"
                ) from err
            print(f"resuming from {start[0]} ({start[1]} steps)")
        else:
            model = PPO(
                "MultiInputPolicy",
                venv,
                n_steps=cfg.n_steps,
                batch_size=cfg.batch_size,
                n_epochs=cfg.n_epochs,
                learning_rate=cfg.learning_rate,
                gamma=cfg.gamma,
                seed=cfg.seed,
                device="cpu",
                verbose=0,
            )
            if cfg.warm_start:
                warm_start(model, cfg, out)
                (out / "checkpoints").mkdir(exist_ok=True)
                model.save(str(out / "checkpoints" / "ppo_0_steps.zip"))  # --resume starts here
        model.set_logger(_loggers(out))
        done_before = model.num_timesteps
        remaining = max(0, cfg.steps - done_before)
        ckpt = CheckpointCallback(max(1, cfg.checkpoint_every // cfg.envs), str(out / "checkpoints"), "ppo")
        t0 = time.perf_counter()
        try:
            if remaining:
                model.learn(
                    remaining, callback=ckpt, reset_num_timesteps=False, progress_bar=_has_progress_bar()
                )
        except KeyboardInterrupt:
            path = out / "checkpoints" / f"ppo_{model.num_timesteps}_steps.zip"
            model.save(str(path))
            print(f"\ninterrupted: saved {path}; continue with --resume", file=sys.stderr)
            raise
        finally:
            seconds = time.perf_counter() - t0
            stats = {
                "steps_this_session": model.num_timesteps - done_before,
                "seconds": round(seconds, 2),
                "steps_per_s": round((model.num_timesteps - done_before) / max(seconds, 1e-9), 2),
                "total_steps": model.num_timesteps,
                "observation": cfg.observation,
                "envs": cfg.envs,
                "load_average": os.getloadavg(),
                "machine": machine_info(),
            }
            (out / "train_stats.json").write_text(json.dumps(stats, indent=1))
        policy = out / "policy.zip"
        model.save(str(policy))
        model.save(str(out / "checkpoints" / f"ppo_{model.num_timesteps}_steps.zip"))
    finally:
        venv.close()
    plot_learning_curve(out)
    print(f"policy: {policy}  ({stats['steps_per_s']} steps/s over {stats['steps_this_session']} steps)")
    return policy


def _has_progress_bar() -> bool:
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return sys.stderr.isatty()


def evaluate(policy: Path, cfg: TrainConfig, out: Path, args: argparse.Namespace) -> Path:
    """``jwmsim eval closed-loop`` of random, idm and the policy on held-out jittered runs."""
    from jwmsim.evaluation.closed_loop import ClosedLoopOptions, evaluate_closed_loop

    cloned = out / "bc_policy.zip"
    agents = ("random", "idm") + ((f"sb3:{cloned.resolve()}",) if cloned.is_file() else ())
    opts = ClosedLoopOptions(
        agents=(*agents, f"sb3:{policy.resolve()}"),
        scenarios=args.eval_scenarios,
        runs=args.eval_runs,
        out=out / "eval",
        render="none" if cfg.observation == "bev" else "skeleton",
        workers=args.eval_workers,
        progress=sys.stderr.isatty(),
    )
    report = evaluate_closed_loop(opts)
    res = report.payload["results"]
    for label in res:
        print(f"{label:>20}: PDMS {res[label]['overall']['pdms']['mean']:.3f}")
    return report.out / "report.md"


def parse_args(argv: list[str] | None) -> tuple[TrainConfig, argparse.Namespace]:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--observation", choices=sorted(OBSERVATIONS), default=d.observation)
    p.add_argument(
        "--scenarios", nargs="+", default=list(d.scenarios), help="scenario names / files, or library"
    )
    p.add_argument(
        "--logs", nargs="+", default=None, help="train on these logs instead (builtin or nuScenes dataroots)"
    )
    p.add_argument("--steps", type=int, default=d.steps, help="total environment steps")
    p.add_argument("--envs", type=int, default=d.envs, help="SubprocVecEnv workers")
    p.add_argument("--n-steps", type=int, default=d.n_steps, help="rollout steps per environment")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--n-epochs", type=int, default=d.n_epochs)
    p.add_argument("--learning-rate", type=float, default=d.learning_rate)
    p.add_argument("--episode-seconds", type=float, default=d.episode_seconds)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--reward", nargs="+", default=None, metavar="TERM=W",
        help="training reward weights (default: TRAINING_REWARD; 'default': the simulator's own)",
    )  # fmt: skip
    p.add_argument("--vec-env", choices=("subproc", "ray"), default=d.vec_env, help="where the envs run")
    p.add_argument("--ray-address", default=None, help="Ray cluster for --vec-env ray (default: local)")
    p.add_argument(
        "--warm-start", default=None, metavar="PLANNER",
        help="clone this planner (idm) before PPO: behaviour cloning on recorded demonstrations",
    )  # fmt: skip
    p.add_argument("--demo-steps", type=int, default=d.demo_steps, help="warm start: steps recorded")
    p.add_argument("--demo-noise", type=float, default=d.demo_noise, help="warm start: executed-action noise")
    p.add_argument("--bc-epochs", type=int, default=d.bc_epochs, help="warm start: cloning epochs")
    p.add_argument("--bc-log-std", type=float, default=d.bc_log_std, help="warm start: log std after cloning")
    p.add_argument("--eval-runs", type=int, default=5, help="held-out runs per scenario (0: no evaluation)")
    p.add_argument("--eval-scenarios", type=Path, default=None, help="scenario folder (default: the library)")
    p.add_argument("--eval-workers", type=int, default=None, help="evaluation processes")
    a = p.parse_args(argv)
    cfg = TrainConfig(
        observation=a.observation,
        scenarios=() if a.logs else tuple(a.scenarios),
        logs=tuple(a.logs or ()),
        steps=a.steps,
        envs=a.envs,
        n_steps=a.n_steps,
        batch_size=a.batch_size,
        n_epochs=a.n_epochs,
        learning_rate=a.learning_rate,
        episode_seconds=a.episode_seconds,
        checkpoint_every=a.checkpoint_every,
        reward_weights=_parse_reward(a.reward),
        seed=a.seed,
        vec_env=a.vec_env,
        ray_address=a.ray_address,
        warm_start=a.warm_start,
        demo_steps=a.demo_steps,
        demo_noise=a.demo_noise,
        bc_epochs=a.bc_epochs,
        bc_log_std=a.bc_log_std,
    )
    return cfg, a


def _parse_reward(items: list[str] | None) -> tuple[tuple[str, float], ...]:
    from jwmsim.config import DEFAULT_REWARD_WEIGHTS
    from jwmsim.errors import ConfigError

    if items is None:
        return TRAINING_REWARD
    if items == ["default"]:
        return tuple(DEFAULT_REWARD_WEIGHTS.items())
    out = []
    for item in items:
        name, _, value = item.partition("=")
        try:
            out.append((name, float(value)))
        except ValueError:
            raise ConfigError(f"--reward {item!r}", hint="TERM=WEIGHT, e.g. progress=0.2") from None
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    from jwmsim.errors import JwmsimError

    try:
        cfg, args = parse_args(argv)
        policy = train(cfg, args.out, args.resume)
        if args.eval_runs > 0:
            print(f"evaluation: {evaluate(policy, cfg, args.out, args)}")
    except JwmsimError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  hint: {err.hint}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
