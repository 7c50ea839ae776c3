"""Wall-clock bookkeeping shared by the training loops (WorldRec, WorldGen stages, DMD)."""

from __future__ import annotations

import time


class RunClock:
    """A training run's time: elapsed seconds (a resumed run continues its count), whether a
    periodic checkpoint is due, and whether the run's time limit is reached.

    Args:
        elapsed: [s] already spent by the run before this process (0 for a new run).
        checkpoint_every_s: [s] between periodic checkpoints.
        max_minutes: the run's wall-time limit (None: none).
    """

    def __init__(self, elapsed: float, checkpoint_every_s: float, max_minutes: float | None) -> None:
        self._start = time.perf_counter() - float(elapsed)
        self._last_checkpoint = time.perf_counter()
        self.checkpoint_every_s = float(checkpoint_every_s)
        self.max_minutes = max_minutes

    @property
    def elapsed(self) -> float:
        """[s] the run's wall time so far."""
        return time.perf_counter() - self._start

    def checkpoint_due(self) -> bool:
        """True (once per period) when ``checkpoint_every_s`` have passed since the last one."""
        now = time.perf_counter()
        if now - self._last_checkpoint >= self.checkpoint_every_s:
            self._last_checkpoint = now
            return True
        return False

    def time_up(self) -> bool:
        """True once the run has used ``max_minutes``."""
        return self.max_minutes is not None and self.elapsed >= 60.0 * self.max_minutes
