"""Execution backends: where the runs of an evaluation or a replay execute.

:data:`BACKENDS` maps a name to a :class:`~jwmsim.backends.base.Backend` class:

* ``local``: this machine, a pool of spawned processes (one per core by default; 1: in this
  process);
* ``ray``: Ray remote tasks on a cluster (``ray.init(address=...)``) or a local Ray instance
  (ray is imported only when this backend is used).

Both run the same task functions with the same inputs, so the same seeds give the same results.
Use :func:`make_backend`; as a context manager it closes what the backend started::

    with make_backend("ray", BackendOptions(workers=2)) as backend:
        for index, result in backend.map(fn, tasks, progress=bar_update):
            ...
"""

from __future__ import annotations

from jwmsim.backends.base import Backend, BackendOptions, ProgressFn, TaskContext, TaskFailed
from jwmsim.backends.local import LocalBackend
from jwmsim.backends.ray_backend import RayBackend
from jwmsim.registry import Registry

BACKENDS: Registry[type[Backend]] = Registry("execution backend")
BACKENDS.add(LocalBackend.name, LocalBackend)
BACKENDS.add(RayBackend.name, RayBackend)


def backend_help() -> str:
    """``"local (processes on this machine), ray (...)"`` for ``--backend`` options."""
    return ", ".join(f"{name} ({BACKENDS.get(name).description})" for name in BACKENDS.names())


def make_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """The backend ``name`` of :data:`BACKENDS` with ``options``.

    Raises:
        ConfigError: unknown name, or ``ray`` without the ray package installed.
    """
    return BACKENDS.get(name)(options or BackendOptions())


__all__ = [
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "LocalBackend",
    "ProgressFn",
    "RayBackend",
    "TaskContext",
    "TaskFailed",
    "backend_help",
    "make_backend",
]
