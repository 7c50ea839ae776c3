"""Vector environments with a thread budget per worker: Gymnasium's ``AsyncVectorEnv``, SB3's
``SubprocVecEnv`` and :class:`~jwmsim.backends.ray_vec_env.RayVecEnv` made from environment
factories, each worker's environments limited to its share of the cores.

Every worker process starts numba's and PyTorch's thread pools sized for the whole machine; N
workers on C cores then run N x C busy threads (see :mod:`jwmsim.threads`).
``JWM-Drive-v0`` made in a child process already takes ``cores // 2`` threads by default
(``DriveEnvConfig.threads="auto"``); these helpers make the share exact for any number of
workers, ``cores // workers`` (at least 1), by calling
:func:`jwmsim.threads.set_process_threads` in each worker before its factory runs::

    from jwmsim.backends.vector import make_vector_env

    fns = [functools.partial(gym.make, "jwmsim:JWM-Drive-v0", cameras=FRONT3) for _ in range(4)]
    venv = make_vector_env(fns, "async")      # gymnasium.vector.AsyncVectorEnv, spawned workers
    venv = make_vector_env(fns, "subproc")    # stable_baselines3 SubprocVecEnv, spawned workers
    venv = make_vector_env(fns, "ray")        # RayVecEnv: Ray actors, one CPU (one thread) each

Workers are spawned (numba's threads in a parent that has rendered do not survive a fork).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jwmsim.errors import ConfigError
from jwmsim.threads import available_cores, set_process_threads, share_of_cores

VECTOR_KINDS = ("async", "subproc", "ray")


@dataclass(frozen=True)
class WorkerFactory:
    """An environment factory that first sets its worker's thread budget (picklable when ``fn``
    is; the vector classes pickle factories with cloudpickle, so lambdas work too).

    Called in the process that made it (Gymnasium's ``AsyncVectorEnv`` makes one environment in
    the parent to read its spaces), it only calls ``fn``: the parent keeps its own settings.

    Attributes:
        fn: the environment factory.
        threads: the budget of the worker process it runs in (numba, PyTorch and BLAS threads).
        parent_pid: the process that made the factory.
    """

    fn: Callable[[], Any]
    threads: int
    parent_pid: int = field(default_factory=os.getpid)

    def __call__(self) -> Any:
        if os.getpid() != self.parent_pid:
            set_process_threads(self.threads)
        return self.fn()


def worker_factories(
    fns: Sequence[Callable[[], Any]], threads: int | None = None, cores: int | None = None
) -> list[WorkerFactory]:
    """``fns`` wrapped so that each worker has ``threads`` threads (None: ``cores // len(fns)``,
    at least 1; ``cores`` default: the CPUs this process may use)."""
    if not fns:
        raise ConfigError("a vector environment needs at least one environment factory")
    n = share_of_cores(len(fns), cores or available_cores()) if threads is None else threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(
            f"worker threads = {threads!r} is not a thread count", hint="a positive integer or None"
        )
    return [WorkerFactory(fn, n) for fn in fns]


def make_vector_env(
    fns: Sequence[Callable[[], Any]],
    kind: str = "async",
    *,
    threads: int | None = None,
    ray_address: str | None = None,
) -> Any:
    """A vector environment of ``fns`` with a thread budget per worker.

    Args:
        fns: environment factories, one per worker.
        kind: ``"async"`` (``gymnasium.vector.AsyncVectorEnv``, spawn), ``"subproc"``
            (``stable_baselines3.common.vec_env.SubprocVecEnv``, spawn) or ``"ray"``
            (:class:`~jwmsim.backends.ray_vec_env.RayVecEnv`: each actor takes one Ray CPU and one
            thread, wherever Ray places it; ``threads`` does not apply).
        threads: numba, PyTorch and BLAS threads of each local worker (None: ``cores // len(fns)``).
        ray_address: the Ray cluster for ``kind="ray"`` (None: a local Ray instance).

    Raises:
        ConfigError: an unknown ``kind``, no factories, a bad thread count.
    """
    if kind not in VECTOR_KINDS:
        raise ConfigError(
            f"unknown vector environment kind {kind!r}", hint=f"use one of {list(VECTOR_KINDS)}"
        )
    if kind == "ray":
        if threads is not None:
            raise ConfigError(
                "make_vector_env(kind='ray') takes no threads",
                hint="each Ray actor takes one CPU and uses one thread",
            )
        from jwmsim.backends.ray_vec_env import RayVecEnv

        if not fns:
            raise ConfigError("a vector environment needs at least one environment factory")
        return RayVecEnv(list(fns), ray_address=ray_address)
    wrapped = worker_factories(fns, threads)
    if kind == "async":
        import gymnasium as gym

        return gym.vector.AsyncVectorEnv(wrapped, context="spawn")
    from stable_baselines3.common.vec_env import SubprocVecEnv

    return SubprocVecEnv(wrapped, start_method="spawn")
