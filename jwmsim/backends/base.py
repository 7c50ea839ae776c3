"""The execution-backend contract: run one picklable function over many tasks, in parallel.

A task function is a module-level function ``fn(task, ctx) -> result``; ``ctx`` is a
:class:`TaskContext` that the backend provides in whichever process runs the task:

* ``ctx.report(steps)`` sends a progress increment to the caller (its ``progress(index, steps)``);
* ``ctx.should_stop()`` turns True once the caller was interrupted (Ctrl-C): a long task then ends
  early and returns what it has (the replay records the run as ``interrupted``).

:meth:`Backend.map` yields ``(index, result)`` in completion order. Interruption: Ctrl-C in the
caller asks the running tasks to stop, starts no further task, yields the results of the running
ones as they come back and then raises :class:`KeyboardInterrupt`; results yielded before are the
caller's to keep. A task that raises (or whose worker dies) ends the map with :class:`TaskFailed`
(its index, error and traceback) after the other running tasks came back; it never hangs.
``stop_when(result)`` True for a result starts no further task (the running ones still finish).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from jwmsim.errors import ConfigError, JwmsimError

T = TypeVar("T")
R = TypeVar("R")

ProgressFn = Callable[[int, int], None]  # (task index, steps done since the last report)


class TaskContext(Protocol):
    """What a task sees of its backend (see the module docstring)."""

    def report(self, steps: int) -> None:
        """Add ``steps`` to the caller's progress of this task."""

    def should_stop(self) -> bool:
        """True once the caller asked every task to stop."""


class TaskFailed(JwmsimError, RuntimeError):
    """A task raised or its worker process died.

    Attributes:
        index: the task's position in ``tasks``; error: ``"Type: message"``; traceback: the
            task's traceback when it raised (None for a dead worker).
    """

    exit_code = 1

    def __init__(self, index: int, error: str, traceback: str | None, backend: str) -> None:
        super().__init__(
            f"task {index} failed on the {backend} backend: {error}",
            hint="the traceback below is the task's own; tasks that finished before are kept",
        )
        self.index = index
        self.error = error
        self.traceback = traceback


@dataclass(frozen=True)
class BackendOptions:
    """How to run tasks.

    Attributes:
        workers: parallel tasks (None: one per CPU core here; for Ray, the cluster's CPUs).
        ray_address: Ray cluster to join (``ray://head:10001`` or ``head:6379``; ``auto``: the
            cluster this machine belongs to); None starts a local Ray instance.
    """

    workers: int | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.ray_address is not None and not self.ray_address.strip():
            raise ConfigError("--ray-address is empty", hint="e.g. --ray-address ray://head-node:10001")


class Backend(ABC):
    """Runs ``fn(task, ctx)`` over tasks; see the module docstring for the contract."""

    name: ClassVar[str] = "backend"
    description: ClassVar[str] = ""  # one line for --backend help

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    @abstractmethod
    def parallelism(self, n_tasks: int) -> int:
        """How many of ``n_tasks`` tasks run at the same time."""

    @abstractmethod
    def map(
        self,
        fn: Callable[[T, TaskContext], R],
        tasks: Sequence[T],
        *,
        progress: ProgressFn | None = None,
        stop_when: Callable[[R], bool] | None = None,
    ) -> Iterator[tuple[int, R]]:
        """Yield ``(index, fn(tasks[index], ctx))`` as tasks finish (see the module docstring)."""

    def describe(self) -> dict[str, Any]:
        """What ran where, for reports (``name``, ``workers`` ...)."""
        return {"name": self.name, "workers": self.options.workers}

    def close(self) -> None:
        """Release what the backend started (a local Ray instance); the default holds nothing."""
        return None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
