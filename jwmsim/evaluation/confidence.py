"""Confidence intervals over runs: Student's t for metric means, Wilson's score for rates.

Why these: the runs of a scenario are independent draws of its jitter, few (10-100) and bounded;
t-intervals on the mean are standard for such samples (NAVSIM and NeuroNCAP report means over
runs), and Wilson's interval keeps a collision rate of 0/10 or 10/10 from collapsing to a point.
Both are computed exactly (no resampling), so a report is reproducible bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

T_METHOD = "Student t interval on the mean over runs (clipped to the metric's range)"
WILSON_METHOD = "Wilson score interval on the fraction of runs with an at-fault collision"


@dataclass(frozen=True)
class Interval:
    """A mean (or rate) with its confidence interval over ``n`` runs; ``low``/``high`` are None
    when ``n < 2`` for a mean (no spread to estimate)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def text(self, digits: int = 3) -> str:
        """``"0.812 [0.790, 0.834]"`` (or just the mean when there is no interval)."""
        if self.low is None or self.high is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def t_interval(
    values: Sequence[float], level: float = 0.95, bounds: tuple[float, float] | None = None
) -> Interval:
    """Mean of ``values`` ``[N]`` with a two-sided Student-t interval at ``level``, clipped to
    ``bounds`` (the metric's range) when given.

    Raises:
        ValueError: no values, or ``level`` outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, None, None, int(x.size))
    half = float(stats.t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Interval(mean, low, high, int(x.size))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Rate ``successes / n`` with Wilson's score interval at ``level``.

    Raises:
        ValueError: ``n < 1``, ``successes`` outside [0, n] or ``level`` outside (0, 1).
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval needs 0 <= successes <= n and n >= 1, got {successes}/{n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)
