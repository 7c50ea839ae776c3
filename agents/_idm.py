"""Car-following laws of the rule-based planners: IDM and its ACC variant with the
constant-acceleration heuristic (CAH).

IDM (Treiber, Hennecke, Helbing 2000)::

    a_IDM = a [1 - (v / v0)^4 - (s* / s)^2],   s* = s0 + max(0, v T + v dv / (2 sqrt(a b)))

with ``dv = v - v_l``. IDM asks for far more braking than needed when a car cuts in closer than
``s*`` at a small closing speed (the interaction term grows with ``(s*/s)^2`` whatever the closing
speed). The ACC model (Kesting, Treiber, Helbing 2010, "Enhanced intelligent driver model to access
the impact of driving strategies on traffic capacity", Phil. Trans. R. Soc. A 368) blends IDM with
the CAH acceleration, the braking that just avoids a crash if the leader keeps its acceleration::

    a~_l  = min(a_l, a)
    a_CAH = v^2 a~_l / (v_l^2 - 2 s a~_l)             if v_l (v - v_l) <= -2 s a~_l
          = a~_l - (v - v_l)^2 H(v - v_l) / (2 s)      otherwise
    a_ACC = a_IDM                                      if a_IDM >= a_CAH
          = (1 - c) a_IDM + c [a_CAH + b tanh((a_IDM - a_CAH) / b)]   otherwise

with the coolness ``c`` (0.99 in the paper; 0 gives plain IDM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CarFollowing:
    """Parameters of IDM / ACC.

    Attributes:
        time_headway: T [s]; min_gap: s0 [m]; max_accel: a [m/s^2]; comfort_decel: b [m/s^2];
        exponent: delta of the free-road term; coolness: c of the ACC blend (0: plain IDM).
    """

    time_headway: float = 1.5
    min_gap: float = 2.5
    max_accel: float = 1.5
    comfort_decel: float = 2.5
    exponent: float = 4.0
    coolness: float = 0.99


def idm_acceleration(
    p: CarFollowing, v: np.ndarray, v0: np.ndarray, gap: np.ndarray, v_lead: np.ndarray
) -> np.ndarray:
    """IDM acceleration [m/s^2] (elementwise; ``gap`` inf: free road)."""
    v, v0, gap, v_lead = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (v, v0, gap, v_lead)))
    free = 1.0 - (v / np.maximum(v0, 0.1)) ** p.exponent
    s_star = p.min_gap + np.maximum(
        0.0, v * p.time_headway + v * (v - v_lead) / (2.0 * math.sqrt(p.max_accel * p.comfort_decel))
    )
    finite = np.isfinite(gap)
    inter = np.where(finite, (s_star / np.maximum(np.where(finite, gap, 1.0), 0.1)) ** 2, 0.0)
    return p.max_accel * (free - inter)


def cah_acceleration(
    p: CarFollowing, v: np.ndarray, gap: np.ndarray, v_lead: np.ndarray, a_lead: np.ndarray
) -> np.ndarray:
    """Constant-acceleration heuristic [m/s^2] (elementwise; see the module docstring)."""
    v, gap, v_lead, a_lead = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (v, gap, v_lead, a_lead))
    )
    s = np.maximum(np.where(np.isfinite(gap), gap, 1e6), 0.1)
    a_l = np.minimum(a_lead, p.max_accel)
    stop_case = v_lead * (v - v_lead) <= -2.0 * s * a_l
    denom = v_lead**2 - 2.0 * s * a_l
    first = np.where(np.abs(denom) > 1e-9, v**2 * a_l / np.where(np.abs(denom) > 1e-9, denom, 1.0), a_l)
    second = a_l - np.maximum(v - v_lead, 0.0) ** 2 / (2.0 * s)
    return np.where(stop_case, first, second)


def acc_acceleration(
    p: CarFollowing,
    v: np.ndarray,
    v0: np.ndarray,
    gap: np.ndarray,
    v_lead: np.ndarray,
    a_lead: np.ndarray | float = 0.0,
) -> np.ndarray:
    """ACC (IDM + CAH) acceleration [m/s^2]; plain IDM where ``coolness`` is 0 or the road is free."""
    a_idm = idm_acceleration(p, v, v0, gap, v_lead)
    if p.coolness <= 0.0:
        return a_idm
    a_cah = cah_acceleration(p, v, gap, v_lead, a_lead)
    b = p.comfort_decel
    blended = (1.0 - p.coolness) * a_idm + p.coolness * (a_cah + b * np.tanh((a_idm - a_cah) / b))
    return np.where(np.isfinite(np.asarray(gap, dtype=np.float64)) & (a_idm < a_cah), blended, a_idm)
