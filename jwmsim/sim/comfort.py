"""Episode comfort as nuPlan defines it (``ego_is_comfortable``), from the whole ego trajectory.

Source: nuplan-devkit ``nuplan/planning/metrics/evaluation_metrics/common/ego_is_comfortable.py``
and the six metrics it combines (``ego_lon_acceleration``, ``ego_lat_acceleration``,
``ego_jerk``, ``ego_lon_jerk``, ``ego_yaw_rate``, ``ego_yaw_acceleration``), with the signal
extraction of ``nuplan/planning/metrics/utils/state_extractors.py``; NAVSIM's PDM scorer
(``pdm_comfort_metrics.py``) re-implements the same on its proposals.

Signals, sampled every ``dt`` over the episode (``n`` samples, each Savitzky-Golay filter window
clipped to ``n``):

* lon / lat acceleration ``a_x``, ``a_y`` [m/s^2]: ``savgol(a, window 8, order 2)``;
* jerk magnitude [m/s^3]: ``savgol'(savgol(|a|, 8, 2), window 15, order 2)`` (first derivative);
* lon jerk [m/s^3]: ``savgol'(savgol(a_x, 8, 2), 15, 2)``;
* yaw rate [rad/s]: ``savgol'(unwrap(yaw), window 5, order 2)``;
* yaw acceleration [rad/s^2]: ``savgol''(unwrap(yaw), window 5, order 3)`` (second derivative).

The episode is comfortable (C = 1) when every filtered sample lies within its bound
(:class:`jwmsim.config.ComfortThresholds`: lon acc in [-4.05, 2.40], |lat acc| <= 4.89,
|jerk| <= 8.37, |lon jerk| <= 4.13, |yaw rate| <= 0.95, |yaw acc| <= 1.93), else C = 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.signal import savgol_filter

from jwmsim.config import ComfortThresholds

ACCEL_WINDOW, ACCEL_ORDER = 8, 2  # nuPlan extract_ego_acceleration
JERK_WINDOW, JERK_ORDER = 15, 2  # nuPlan extract_ego_jerk
YAW_WINDOW = 5  # nuPlan approximate_derivatives default (extract_ego_yaw_rate passes none)
YAW_RATE_ORDER, YAW_ACCEL_ORDER = 2, 3


def _savgol(y: np.ndarray, window: int, order: int, deriv: int = 0, dt: float = 1.0) -> np.ndarray:
    """Savitzky-Golay filter (:func:`scipy.signal.savgol_filter`, ``mode="interp"``) along the last
    axis of ``y`` ``[..., n]``, the window clipped to ``n`` as nuPlan does; too short a series for
    the polynomial gets plain finite differences. Memory is linear in ``n``."""
    n = y.shape[-1]
    window = min(window, n)
    if window <= order:
        out = np.asarray(y, dtype=np.float64)
        for _ in range(deriv):
            out = np.gradient(out, dt, axis=-1) if n > 1 else np.zeros_like(out)
        return out
    return savgol_filter(y, window_length=window, polyorder=order, deriv=deriv, delta=dt, axis=-1)


def comfort_signals(
    yaw: np.ndarray, lon_accel: np.ndarray, lat_accel: np.ndarray, dt: float
) -> dict[str, np.ndarray]:
    """The six filtered signals of nuPlan's comfort metrics.

    Args:
        yaw: ``[..., n]`` heading [rad]; lon_accel / lat_accel: ``[..., n]`` [m/s^2]; dt: sample
            time [s].

    Returns:
        ``lon_accel``, ``lat_accel`` [m/s^2], ``jerk``, ``lon_jerk`` [m/s^3], ``yaw_rate`` [rad/s],
        ``yaw_accel`` [rad/s^2], each ``[..., n]``.
    """
    yaw = np.unwrap(np.asarray(yaw, dtype=np.float64), axis=-1)
    ax = np.asarray(lon_accel, dtype=np.float64)
    ay = np.asarray(lat_accel, dtype=np.float64)
    ax_f = _savgol(ax, ACCEL_WINDOW, ACCEL_ORDER)
    mag_f = _savgol(np.hypot(ax, ay), ACCEL_WINDOW, ACCEL_ORDER)
    return {
        "lon_accel": ax_f,
        "lat_accel": _savgol(ay, ACCEL_WINDOW, ACCEL_ORDER),
        "jerk": _savgol(mag_f, JERK_WINDOW, JERK_ORDER, deriv=1, dt=dt),
        "lon_jerk": _savgol(ax_f, JERK_WINDOW, JERK_ORDER, deriv=1, dt=dt),
        "yaw_rate": _savgol(yaw, YAW_WINDOW, YAW_RATE_ORDER, deriv=1, dt=dt),
        "yaw_accel": _savgol(yaw, YAW_WINDOW, YAW_ACCEL_ORDER, deriv=2, dt=dt),
    }


def comfort_bounds(c: ComfortThresholds) -> dict[str, tuple[float, float]]:
    """``(low, high)`` of each signal of :func:`comfort_signals`."""
    return {
        "lon_accel": (c.min_lon_accel, c.max_lon_accel),
        "lat_accel": (-c.max_abs_lat_accel, c.max_abs_lat_accel),
        "jerk": (-c.max_abs_jerk, c.max_abs_jerk),
        "lon_jerk": (-c.max_abs_lon_jerk, c.max_abs_lon_jerk),
        "yaw_rate": (-c.max_abs_yaw_rate, c.max_abs_yaw_rate),
        "yaw_accel": (-c.max_abs_yaw_accel, c.max_abs_yaw_accel),
    }


def comfort_violations(signals: Mapping[str, np.ndarray], c: ComfortThresholds) -> dict[str, float]:
    """The signals that leave their bounds, each with its worst value (empty: comfortable)."""
    out: dict[str, float] = {}
    for name, (low, high) in comfort_bounds(c).items():
        v = np.asarray(signals[name])
        if v.size == 0:
            continue
        lo, hi = float(v.min()), float(v.max())
        if lo < low or hi > high:
            out[name] = lo if (low - lo) >= (hi - high) else hi
    return out


def comfortable(signals: Mapping[str, np.ndarray], c: ComfortThresholds) -> np.ndarray:
    """``[...]`` bool: every sample of every signal ``[..., n]`` within its bound."""
    ok = None
    for name, (low, high) in comfort_bounds(c).items():
        v = np.asarray(signals[name])
        inside = ((v >= low) & (v <= high)).all(axis=-1)
        ok = inside if ok is None else ok & inside
    return np.asarray(ok)


def is_comfortable(
    yaw: np.ndarray, lon_accel: np.ndarray, lat_accel: np.ndarray, dt: float, c: ComfortThresholds
) -> bool:
    """nuPlan's ``ego_is_comfortable`` over a whole trajectory (see the module docstring)."""
    return not comfort_violations(comfort_signals(yaw, lon_accel, lat_accel, dt), c)
