"""The ``local`` backend: tasks in this process (one worker) or in spawned worker processes.

Worker processes use the ``spawn`` method (numba's threads do not survive a fork), share the
machine's cores (numba threads = cores // workers, one PyTorch thread), ignore SIGINT and talk to
the caller through a stop :class:`multiprocessing.Event` and a progress queue. At most ``workers``
tasks are submitted at a time, so that stopping starts nothing new.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import queue as queue_mod
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from jwmsim.backends.base import Backend, ProgressFn, R, T, TaskContext, TaskFailed
from jwmsim.backends.worker_setup import prepare_worker

POLL_SECONDS = 0.25  # [s] between checks of the running tasks and the progress queue


@dataclass(frozen=True)
class Raised:
    """A task's exception, carried back as a value (its type may not unpickle in the caller)."""

    error: str
    traceback: str


class _HereContext:
    """In this process: progress goes straight to the caller; Ctrl-C reaches the task itself."""

    def __init__(self, index: int, progress: ProgressFn | None) -> None:
        self.index, self.progress = index, progress

    def report(self, steps: int) -> None:
        if self.progress is not None:
            self.progress(self.index, steps)

    def should_stop(self) -> bool:
        return False


class _QueueContext:
    """In a pool worker: the stop event and progress queue of the pool's initializer."""

    def __init__(self, index: int) -> None:
        self.index = index

    def report(self, steps: int) -> None:
        _WORKER["queue"].put((self.index, steps))

    def should_stop(self) -> bool:
        return bool(_WORKER["stop"].is_set())


_WORKER: dict[str, Any] = {}


def _init_pool_worker(threads: int, stop: Any, progress: Any) -> None:
    prepare_worker(threads)
    _WORKER.update(stop=stop, queue=progress)


def _call_in_pool(fn: Callable[[Any, TaskContext], Any], task: Any, index: int) -> Any:
    try:
        return fn(task, _QueueContext(index))
    except Exception as err:
        return Raised(f"{type(err).__name__}: {err}", traceback.format_exc())


class LocalBackend(Backend):
    """This machine: ``workers`` processes (None: one per core; 1: in this process)."""

    name = "local"
    description = "processes on this machine"

    def parallelism(self, n_tasks: int) -> int:
        workers = self.options.workers or (os.cpu_count() or 1)
        return max(1, min(workers, n_tasks))

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
        workers = self.parallelism(len(tasks))
        if workers == 1:
            yield from self._map_here(fn, tasks, progress, stop_when)
        else:
            yield from self._map_in_pool(fn, tasks, workers, progress, stop_when)

    def _map_here(
        self,
        fn: Callable[[T, TaskContext], R],
        tasks: Sequence[T],
        progress: ProgressFn | None,
        stop_when: Callable[[R], bool] | None,
    ) -> Iterator[tuple[int, R]]:
        for index, task in enumerate(tasks):
            try:
                result = fn(task, _HereContext(index, progress))
            except Exception as err:
                raise TaskFailed(
                    index, f"{type(err).__name__}: {err}", traceback.format_exc(), self.name
                ) from err
            yield index, result
            if stop_when is not None and stop_when(result):
                return

    def _map_in_pool(
        self,
        fn: Callable[[T, TaskContext], R],
        tasks: Sequence[T],
        workers: int,
        progress: ProgressFn | None,
        stop_when: Callable[[R], bool] | None,
    ) -> Iterator[tuple[int, R]]:
        ctx = mp.get_context("spawn")
        stop, reports = ctx.Event(), ctx.Queue()
        threads = max(1, (os.cpu_count() or 1) // workers)
        pool = cf.ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_pool_worker, initargs=(threads, stop, reports)
        )
        pending: dict[cf.Future, int] = {}
        next_index, interrupted, halted = 0, False, False
        failure: TaskFailed | None = None
        try:
            while True:
                while (
                    not (interrupted or halted or failure)
                    and next_index < len(tasks)
                    and len(pending) < workers
                ):
                    pending[pool.submit(_call_in_pool, fn, tasks[next_index], next_index)] = next_index
                    next_index += 1
                if not pending:
                    break
                try:
                    done, _ = cf.wait(pending, timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
                except KeyboardInterrupt:
                    interrupted = True
                    stop.set()
                    continue
                _drain(reports, progress)
                broken: list[int] = []
                for fut in sorted(done, key=pending.__getitem__):
                    index = pending.pop(fut)
                    try:
                        result = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken.append(index)
                        continue
                    if isinstance(result, Raised):
                        failure = failure or TaskFailed(index, result.error, result.traceback, self.name)
                        continue
                    if stop_when is not None and stop_when(result):
                        halted = True
                    yield index, result
                if broken and not interrupted and failure is None:
                    # a dead worker breaks the whole pool: every running task fails with it
                    failure = TaskFailed(
                        broken[0], f"a worker process died while tasks {broken} ran", None, self.name
                    )
        finally:
            if pending:  # the caller stopped consuming: ask the running tasks to end now
                stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            # a worker's last reports can still be in its queue's feeder thread when its result
            # arrives; the workers have exited now, so everything they put is in the pipe
            _drain(reports, progress)
        if failure is not None:
            raise failure
        if interrupted:
            raise KeyboardInterrupt


def _drain(reports: Any, progress: ProgressFn | None) -> None:
    while True:
        try:
            index, steps = reports.get_nowait()
        except (queue_mod.Empty, OSError, EOFError):
            return
        if progress is not None:
            progress(index, steps)
