"""Results derived from a log segment alone, computed once per segment object.

Every run of a scenario builds its :class:`~jwmsim.sim.world.World` from the same seed log, and
each build derives the same road map (twice: once for the scenario's scripts, once for the
world), route and resampled log traffic from it: about a third of a second per run on a 2-core
machine, in the replay's critical path. A :class:`~jwmsim.logs.segment.LogSegment` is frozen, so
these are pure functions of the segment and their other arguments; :func:`per_segment` keeps
their results for as long as the segment object lives (the cache holds the segment weakly).

The results are shared between the worlds built from one segment: like the segment itself they
must be treated as read-only (they are frozen dataclasses).
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def per_segment(fn: Callable[P, R]) -> Callable[P, R]:
    """Memoise ``fn(segment, *args)`` per segment object (by identity) and argument values.

    The other arguments must be hashable (numbers, strings, frozen objects hashed by identity);
    defaults are filled in, so ``f(seg, 3.5)`` and ``f(seg, lane_width=3.5)`` share one entry.
    ``wrapper.cache_clear()`` empties the cache.
    """
    signature = inspect.signature(fn)
    cache: dict[int, tuple[weakref.ref[Any], dict[tuple[Any, ...], Any]]] = {}
    lock = threading.RLock()  # re-entrant: a weakref callback may run inside a locked block (GC)

    def forget(key: int) -> None:
        with lock:
            cache.pop(key, None)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        segment, *rest = bound.arguments.values()
        key, values = id(segment), tuple(rest)
        with lock:
            entry = cache.get(key)
            if entry is None or entry[0]() is not segment:
                entry = (weakref.ref(segment, lambda _ref, key=key: forget(key)), {})
                cache[key] = entry
            memo = entry[1]
            if values in memo:
                return memo[values]
        result = fn(*args, **kwargs)
        with lock:
            memo.setdefault(values, result)
            return memo[values]

    def cache_clear() -> None:
        with lock:
            cache.clear()

    wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
    return wrapper
