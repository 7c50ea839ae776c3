"""Thread budgets: how many threads the numba rasterizer, PyTorch and numpy's BLAS may use in this
process.

numba, PyTorch and the BLAS library numpy loads (OpenBLAS) each size their thread pools for the
whole machine. That is right for a process
that steps one environment alone, and wrong for each of N vector workers (Gymnasium's
``AsyncVectorEnv``, stable-baselines3's ``SubprocVecEnv``, Ray actors): N workers then run N x
cores busy threads on the machine's cores, and numba's parallel kernels, which wait at a barrier for
their slowest thread, lose most of the parallelism they have (2 workers on 2 cores stepped 1.24x
as fast as one environment; the measurements are in ``benchmarks/bench_env_steps.py``).

:func:`resolve_threads` turns ``DriveEnvConfig.threads`` into a :class:`ThreadBudget`:

* an ``int``: that many threads, wherever the environment is made;
* ``None``: leave numba's and PyTorch's settings as they are;
* ``"auto"`` (the default), first match wins:

  1. ``set_process_threads(n)`` was called in this process (jwmsim's vector helpers,
     :mod:`jwmsim.backends.vector`, call it in each worker before the environment is made): ``n``;
  2. the environment variable ``JWMSIM_THREADS`` (a positive integer): that many;
  3. a Ray worker (an actor or a task): the CPUs Ray assigned to it (at least 1);
  4. a child process (``multiprocessing.parent_process()`` is not None, which is how Gymnasium's
     ``AsyncVectorEnv`` and SB3's ``SubprocVecEnv`` run a factory): ``cores // 2`` (at least 1),
     since a vector has at least two workers; with more workers than two on a many-core machine,
     use the helpers or pass ``threads``;
  5. otherwise (a process stepping alone): no budget, the process keeps the whole machine.

``cores`` is the number of CPUs this process may run on (``os.sched_getaffinity``, so ``taskset``
and CPU sets count), not the machine's. :func:`apply_thread_budget` sets numba's threads (for the
calling thread: numba's setting is per thread, see :func:`ensure_numba_threads`), PyTorch's
intra-op threads, when PyTorch has not started its inter-op pool yet its inter-op threads, and the
threads of every BLAS library loaded (``threadpoolctl``). The BLAS pool matters on its own: OpenBLAS
threads spin while they wait for work, so an environment given one thread that left numpy's BLAS at
the machine's size used 1.8 cores for a 5 % faster ``jwm`` step (measured in
``benchmarks/bench_env_steps.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jwmsim.errors import ConfigError

ENV_THREADS = "JWMSIM_THREADS"
AUTO = "auto"

_PROCESS_THREADS: int | None = None  # set_process_threads(): the worker's share, set by a helper
_APPLIED: ThreadBudget | None = None  # the last budget applied in this process


@dataclass(frozen=True)
class ThreadBudget:
    """The threads one process may use.

    Attributes:
        threads: numba threads and PyTorch intra-op threads (>= 1).
        cores: CPUs this process may run on.
        reason: where the number comes from (``"explicit"``, ``"set_process_threads"``,
            ``"JWMSIM_THREADS"``, ``"ray worker: 1 CPU"``, ``"child process: 2 cores // 2"``).
    """

    threads: int
    cores: int
    reason: str


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def share_of_cores(workers: int, cores: int | None = None) -> int:
    """Threads for each of ``workers`` processes sharing ``cores`` CPUs (default: this process's):
    ``cores // workers``, at least 1."""
    if workers < 1:
        raise ConfigError(f"share_of_cores: workers = {workers}", hint="at least one worker")
    return max(1, (cores or available_cores()) // workers)


def set_process_threads(threads: int | None) -> None:
    """The thread budget that ``threads="auto"`` gives environments made later in this process
    (None: forget it). jwmsim's vector helpers call it in each worker before the factory runs."""
    global _PROCESS_THREADS
    _PROCESS_THREADS = None if threads is None else _check_count(threads, "set_process_threads")


def _check_count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{where} = {value!r} is not a thread count",
            hint=f"a positive integer, {AUTO!r} (share of the cores in a vector worker) or None",
        )
    return value


def check_threads_setting(value: object, where: str = "DriveEnvConfig.threads") -> None:
    """Refuse a ``threads`` setting that is neither a positive int, ``"auto"`` nor None."""
    if value is None or value == AUTO:
        return
    _check_count(value, where)


def _env_threads() -> int | None:
    raw = os.environ.get(ENV_THREADS, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(
            f"environment variable {ENV_THREADS}={raw!r} is not a thread count",
            hint="a positive integer, or unset it",
        )
    return n


def ray_worker_cpus() -> float | None:
    """CPUs Ray assigned to this process when it is a Ray worker (actor or task), else None. Ray is
    not imported here: only a process that has imported it can be one of its workers."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        ctx = ray.get_runtime_context()
        if ctx.worker.mode != ray.WORKER_MODE:  # the driver is not a worker
            return None
        return float(ctx.get_assigned_resources().get("CPU", 0.0))
    except Exception:  # an older or newer Ray without these attributes: not known
        return None


def resolve_threads(setting: int | str | None) -> ThreadBudget | None:
    """The budget of ``setting`` in this process (see the module docstring); None: no change."""
    check_threads_setting(setting)
    cores = available_cores()
    if setting is None:
        return None
    if setting != AUTO:
        return ThreadBudget(int(setting), cores, "explicit")
    if _PROCESS_THREADS is not None:
        return ThreadBudget(_PROCESS_THREADS, cores, "set_process_threads")
    env = _env_threads()
    if env is not None:
        return ThreadBudget(env, cores, ENV_THREADS)
    ray_cpus = ray_worker_cpus()
    if ray_cpus is not None:
        n = max(1, int(ray_cpus))
        return ThreadBudget(n, cores, f"ray worker: {ray_cpus:g} CPU")
    if multiprocessing.parent_process() is not None:
        return ThreadBudget(max(1, cores // 2), cores, f"child process: {cores} cores // 2")
    return None


def ensure_numba_threads(threads: int) -> None:
    """numba's threads for the *calling* thread (numba keeps the setting per thread), capped by the
    pool numba launched (``NUMBA_NUM_THREADS``); cheap when it is already set."""
    import numba

    n = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


def blas_threads() -> int | None:
    """The threads of the BLAS libraries loaded in this process (the largest; None: none loaded)."""
    from threadpoolctl import threadpool_info

    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else None


def set_blas_threads(threads: int) -> None:
    """Limit every BLAS library loaded in this process to ``threads`` (for good, not a block)."""
    from threadpoolctl import threadpool_limits

    if blas_threads() not in (None, threads):
        threadpool_limits(limits=threads, user_api="blas")


def apply_thread_budget(budget: ThreadBudget | None) -> dict[str, Any]:
    """Set numba's threads (this thread), PyTorch's intra-op threads, where PyTorch has not
    started its inter-op pool its inter-op threads, and numpy's BLAS threads to ``budget.threads``;
    None: change nothing. Returns :func:`thread_report` afterwards, with the budget."""
    global _APPLIED
    if budget is not None:
        import torch

        ensure_numba_threads(budget.threads)
        set_blas_threads(budget.threads)
        if torch.get_num_threads() != budget.threads:
            torch.set_num_threads(budget.threads)
        if torch.get_num_interop_threads() != budget.threads:
            try:
                torch.set_num_interop_threads(budget.threads)
            except RuntimeError:  # its pool already runs (or was set): it can no longer change
                pass
        _APPLIED = budget
    return {**thread_report(), "budget": None if budget is None else budget.__dict__.copy()}


def applied_budget() -> ThreadBudget | None:
    """The last budget :func:`apply_thread_budget` set in this process (None: none)."""
    return _APPLIED


def cap_torch_threads(threads: int | None) -> int | None:
    """``threads`` capped by this process's applied budget (for code that sets PyTorch's threads
    itself, such as a generator); None stays None."""
    if threads is None or _APPLIED is None:
        return threads
    return min(threads, _APPLIED.threads)


@contextmanager
def thread_settings_kept() -> Iterator[None]:
    """Restore numba's threads (this thread), PyTorch's intra-op threads, the BLAS threads and the
    applied budget on leaving the block (an environment made inside with ``threads=`` changes them
    for the whole process; PyTorch's inter-op threads cannot be changed back)."""
    import numba
    import torch

    global _APPLIED
    numba_before, torch_before, applied_before = numba.get_num_threads(), torch.get_num_threads(), _APPLIED
    blas_before = blas_threads()
    try:
        yield
    finally:
        numba.set_num_threads(numba_before)
        torch.set_num_threads(torch_before)
        if blas_before is not None:
            set_blas_threads(blas_before)
        _APPLIED = applied_before


def thread_report() -> dict[str, Any]:
    """This process's thread settings: numba (this thread), PyTorch intra-op and inter-op, the
    operating-system threads of the process (Linux) and the CPUs it may use."""
    import numba
    import torch

    task = "/proc/self/task"
    return {
        "numba_threads": numba.get_num_threads(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "blas_threads": blas_threads(),
        "os_threads": len(os.listdir(task)) if os.path.isdir(task) else None,
        "cores": available_cores(),
        "pid": os.getpid(),
        "child_process": multiprocessing.parent_process() is not None,
    }
