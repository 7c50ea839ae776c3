"""Traffic lights of the procedural town's four-way junctions: one head per approach, guarding the
painted stop line (:func:`jwmsim.logs.procedural.roads.plan_markings`), on a fixed-time cycle.

The town's logged traffic is generated with the main road flowing through both junctions and the
side roads' cars waiting at them, so the main road's green covers the whole recorded drive:

* main road: green from 5 s before the log starts for ``max(30 s, duration + 10 s)``, then 3 s
  yellow, then red;
* 2 s all-red, then the side road: 20 s green, 3 s yellow, red; 2 s all-red, and the cycle repeats.

With the default 20 s log the main road is green 0-25 s, yellow 25-28 s, red 28-55 s (the side road
green 30-50 s), cycle 60 s: an episode that outlasts the log meets red lights on the main road.
"""

from __future__ import annotations

import numpy as np

from jwmsim.logs.procedural.roads import JunctionZone, Road
from jwmsim.logs.signals import SignalProgram, TrafficLight

YELLOW = 3.0  # [s]
ALL_RED = 2.0  # [s] clearance between the two roads' greens
SIDE_GREEN = 20.0  # [s]
MIN_MAIN_GREEN = 30.0  # [s]
LEAD_IN = 5.0  # [s] the main road's green starts this long before the log
STOP_LINE_BEFORE_ZONE = 5.5  # [m] painted stop line before the crossing road's edge (plan_markings)
HEAD_BEFORE_ZONE = 2.5  # [m] the signal pole, as the meshes place it
HEAD_HEIGHT = 5.2  # [m] above the sidewalk


def junction_programs(duration: float) -> tuple[SignalProgram, SignalProgram]:
    """``(main road, side road)`` programs of a junction for a log of ``duration`` seconds."""
    green = max(MIN_MAIN_GREEN, duration + 10.0)
    cycle = green + YELLOW + ALL_RED + SIDE_GREEN + YELLOW + ALL_RED
    main = SignalProgram(cycle, green, YELLOW, offset=-LEAD_IN)
    side = SignalProgram(cycle, SIDE_GREEN, YELLOW, offset=-LEAD_IN + green + YELLOW + ALL_RED)
    return main, side


def approach_lights(
    road: Road, zone: JunctionZone, junction: str, program: SignalProgram, curb: float
) -> list[TrafficLight]:
    """The two heads of ``road`` at ``zone``: the forward lanes approach from lower arc length
    (stop line before ``zone.s_min``), the backward lanes from higher (after ``zone.s_max``)."""
    m2, w = road.median / 2, road.lane_width
    out = []
    for forward in (True, False):
        sign = -1.0 if forward else 1.0
        n = road.lanes_forward if forward else road.lanes_backward
        s_stop = zone.s_min - STOP_LINE_BEFORE_ZONE if forward else zone.s_max + STOP_LINE_BEFORE_ZONE
        ends, _ = road.ref.to_xy(np.full(2, s_stop), np.array([sign * m2, sign * (m2 + n * w)]))
        _, heading = road.ref.frame_at(s_stop)
        s_head = zone.s_min - HEAD_BEFORE_ZONE if forward else zone.s_max + HEAD_BEFORE_ZONE
        d_head = -(road.half_width_right + 0.9) if forward else road.half_width_left + 0.9
        head, _ = road.ref.to_xy(s_head, d_head)
        direction = "fwd" if forward else "bwd"
        out.append(
            TrafficLight(
                id=f"{junction}/{road.name}:{direction}",
                stop_line=(tuple(map(float, ends[0])), tuple(map(float, ends[1]))),  # type: ignore[arg-type]
                heading=float(heading) + (0.0 if forward else np.pi),
                head=(float(head[0]), float(head[1]), curb + HEAD_HEIGHT),
                program=program,
                lanes=tuple(f"{road.name}:{direction}:{i}" for i in range(n)),
            )
        )
    return out


def junction_lights(
    main: Road,
    side: Road,
    main_zone: JunctionZone,
    side_zone: JunctionZone,
    junction: str,
    duration: float,
    curb: float,
) -> list[TrafficLight]:
    """The four heads of the four-way junction ``junction`` between ``main`` and ``side``."""
    main_program, side_program = junction_programs(duration)
    return approach_lights(main, main_zone, junction, main_program, curb) + approach_lights(
        side, side_zone, junction, side_program, curb
    )


__all__ = ["junction_lights", "junction_programs"]
