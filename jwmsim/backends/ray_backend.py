"""The ``ray`` backend: tasks as Ray remote tasks, on a cluster (``ray.init(address=...)``) or on a
local Ray instance started here.

Each task takes one CPU of the cluster (``num_cpus=1``; numba, PyTorch and BLAS on one thread) and is not
retried (``max_retries=0``): a task that raises, or whose worker dies, is reported as
:class:`~jwmsim.backends.base.TaskFailed`. A small control actor carries the stop request (set on
Ctrl-C; tasks poll it at most every :data:`STOP_POLL_SECONDS`) and the progress reports. At most
``workers`` tasks (default: the cluster's CPUs) are in flight, so that stopping starts nothing new.

Every node needs the same Python, jwmsim (and its pinned dependencies) and ray installed, and can
read the scenario files and logs at the same paths (see the notes on cluster set-up).
"""

from __future__ import annotations

import functools
import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from jwmsim.backends.base import Backend, BackendOptions, ProgressFn, R, T, TaskContext, TaskFailed
from jwmsim.backends.local import Raised
from jwmsim.errors import ConfigError

POLL_SECONDS = 0.25  # [s] between checks of the running tasks and the progress reports
STOP_POLL_SECONDS = 0.5  # [s] between a task's looks at the stop request


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--backend ray needs the 'ray' package, which is not installed",
            hint="JWMSIM_EXTRAS=dev,ray bash install.sh (or pip install 'ray==2.60.0'), "
            "or use --backend local",
        ) from None
    return ray


@functools.lru_cache(maxsize=1)
def _remote_parts() -> tuple[Any, Any]:
    """The control actor class and the remote task wrapper (built once, when ray is first used)."""
    ray = _import_ray()

    @ray.remote(num_cpus=0)
    class Control:
        def __init__(self) -> None:
            self.stopped = False
            self.reports: list[tuple[int, int]] = []

        def stop(self) -> None:
            self.stopped = True

        def is_stopped(self) -> bool:
            return self.stopped

        def report(self, index: int, steps: int) -> None:
            if steps:  # 0: a task's flush at its end (see run_task)
                self.reports.append((index, steps))

        def take_reports(self) -> list[tuple[int, int]]:
            out, self.reports = self.reports, []
            return out

    @ray.remote(num_cpus=1, max_retries=0)
    def run_task(fn: Callable[[Any, TaskContext], Any], task: Any, index: int, control: Any) -> Any:
        _prepare_once()
        try:
            result = fn(task, _RayContext(index, control))
        except Exception as err:
            result = Raised(f"{type(err).__name__}: {err}", traceback.format_exc())
        # calls from one caller reach an actor in order: waiting on a last (empty) report makes every
        # report of this task arrive before its result does, so the caller's last drain sees them
        ray.get(control.report.remote(index, 0))
        return result

    return Control, run_task


_PREPARED: list[bool] = []


def _prepare_once() -> None:
    if not _PREPARED:
        from jwmsim.backends.worker_setup import prepare_worker

        prepare_worker(1)
        _PREPARED.append(True)


class _RayContext:
    def __init__(self, index: int, control: Any) -> None:
        self.index, self.control = index, control
        self._stopped, self._checked = False, 0.0

    def report(self, steps: int) -> None:
        self.control.report.remote(self.index, steps)  # fire and forget

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._stopped and now - self._checked >= STOP_POLL_SECONDS:
            import ray

            self._stopped = bool(ray.get(self.control.is_stopped.remote()))
            self._checked = now
        return self._stopped


class RayBackend(Backend):
    """Ray remote tasks; ``options.ray_address`` None starts a local instance on this machine's
    cores (``workers`` CPUs when given)."""

    name = "ray"
    description = "Ray remote tasks on --ray-address, or on a local Ray instance"

    def __init__(self, options: BackendOptions) -> None:
        super().__init__(options)
        _import_ray()
        self._started_here = False

    def connect(self) -> Any:
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        address = self.options.ray_address
        try:
            if address is None:
                ray.init(
                    num_cpus=self.options.workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=address, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ConfigError(
                f"could not connect to the Ray cluster at {address!r}: {type(err).__name__}: {err}"
                if address
                else f"could not start a local Ray instance: {type(err).__name__}: {err}",
                hint="start the head with `ray start --head` and pass its address (e.g. ray://HOST:10001 "
                "or HOST:6379), or leave --ray-address out for a local instance",
            ) from err
        self._started_here = True
        return ray

    def parallelism(self, n_tasks: int) -> int:
        ray = self.connect()
        workers = self.options.workers or int(ray.cluster_resources().get("CPU", 1))
        return max(1, min(workers, n_tasks))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "ray_address": self.options.ray_address or "local instance"}

    def close(self) -> None:
        """Shut Ray down if this backend started it."""
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False

    def map(
        self,
        fn: Callable[[T, TaskContext], R],
        tasks: Sequence[T],
        *,
        progress: ProgressFn | None = None,
        stop_when: Callable[[R], bool] | None = None,
    ) -> Iterator[tuple[int, R]]:
        if not tasks:
            return
        ray = self.connect()
        control_cls, run_task = _remote_parts()
        workers = self.parallelism(len(tasks))
        control = control_cls.remote()
        pending: dict[Any, int] = {}
        next_index, interrupted, halted = 0, False, False
        failure: TaskFailed | None = None
        try:
            while True:
                while (
                    not (interrupted or halted or failure)
                    and next_index < len(tasks)
                    and len(pending) < workers
                ):
                    ref = run_task.remote(fn, tasks[next_index], next_index, control)
                    pending[ref] = next_index
                    next_index += 1
                if not pending:
                    break
                try:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
                    self._forward(ray, control, progress)
                except KeyboardInterrupt:
                    interrupted = True
                    control.stop.remote()
                    continue
                for ref in done:
                    index = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as err:  # the worker died, or the task was lost
                        if not interrupted and failure is None:
                            failure = TaskFailed(index, f"{type(err).__name__}: {err}", None, self.name)
                        continue
                    if isinstance(result, Raised):
                        failure = failure or TaskFailed(index, result.error, result.traceback, self.name)
                        continue
                    if stop_when is not None and stop_when(result):
                        halted = True
                    yield index, result
            self._forward(ray, control, progress)
        finally:
            if pending:  # the caller stopped consuming: ask the running tasks to end now
                control.stop.remote()
                ray.wait(list(pending), num_returns=len(pending), timeout=60)
            ray.kill(control)
        if failure is not None:
            raise failure
        if interrupted:
            raise KeyboardInterrupt

    @staticmethod
    def _forward(ray: Any, control: Any, progress: ProgressFn | None) -> None:
        reports = ray.get(control.take_reports.remote())
        if progress is not None:
            for index, steps in reports:
                progress(index, steps)
