"""Thread budgets of vector workers (:mod:`jwmsim.threads`, :mod:`jwmsim.backends.vector`): an
environment made in a worker ends up with its share of the cores, in numba, PyTorch and numpy's
BLAS; a
process that steps alone keeps its settings; ``threads=`` overrides. Thread counts, not speed."""

from __future__ import annotations

import functools
import multiprocessing
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import jwmsim.envs  # noqa: F401  (registers JWM-Drive-v0)
from jwmsim import threads
from jwmsim.errors import ConfigError


def _factory(log: Path, **kw: object) -> functools.partial:
    return functools.partial(
        gym.make, "jwmsim:JWM-Drive-v0", log=str(log), observation="none", episode_seconds=1.0, **kw
    )


@pytest.fixture
def fresh_process_budget(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    threads.set_process_threads(None)
    yield monkeypatch
    threads.set_process_threads(None)


def test_auto_rules(fresh_process_budget: pytest.MonkeyPatch) -> None:
    mp = fresh_process_budget
    mp.setattr(threads, "available_cores", lambda: 8)
    assert threads.resolve_threads("auto") is None  # a process stepping alone keeps the machine
    assert threads.resolve_threads(None) is None
    assert threads.resolve_threads(3) == threads.ThreadBudget(3, 8, "explicit")
    mp.setattr(multiprocessing, "parent_process", lambda: object())  # as in a spawned worker
    assert threads.resolve_threads("auto") == threads.ThreadBudget(4, 8, "child process: 8 cores // 2")
    mp.setenv(threads.ENV_THREADS, "2")
    assert threads.resolve_threads("auto").threads == 2
    threads.set_process_threads(3)  # what the vector helpers do in each worker
    assert threads.resolve_threads("auto") == threads.ThreadBudget(3, 8, "set_process_threads")
    assert threads.share_of_cores(3, cores=8) == 2 and threads.share_of_cores(16, cores=8) == 1


@pytest.mark.parametrize("bad", [0, -1, True, "two", 1.5])
def test_bad_settings_are_config_errors(bad: object, fresh_process_budget: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError):
        threads.resolve_threads(bad)  # type: ignore[arg-type]
    from jwmsim.envs.drive_config import DriveEnvConfig

    with pytest.raises(ConfigError, match="DriveEnvConfig.threads"):
        DriveEnvConfig(threads=bad)  # type: ignore[arg-type]
    fresh_process_budget.setenv(threads.ENV_THREADS, "none")
    with pytest.raises(ConfigError, match=threads.ENV_THREADS):
        threads.resolve_threads("auto")


def test_an_env_stepping_alone_keeps_the_machine(tiny_log: Path, fresh_process_budget) -> None:
    import numba
    import torch

    before = (numba.get_num_threads(), torch.get_num_threads())
    env = _factory(tiny_log)()
    env.reset(seed=0)
    env.step(np.zeros(2, np.float32))
    report = env.unwrapped.thread_report()
    env.close()
    assert report["budget"] is None and not report["child_process"]
    assert (numba.get_num_threads(), torch.get_num_threads()) == before


def test_a_budget_limits_numpys_blas_too(tiny_log: Path, fresh_process_budget) -> None:
    """OpenBLAS spins its threads while they wait: a one-thread environment that left it at the
    machine's size used 1.8 cores. ``thread_settings_kept`` gives the pool back."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        with threads.thread_settings_kept():
            assert threads.blas_threads() == 2
            env = _factory(tiny_log, threads=1)()
            report = env.unwrapped.thread_report()
            env.close()
            assert report["blas_threads"] == 1 and report["budget"]["threads"] == 1
        assert threads.blas_threads() == 2


def _budgets(reports: list[dict]) -> list[tuple[int, int, int, str]]:
    return [
        (r["numba_threads"], r["torch_threads"], r["budget"]["threads"], r["budget"]["reason"])
        for r in reports
    ]


@pytest.mark.slow
def test_gymnasium_async_workers_take_their_share(tiny_log: Path) -> None:
    from jwmsim.backends.vector import make_vector_env

    cores = threads.available_cores()
    half = max(1, cores // 2)
    # plain AsyncVectorEnv: the environment sees it runs in a child process
    venv = gym.vector.AsyncVectorEnv([_factory(tiny_log)] * 2, context="spawn")
    try:
        venv.reset(seed=0)
        venv.step(np.zeros((2, 2), np.float32))
        reports = list(venv.call("thread_report"))
    finally:
        venv.close()
    assert all(r["child_process"] and r["cores"] == cores for r in reports)
    assert _budgets(reports) == [(half, half, half, f"child process: {cores} cores // 2")] * 2
    # jwmsim's helper: cores // workers for any number of workers; an explicit threads= wins
    import numba
    import torch

    parent = (numba.get_num_threads(), torch.get_num_threads(), threads.applied_budget())
    fns = [_factory(tiny_log), _factory(tiny_log), _factory(tiny_log, threads=2)]
    venv = make_vector_env(fns, "async")  # AsyncVectorEnv makes one environment here, for its spaces
    try:
        venv.reset(seed=0)
        reports = list(venv.call("thread_report"))
    finally:
        venv.close()
    assert (numba.get_num_threads(), torch.get_num_threads(), threads.applied_budget()) == parent
    assert threads.resolve_threads("auto") is None  # the parent still steps with the whole machine
    share = max(1, cores // 3)
    explicit = min(2, reports[2]["cores"])  # numba cannot run more threads than it launched
    assert _budgets(reports) == [
        (share, share, share, "set_process_threads"),
        (share, share, share, "set_process_threads"),
        (explicit, 2, 2, "explicit"),
    ]


@pytest.mark.slow
def test_sb3_subproc_workers_take_their_share(tiny_log: Path) -> None:
    from jwmsim.backends.vector import make_vector_env

    venv = make_vector_env([_factory(tiny_log)] * 2, "subproc", threads=1)
    try:
        venv.reset()
        venv.step(np.zeros((2, 2), np.float32))
        reports = venv.env_method("thread_report")
    finally:
        venv.close()
    assert _budgets(reports) == [(1, 1, 1, "set_process_threads")] * 2
    assert all(r["torch_interop_threads"] == 1 for r in reports)  # set before its pool started
    assert all(r["blas_threads"] == 1 for r in reports)


def _make_for_ray(log: str):
    return gym.make("jwmsim:JWM-Drive-v0", log=log, observation="none", episode_seconds=1.0)


@pytest.mark.slow
def test_ray_actors_take_one_thread(tiny_log: Path, local_ray) -> None:
    from jwmsim.backends.vector import make_vector_env

    local_ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    venv = make_vector_env([functools.partial(_make_for_ray, str(tiny_log))] * 2, "ray")
    try:
        venv.reset()
        reports = venv.env_method("thread_report")
    finally:
        venv.close()
    assert _budgets(reports) == [(1, 1, 1, "set_process_threads")] * 2
