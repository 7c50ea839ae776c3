"""Behaviour cloning of a rule-based planner into a stable-baselines3 policy (a PPO warm start).

PPO from scratch on ``JWM-Drive-v0`` finds the local optimum of standing still (a car that never
moves never collides). Starting it from a policy that already drives, as most driving-RL work does
(imitation first, then RL fine-tuning), removes that trap:

1. :func:`collect_demos` drives the expert (``idm`` by default) in ``JWM-Drive-v0`` environments
   made exactly as PPO's are, and records each observation with the expert's action. With
   ``noise_std`` the *executed* action is perturbed (DART, Laskey et al. 2017) while the label
   stays the expert's, so the demonstrations also show how to recover from small errors.
   Episodes run in a :mod:`jwmsim.backends` backend (processes here, or Ray).
2. :func:`clone_into` fits the policy's action mean to the expert's actions (mean-squared error,
   all actor weights), then its value head to the demonstrations' discounted returns of the
   training reward (features frozen), so that PPO's first updates start from a sensible critic.

The demonstrations are saved as one ``.npz`` (written atomically) and reused when present.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jwmsim.errors import ConfigError
from jwmsim.progress import progress_bar


@dataclass(frozen=True)
class DemoTask:
    """One worker's share of the demonstrations.

    Attributes:
        env_kwargs: ``gym.make("JWM-Drive-v0", **env_kwargs)``.
        steps: environment steps to record (whole episodes; the last may be cut short).
        seed: of the environment's resets and of the action noise.
        expert: planner spec of the expert (``idm``).
        noise_std: std of the Gaussian noise added to the executed (normalised) action.
        gamma: discount of the recorded returns.
    """

    env_kwargs: Mapping[str, Any]
    steps: int
    seed: int
    expert: str = "idm"
    noise_std: float = 0.1
    gamma: float = 0.99


@dataclass(frozen=True)
class Demos:
    """Recorded demonstrations; N samples.

    Attributes:
        obs: observation arrays by key, each ``[N, ...]`` as the environment returns them.
        actions: ``[N, A]`` the expert's normalised actions (the labels).
        returns: ``[N]`` discounted return of the training reward from each step on.
        episodes: number of episodes (finished or cut at the end of a task).
    """

    obs: dict[str, np.ndarray]
    actions: np.ndarray
    returns: np.ndarray
    episodes: int

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def save(self, path: Path) -> None:
        """One ``.npz`` (``obs/<key>``, ``actions``, ``returns``, ``episodes``), written atomically."""
        path = Path(path)
        tmp = path.with_name(path.stem + ".tmp.npz")
        arrays = {f"obs/{k}": v for k, v in self.obs.items()}
        np.savez(tmp, actions=self.actions, returns=self.returns, episodes=np.int64(self.episodes), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Demos:
        """Read :meth:`save`'s file; a corrupt or foreign file is a :class:`ConfigError`."""
        try:
            with np.load(path) as z:
                obs = {k[4:]: z[k] for k in z.files if k.startswith("obs/")}
                demos = cls(obs, z["actions"], z["returns"], int(z["episodes"]))
        except Exception as err:  # zipfile / KeyError / ValueError for a damaged file
            raise ConfigError(
                f"cannot read demonstrations {path}: {type(err).__name__}: {err}",
                hint="delete the file to record the demonstrations again",
            ) from err
        if any(len(v) != len(demos) for v in obs.values()) or len(demos.returns) != len(demos):
            raise ConfigError(f"demonstrations {path} have arrays of different lengths", hint="delete it")
        return demos


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``[T]`` returns ``G_t = r_t + gamma G_{t+1}`` of one episode's ``[T]`` rewards."""
    out = np.zeros(len(rewards), np.float64)
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = float(rewards[t]) + gamma * acc
        out[t] = acc
    return out.astype(np.float32)


def record_task(task: DemoTask, ctx: Any = None) -> Demos:
    """Drive ``task.expert`` for ``task.steps`` steps and record it (a backend task function).

    ``ctx`` (a :class:`jwmsim.backends.base.TaskContext`) receives progress in steps and may ask
    to stop, which ends the recording early with what was recorded.
    """
    import gymnasium as gym
    import torch

    import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
    from jwmsim.planning import make_planner

    torch.set_num_threads(1)
    env = gym.make("JWM-Drive-v0", **dict(task.env_kwargs))
    expert = make_planner(task.expert)
    rng = np.random.default_rng(task.seed)
    obs_rows: dict[str, list[np.ndarray]] = {}
    actions: list[np.ndarray] = []
    returns: list[np.ndarray] = []
    episodes, done_steps, reported = 0, 0, 0
    try:
        obs, _ = env.reset(seed=task.seed)
        rewards: list[float] = []
        while done_steps < task.steps:
            label = expert.act(env.unwrapped.state, obs)
            for k, v in obs.items():
                obs_rows.setdefault(k, []).append(v)
            actions.append(label)
            executed = label
            if task.noise_std > 0:
                executed = np.clip(label + rng.normal(0.0, task.noise_std, label.shape), -1, 1)
            obs, reward, terminated, truncated, _ = env.step(executed.astype(np.float32))
            rewards.append(float(reward))
            done_steps += 1
            end = terminated or truncated or done_steps == task.steps
            if end:
                returns.append(discounted_returns(np.asarray(rewards), task.gamma))
                episodes += 1
                rewards = []
                if ctx is not None:
                    ctx.report(done_steps - reported)
                    reported = done_steps
                    if ctx.should_stop():
                        break
                if done_steps < task.steps:
                    obs, _ = env.reset()
    finally:
        env.close()
    n = sum(len(r) for r in returns)
    return Demos(
        {k: np.stack(v[:n]) for k, v in obs_rows.items()},
        np.stack(actions[:n]).astype(np.float32),
        np.concatenate(returns) if returns else np.zeros(0, np.float32),
        episodes,
    )


def merge(parts: Sequence[Demos]) -> Demos:
    """Concatenate demonstrations (same observation keys)."""
    keys = parts[0].obs.keys()
    return Demos(
        {k: np.concatenate([p.obs[k] for p in parts]) for k in keys},
        np.concatenate([p.actions for p in parts]),
        np.concatenate([p.returns for p in parts]),
        sum(p.episodes for p in parts),
    )


def collect_demos(
    tasks: Sequence[DemoTask], backend: str = "local", workers: int | None = None, progress: bool = True
) -> Demos:
    """Run :func:`record_task` over ``tasks`` on a backend (``local`` processes or ``ray``), with a
    tqdm bar in steps; returns the merged demonstrations in task order."""

    from jwmsim.backends import make_backend
    from jwmsim.backends.base import BackendOptions

    bar = progress_bar(
        total=sum(t.steps for t in tasks), desc="demonstrations", unit="step", disable=not progress
    )

    def report(index: int, steps: int) -> None:
        bar.update(steps)

    results: dict[int, Demos] = {}
    try:
        with make_backend(backend, BackendOptions(workers=workers)) as runner:
            for index, demos in runner.map(record_task, list(tasks), progress=report):
                results[index] = demos
    finally:
        bar.close()
    return merge([results[i] for i in sorted(results)])


@dataclass(frozen=True)
class CloneSettings:
    """Behaviour-cloning optimisation.

    Attributes:
        epochs: passes over the demonstrations for the actor; value_epochs: for the value head.
        batch_size: samples per update; lr: Adam's learning rate.
        log_std: the policy's log standard deviation after cloning (PPO's exploration noise;
            None keeps the policy's own).
        holdout: fraction of the demonstrations kept out of training to report a validation error.
        seed: of the shuffling.
    """

    epochs: int = 8
    value_epochs: int = 4
    batch_size: int = 256
    lr: float = 1e-3
    log_std: float | None = -1.2
    holdout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.value_epochs < 0 or self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("behaviour cloning: epochs >= 1, value_epochs >= 0, batch_size >= 1, lr > 0")
        if not 0 <= self.holdout < 1:
            raise ConfigError(f"behaviour cloning: holdout must be in [0, 1), got {self.holdout}")


def _policy_obs(policy: Any, obs: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, Any]:
    """The rows ``index`` of ``obs`` as the policy's float tensors; images turned channel-first
    where SB3 transposed the observation space (``VecTransposeImage``)."""
    import torch

    out = {}
    for key, space in policy.observation_space.spaces.items():
        arr = obs[key][index]
        if (
            arr.ndim == 4
            and arr.shape[1:] != space.shape
            and arr.shape[1:] == tuple(np.roll(space.shape, -1))
        ):
            arr = arr.transpose(0, 3, 1, 2)
        out[key] = torch.as_tensor(arr, dtype=torch.float32)
    return out


def clone_into(
    model: Any, demos: Demos, settings: CloneSettings = CloneSettings(), progress: bool = True
) -> dict:
    """Fit ``model.policy`` (an SB3 ``ActorCriticPolicy``) to ``demos`` in place.

    Returns:
        The history: ``actor`` / ``value`` lists of ``{"epoch", "train_mse", "val_mse"}`` (actions
        in normalised units; returns in reward units), and the sample counts.
    """
    import torch

    policy = model.policy
    n = len(demos)
    if n < 2:
        raise ConfigError(f"behaviour cloning needs demonstrations, got {n} samples")
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(n)
    n_val = int(round(n * settings.holdout))
    val, train = order[:n_val], order[n_val:]
    actions = torch.as_tensor(demos.actions)
    returns = torch.as_tensor(demos.returns)

    def actor_error(idx: np.ndarray) -> torch.Tensor:
        mean = policy.get_distribution(_policy_obs(policy, demos.obs, idx)).distribution.mean
        return torch.mean((mean - actions[idx]) ** 2)

    def value_error(idx: np.ndarray) -> torch.Tensor:
        values = policy.predict_values(_policy_obs(policy, demos.obs, idx)).squeeze(-1)
        return torch.mean((values - returns[idx]) ** 2)

    def evaluate(fn: Any, idx: np.ndarray) -> float:
        if len(idx) == 0:
            return float("nan")
        with torch.no_grad():
            errs = [float(fn(b)) * len(b) for b in np.array_split(idx, max(1, len(idx) // 1024))]
        return sum(errs) / len(idx)

    actor_params = [p for name, p in policy.named_parameters() if "value" not in name and name != "log_std"]
    value_params = [*policy.mlp_extractor.value_net.parameters(), *policy.value_net.parameters()]
    phases = [("actor", actor_error, actor_params, settings.epochs)]
    if settings.value_epochs:
        phases.append(("value", value_error, value_params, settings.value_epochs))
    history: dict[str, Any] = {"samples": n, "train": len(train), "validation": len(val)}
    policy.set_training_mode(True)
    for phase, fn, params, epochs in phases:
        optimiser = torch.optim.Adam(params, lr=settings.lr)
        rows = []
        batches = max(1, len(train) // settings.batch_size)
        bar = progress_bar(
            total=epochs * batches, desc=f"cloning ({phase})", unit="batch", disable=not progress
        )
        for epoch in range(epochs):
            total = 0.0
            for batch in np.array_split(rng.permutation(train), batches):
                loss = fn(batch)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                total += float(loss.detach()) * len(batch)
                bar.update(1)
            rows.append({"epoch": epoch + 1, "train_mse": total / len(train), "val_mse": evaluate(fn, val)})
            bar.set_postfix(train=f"{rows[-1]['train_mse']:.4f}", val=f"{rows[-1]['val_mse']:.4f}")
        bar.close()
        history[phase] = rows
    policy.set_training_mode(False)
    if settings.log_std is not None and hasattr(policy, "log_std"):
        with torch.no_grad():
            policy.log_std.fill_(settings.log_std)
    return history
