"""Traffic lights of a log: signal heads, the stop line each one guards and its fixed-time phase
program.

A light's program is a fixed cycle (the usual pre-timed controller): ``green`` seconds of green,
then ``yellow`` seconds of yellow, then red for the rest of the ``cycle``; the cycle's green starts
at ``offset`` (seconds on the log's clock, i.e. since the segment's ``start_us``) and repeats
every ``cycle`` seconds, before and after. The phase at time ``t`` is therefore a pure function of
``t``: nothing about the lights needs to be carried in the simulation state.

In a nuScenes-format dataroot the lights are a jwmsim extension beside the lane map,
``maps/traffic_lights/<map_token>.json``::

    {"traffic_lights": [{"id": str, "stop_line": [[x, y], [x, y]], "heading": rad,
                         "head": [x, y, z], "lanes": [lane id, ...],
                         "program": {"cycle": s, "green": s, "yellow": s, "start_us": us}}]}

``start_us`` is the absolute timestamp [us] at which a green phase starts. A log without that file
has no lights (``LogSegment.traffic_lights`` is empty) and loads as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from jwmsim.errors import LogFormatError

PHASES = ("green", "yellow", "red")


@dataclass(frozen=True)
class SignalProgram:
    """A fixed-time cycle: green, yellow, then red for the rest of the cycle.

    Attributes:
        cycle: cycle length [s] (> 0).
        green: green time [s]; yellow: yellow (amber) time [s]; ``green + yellow <= cycle``.
        offset: log time [s] at which a green phase starts (any real number; the cycle repeats).
    """

    cycle: float
    green: float
    yellow: float = 3.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        values = (self.cycle, self.green, self.yellow, self.offset)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"signal program times must be finite, got {values}")
        too_long = self.green + self.yellow > self.cycle + 1e-9
        if self.cycle <= 0 or self.green < 0 or self.yellow < 0 or too_long:
            raise ValueError(
                f"signal program needs cycle > 0 and 0 <= green + yellow <= cycle, got cycle {self.cycle} s, "
                f"green {self.green} s, yellow {self.yellow} s"
            )

    @property
    def red(self) -> float:
        """Red time per cycle [s]."""
        return self.cycle - self.green - self.yellow

    def phase_at(self, t: float) -> str:
        """``green``, ``yellow`` or ``red`` at log time ``t`` [s]."""
        u = (t - self.offset) % self.cycle
        if u < self.green:
            return "green"
        if u < self.green + self.yellow:
            return "yellow"
        return "red"

    def shifted(self, dt: float) -> SignalProgram:
        """The same program on a clock shifted by ``dt`` seconds (time ``t`` becomes ``t - dt``)."""
        return replace(self, offset=self.offset - dt)


@dataclass(frozen=True)
class TrafficLight:
    """One signal head and the stop line it guards.

    Attributes:
        id: unique within the log.
        stop_line: ``((x0, y0), (x1, y1))`` world xy [m] of the stop line across the approach.
        heading: direction of travel [rad] of the traffic it controls (about +z).
        head: ``(x, y, z)`` of the signal head [m] (for drawing).
        lanes: ids of the controlled lanes of the log's lane map (may be empty).
        program: the phase program.
    """

    id: str
    stop_line: tuple[tuple[float, float], tuple[float, float]]
    heading: float
    head: tuple[float, float, float]
    program: SignalProgram
    lanes: tuple[str, ...] = ()

    def phase_at(self, t: float) -> str:
        """Phase at log time ``t`` [s]."""
        return self.program.phase_at(t)

    def stop_line_array(self) -> np.ndarray:
        """``[2, 2]`` float64 end points of the stop line."""
        return np.asarray(self.stop_line, dtype=np.float64)


def lights_to_json(lights: Iterable[TrafficLight], start_us: int) -> dict[str, Any]:
    """The file payload of ``lights`` whose times count from the absolute timestamp ``start_us``."""
    out = []
    for light in lights:
        p = light.program
        out.append(
            {
                "id": light.id,
                "stop_line": np.round(light.stop_line_array(), 4).tolist(),
                "heading": round(float(light.heading), 6),
                "head": [round(float(v), 4) for v in light.head],
                "lanes": list(light.lanes),
                "program": {
                    "cycle": p.cycle,
                    "green": p.green,
                    "yellow": p.yellow,
                    "start_us": int(start_us + round(p.offset * 1e6)),
                },
            }
        )
    return {"traffic_lights": out}


def lights_from_json(payload: Mapping[str, Any], start_us: int, where: str = "") -> tuple[TrafficLight, ...]:
    """Lights of a file payload, their programs on the clock of a segment starting at ``start_us``.

    Raises:
        LogFormatError: a malformed entry (naming ``where``).
    """
    try:
        lights = []
        for entry in payload["traffic_lights"]:
            line = np.asarray(entry["stop_line"], dtype=np.float64).reshape(2, 2)
            prog = entry["program"]
            head = np.asarray(entry["head"], dtype=np.float64).reshape(3)
            lights.append(
                TrafficLight(
                    id=str(entry["id"]),
                    stop_line=(tuple(line[0]), tuple(line[1])),  # type: ignore[arg-type]
                    heading=float(entry["heading"]),
                    head=tuple(float(v) for v in head),  # type: ignore[arg-type]
                    lanes=tuple(str(x) for x in entry.get("lanes", ())),
                    program=SignalProgram(
                        cycle=float(prog["cycle"]),
                        green=float(prog["green"]),
                        yellow=float(prog["yellow"]),
                        offset=(int(prog["start_us"]) - int(start_us)) / 1e6,
                    ),
                )
            )
    except (KeyError, TypeError, ValueError) as err:
        raise LogFormatError(
            f"traffic light file {where} is malformed ({type(err).__name__}: {err})",
            hint='expected {"traffic_lights": [{"id", "stop_line": [[x, y], [x, y]], "heading", "head": '
            '[x, y, z], "lanes", "program": {"cycle", "green", "yellow", "start_us"}}]}',
        ) from err
    ids = [light.id for light in lights]
    if len(set(ids)) != len(ids):
        raise LogFormatError(f"traffic light file {where} repeats light ids", hint="ids must be unique")
    return tuple(lights)


__all__ = ["PHASES", "SignalProgram", "TrafficLight", "lights_from_json", "lights_to_json"]
