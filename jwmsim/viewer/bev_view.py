"""The viewer's bird's-eye view: :class:`~jwmsim.viz.bev.BevRenderer` (drivable area, lanes, boxes)
plus actor ids, trajectories, trigger zones, the selection, and the mapping from a mouse position
back to world coordinates and to the actor under it.

The view is centred on the ego's box centre and turned with it (the ego faces up), as the
environment's and the replay video's BEVs are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from jwmsim.geometry import SE3
from jwmsim.sim.collision import ego_centre
from jwmsim.sim.sim_state import SimState
from jwmsim.sim.world import World
from jwmsim.viz.bev import PHASE_COLOURS, BevActor, BevRenderer

ROUTE_COLOUR = (80, 200, 80)
EGO_PATH_COLOUR = (40, 160, 255)
TRAIL_COLOUR = (170, 140, 90)
ZONE_COLOUR = (255, 90, 90)
SELECT_COLOUR = (255, 230, 0)
TRAIL_STEPS = 40  # past moments drawn as an actor's trail
LABEL_CHARS = 16  # inserted actors' ids are cut to this length on the map
LOG_LABEL_CHARS = 6  # log actors' ids (tokens) to this one
LABEL = (235, 235, 235)
FONT = cv2.FONT_HERSHEY_SIMPLEX


class BevView:
    """Draws the BEV of one world and maps pixels back to it.

    Args:
        world: the run's world (map, route, scripts).
        size_px: side of the square image [px]; span_m: metres it spans.
    """

    def __init__(self, world: World, size_px: int, span_m: float) -> None:
        lanes = {ln.id: ln.centreline.points for ln in world.road.lanes}
        self.world = world
        self.size = size_px
        self.renderer = BevRenderer(
            world.road.drivable_area, lanes, (size_px, size_px), size_px / span_m, 0.6
        )
        self.ppm = self.renderer.ppm
        self.radius = math.hypot(size_px, size_px) / self.ppm + 10.0  # [m] actors farther are not drawn

    def centre(self, state: SimState) -> SE3:
        """``world_from_view``: the ego's box centre and heading."""
        e = state.ego
        cx, cy = ego_centre(e.x, e.y, e.yaw, self.world.config.vehicle)
        return SE3.from_xy_yaw(cx, cy, e.yaw, e.z)

    def to_world(self, state: SimState, u: float, v: float) -> tuple[float, float]:
        """World ``(x, y)`` [m] under pixel ``(u, v)`` of the image."""
        local_x = (self.size * self.renderer.ego_row_frac - v) / self.ppm
        local_y = (self.size / 2 - u) / self.ppm
        p = self.centre(state).apply(np.array([[local_x, local_y, 0.0]]))[0]
        return float(p[0]), float(p[1])

    def to_pixel(self, state: SimState, x: float, y: float) -> tuple[float, float]:
        """Pixel ``(u, v)`` of world point ``(x, y)``."""
        u, v = self.renderer.to_pixels(self.centre(state), np.array([x, y]))
        return float(u), float(v)

    def actor_at(self, state: SimState, u: float, v: float, margin: float = 0.8) -> str | None:
        """Id of the active actor whose box (grown by ``margin`` metres) holds pixel ``(u, v)``; the
        nearest one when several do."""
        x, y = self.to_world(state, u, v)
        a = state.actors
        dx, dy = x - a.x, y - a.y
        c, s = np.cos(a.yaw), np.sin(a.yaw)
        lon, lat = c * dx + s * dy, -s * dx + c * dy
        inside = a.active & (np.abs(lon) <= a.length / 2 + margin) & (np.abs(lat) <= a.width / 2 + margin)
        idx = np.flatnonzero(inside)
        if not len(idx):
            return None
        return a.ids[int(idx[np.argmin(np.hypot(dx[idx], dy[idx]))])]

    def draw(
        self,
        state: SimState,
        history: Sequence[SimState],
        selected: str | None = None,
        drag: tuple[str, float, float] | None = None,
    ) -> np.ndarray:
        """``[S, S, 3]`` uint8: map, route, the ego's driven path, actor trails over the last
        moments of ``history`` (oldest first, ending with ``state``), boxes with ids, trigger zones
        of triggers not fired yet and where fired ones fired, the selection, a drag target."""
        a, world = state.actors, self.world
        pose = self.centre(state)
        near = np.flatnonzero(a.active & (np.hypot(a.x - state.ego.x, a.y - state.ego.y) < self.radius))
        scripted = {
            world.initial_actors.ids[i] for i, sc in enumerate(world.scripts) if sc.trigger is not None
        }
        inserted = {world.initial_actors.ids[i] for i in np.flatnonzero(world.log_index < 0)}
        actors = [
            BevActor(
                a.pose(int(i)),
                (float(a.width[i]), float(a.length[i]), float(a.height[i])),
                a.kinds[i],
                a.ids[i],
                a.ids[i] in scripted or a.ids[i] in inserted,
            )
            for i in near
        ]
        ego_path = np.array([(s.ego.x, s.ego.y) for s in history])
        veh = world.config.vehicle
        img = self.renderer.draw(
            pose,
            actors,
            (veh.width, veh.length, veh.height),
            paths=[(world.route.line.points, ROUTE_COLOUR), (ego_path, EGO_PATH_COLOUR)],
            signals=world.signals.stop_lines(state.log_time),
        )
        self._signal_heads(img, pose, state)
        self._trails(img, pose, history[-TRAIL_STEPS:], near)
        self._triggers(img, pose, state, history)
        if len(near):
            uv = self.renderer.to_pixels(pose, np.stack([a.x[near], a.y[near]], 1))  # [A, 2]
            for i, (u, v) in zip(near, uv, strict=True):
                if 0 <= u < self.size and 0 <= v < self.size:
                    aid = a.ids[i]
                    text = aid[:LOG_LABEL_CHARS] if world.log_index[i] >= 0 else aid[:LABEL_CHARS]
                    colour = LABEL if world.log_index[i] >= 0 else SELECT_COLOUR
                    cv2.putText(img, text, (int(u) + 6, int(v) + 4), FONT, 0.33, colour, 1)
        if selected is not None and selected in a.ids:
            i = a.index(selected)
            self._outline(img, pose, float(a.x[i]), float(a.y[i]), float(a.yaw[i]), a.length[i], a.width[i])
        if drag is not None:
            _, x, y = drag
            u, v = self.renderer.to_pixels(pose, np.array([x, y]))
            cv2.drawMarker(img, (int(u), int(v)), SELECT_COLOUR, cv2.MARKER_CROSS, 16, 2)
        return img

    def _signal_heads(self, img: np.ndarray, pose: SE3, state: SimState) -> None:
        """Each traffic light's head as a dot in its phase's colour, with its id."""
        for light, phase in zip(
            self.world.signals.lights, self.world.signals.phases(state.log_time), strict=True
        ):
            u, v = self.renderer.to_pixels(pose, np.array(light.head[:2]))
            if 0 <= u < self.size and 0 <= v < self.size:
                cv2.circle(img, (int(u), int(v)), 4, PHASE_COLOURS[phase], -1, lineType=cv2.LINE_AA)
                cv2.circle(img, (int(u), int(v)), 4, (20, 20, 20), 1, lineType=cv2.LINE_AA)
                cv2.putText(img, light.id, (int(u) + 6, int(v) - 4), FONT, 0.3, PHASE_COLOURS[phase], 1)

    def _outline(self, img: np.ndarray, pose: SE3, x: float, y: float, yaw: float, length, width) -> None:
        c, s = math.cos(yaw), math.sin(yaw)
        half = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [
            float(length) / 2 + 0.5,
            float(width) / 2 + 0.5,
        ]
        corners = np.stack([x + c * half[:, 0] - s * half[:, 1], y + s * half[:, 0] + c * half[:, 1]], 1)
        px = np.round(self.renderer.to_pixels(pose, corners)).astype(np.int32)
        cv2.polylines(img, [px], True, SELECT_COLOUR, 2, lineType=cv2.LINE_AA)

    def _trails(self, img: np.ndarray, pose: SE3, history: Sequence[SimState], idx: np.ndarray) -> None:
        """Past positions of actors ``idx`` (indices are fixed within a world) over ``history``."""
        if len(history) < 2 or not len(idx):
            return
        xs = np.stack([s.actors.x[idx] for s in history], 1)  # [A, T]
        ys = np.stack([s.actors.y[idx] for s in history], 1)
        act = np.stack([s.actors.active[idx] for s in history], 1)
        for k in range(len(idx)):
            pts = np.stack([xs[k][act[k]], ys[k][act[k]]], 1)
            if len(pts) >= 2:
                px = np.round(self.renderer.to_pixels(pose, np.array(pts)) * 4).astype(np.int32)
                cv2.polylines(img, [px], False, TRAIL_COLOUR, 1, lineType=cv2.LINE_AA, shift=2)

    def _triggers(self, img: np.ndarray, pose: SE3, state: SimState, history: Sequence[SimState]) -> None:
        """Trigger zones (a circle of the trigger distance around the watched actor) and labels of
        triggers not fired yet; a cross where a fired trigger fired."""
        world, a = self.world, state.actors
        for i, script in enumerate(world.scripts):
            if script.trigger is None or i >= len(a.ids) or not a.active[i]:
                continue
            params = world.trigger_params[i]
            aid = a.ids[i]
            if math.isfinite(a.triggered_at[i]):
                where = _where_fired(history, i)
                if where is not None:
                    u, v = self.renderer.to_pixels(pose, np.array(where))
                    cv2.drawMarker(img, (int(u), int(v)), ZONE_COLOUR, cv2.MARKER_TILTED_CROSS, 10, 2)
                    cv2.putText(
                        img,
                        f"fired {aid}"[:18],
                        (int(u) + 6, int(v) - 6),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.33,
                        ZONE_COLOUR,
                        1,
                    )
                continue
            watched = params.get("actor") or aid
            j = a.ids.index(watched) if watched in a.ids else i
            u, v = self.renderer.to_pixels(pose, np.array([a.x[j], a.y[j]]))
            kind = script.trigger.kind
            if kind == "distance_to_ego":
                r = int(round(float(params["distance"]) * self.ppm))
                cv2.circle(img, (int(u), int(v)), r, ZONE_COLOUR, 1, lineType=cv2.LINE_AA)
                label = f"{float(params['distance']):.0f} m" + (" ahead" if params.get("ahead_only") else "")
            elif kind == "ttc":
                label = f"ttc <= {float(params['ttc']):.1f} s"
            elif kind == "time":
                label = f"t >= {float(params['at']):.1f} s"
            else:
                label = kind
            cv2.putText(img, label, (int(u) + 6, int(v) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.33, ZONE_COLOUR, 1)


def _where_fired(history: Sequence[SimState], i: int) -> tuple[float, float] | None:
    """Position of actor ``i`` at the first moment of ``history`` where its trigger had fired."""
    for s in history:
        if i < len(s.actors.ids) and math.isfinite(s.actors.triggered_at[i]):
            return float(s.actors.x[i]), float(s.actors.y[i])
    return None
