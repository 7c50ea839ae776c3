"""``RayVecEnv``: a stable-baselines3 ``VecEnv`` whose environments live in Ray actors (one CPU
each), on a cluster or a local Ray instance: PPO's rollouts distributed with Ray.

It follows :class:`stable_baselines3.common.vec_env.SubprocVecEnv` step for step (auto-reset with
``terminal_observation`` and ``TimeLimit.truncated`` in ``info``, seeds and options used once per
``reset``), so the same environment factories, seeds and actions give the same observations,
rewards and episode ends as the local subprocess version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn
from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs

from jwmsim.backends.base import BackendOptions
from jwmsim.backends.ray_backend import RayBackend, _import_ray


@functools.lru_cache(maxsize=1)
def _actor_class() -> Any:
    ray = _import_ray()

    @ray.remote(num_cpus=1)
    class EnvActor:
        """One environment; the methods mirror SubprocVecEnv's worker commands."""

        def __init__(self, env_fn: Callable[[], gym.Env]) -> None:
            from stable_baselines3.common.vec_env.patch_gym import _patch_env

            from jwmsim.backends.worker_setup import prepare_worker

            prepare_worker(1)
            self.env = _patch_env(env_fn())

        def spaces(self) -> tuple[gym.Space, gym.Space]:
            return self.env.observation_space, self.env.action_space

        def step(self, action: np.ndarray) -> tuple[Any, float, bool, dict, dict]:
            observation, reward, terminated, truncated, info = self.env.step(action)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            reset_info: dict = {}
            if done:
                info["terminal_observation"] = observation
                observation, reset_info = self.env.reset()
            return observation, reward, done, info, reset_info

        def reset(self, seed: int | None, options: dict | None) -> tuple[Any, dict]:
            return self.env.reset(seed=seed, **({"options": options} if options else {}))

        def render(self) -> Any:
            return self.env.render()

        def call(self, name: str, args: tuple, kwargs: dict) -> Any:
            return self.env.get_wrapper_attr(name)(*args, **kwargs)

        def get_attr(self, name: str) -> Any:
            return self.env.get_wrapper_attr(name)

        def has_attr(self, name: str) -> bool:
            try:
                self.env.get_wrapper_attr(name)
            except AttributeError:
                return False
            return True

        def set_attr(self, name: str, value: Any) -> None:
            setattr(self.env, name, value)

        def is_wrapped(self, wrapper_class: type[gym.Wrapper]) -> bool:
            from stable_baselines3.common.env_util import is_wrapped

            return is_wrapped(self.env, wrapper_class)

        def close(self) -> None:
            self.env.close()

    return EnvActor


class RayVecEnv(VecEnv):
    """``SubprocVecEnv`` with Ray actors instead of local processes.

    Args:
        env_fns: environment factories (picklable; they run on the cluster's nodes).
        ray_address: cluster address (None: join a running local Ray instance or start one).
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], ray_address: str | None = None) -> None:
        self._backend = RayBackend(BackendOptions(workers=len(env_fns), ray_address=ray_address))
        self._ray = self._backend.connect()
        actor = _actor_class()
        self.actors = [actor.remote(fn) for fn in env_fns]
        self._pending: list[Any] | None = None
        self.closed = False
        observation_space, action_space = self._ray.get(self.actors[0].spaces.remote())
        super().__init__(len(env_fns), observation_space, action_space)

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [a.step.remote(act) for a, act in zip(self.actors, actions, strict=True)]

    def step_wait(self) -> VecEnvStepReturn:
        assert self._pending is not None, "step_wait() without step_async()"
        results, self._pending = self._ray.get(self._pending), None
        obs, rews, dones, infos, self.reset_infos = zip(*results, strict=True)  # type: ignore[assignment]
        return _stack_obs(obs, self.observation_space), np.stack(rews), np.stack(dones), infos  # type: ignore[return-value]

    def reset(self) -> VecEnvObs:
        refs = [a.reset.remote(self._seeds[i], self._options[i]) for i, a in enumerate(self.actors)]
        obs, self.reset_infos = zip(*self._ray.get(refs), strict=True)  # type: ignore[assignment]
        self._reset_seeds()
        self._reset_options()
        return _stack_obs(obs, self.observation_space)

    def close(self) -> None:
        if self.closed:
            return
        if self._pending is not None:
            self._ray.get(self._pending)
        self._ray.get([a.close.remote() for a in self.actors])
        for a in self.actors:
            self._ray.kill(a)
        self.closed = True
        self._backend.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return self._ray.get([a.render.remote() for a in self.actors])

    def has_attr(self, attr_name: str) -> bool:
        return all(self._ray.get([a.has_attr.remote(attr_name) for a in self.actors]))

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self._ray.get([self.actors[i].get_attr.remote(attr_name) for i in self._get_indices(indices)])

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self._ray.get([self.actors[i].set_attr.remote(attr_name, value) for i in self._get_indices(indices)])

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        refs = [
            self.actors[i].call.remote(method_name, method_args, method_kwargs)
            for i in self._get_indices(indices)
        ]
        return self._ray.get(refs)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return self._ray.get(
            [self.actors[i].is_wrapped.remote(wrapper_class) for i in self._get_indices(indices)]
        )
