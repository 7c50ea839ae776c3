"""The frame of a replay video: camera mosaic over a text panel (time, speed, the step's metrics and
penalties), beside a bird's-eye view (boxes, route, driven path, trigger points)."""

from __future__ import annotations

import threading
import weakref

import numpy as np

from jwmsim.sim.map import RoadMap
from jwmsim.sim.sim_state import SimState
from jwmsim.viz.bev import BevRenderer, BoxArrays
from jwmsim.viz.mosaic import camera_mosaic, side_by_side

BEV_METRES = 70.0  # [m] the BEV panel's side

_BEVS: weakref.WeakKeyDictionary[RoadMap, dict[int, BevRenderer]] = weakref.WeakKeyDictionary()
_BEVS_LOCK = threading.Lock()


def bev_for_road(road: RoadMap, size_px: int) -> BevRenderer:
    """The BEV renderer of ``road`` at ``size_px x size_px`` for :data:`BEV_METRES` metres, one
    per road object (the runs of a replay share their log's road map, see
    :mod:`jwmsim.sim.segment_memo`), so that its cached map layer (about 60 ms to draw for the
    built-in town) is drawn once per replay process rather than once per run."""
    with _BEVS_LOCK:
        by_size = _BEVS.setdefault(road, {})
        if size_px not in by_size:
            lanes = {ln.id: ln.centreline.points for ln in road.lanes}
            by_size[size_px] = BevRenderer(
                road.drivable_area, lanes, (size_px, size_px), pixels_per_m=size_px / BEV_METRES
            )
        return by_size[size_px]


class ReplayFrameDrawer:
    """Video frame: camera mosaic over a text panel, beside a BEV (boxes, route, driven path,
    trigger points). Layout: ``[2H, V*W + 2H]`` for V cameras of ``H x W``."""

    def __init__(self, state: SimState, title: str, image_size: tuple[int, int], n_cameras: int) -> None:
        world = state.world
        h, w = image_size
        self.h, self.w, self.n = h, w, max(n_cameras, 1)
        self.bev = bev_for_road(world.road, 2 * h)
        self.title = title
        self.route = world.route.line.points
        self.path: list[tuple[float, float]] = []
        self.scripted = {
            world.initial_actors.ids[i]
            for i, sc in enumerate(world.scripts)
            if sc.trigger is not None or world.log_index[i] < 0
        }
        self.triggers: dict[str, np.ndarray] = {}

    def _panel(self, state: SimState) -> np.ndarray:
        import cv2

        panel = np.full((self.h, self.n * self.w, 3), 20, np.uint8)
        lines = [self.title, f"t = {state.time:5.1f} s   speed = {state.ego.speed:5.2f} m/s"]
        rec = state.last
        if rec is not None:
            m = rec.metrics
            lines.append(
                "step: " + "  ".join(f"{k.upper()} {m[k]:.2f}" for k in ("nc", "dac", "ttc", "c", "ep"))
            )
            if rec.penalties:
                lines.append("penalty: " + "; ".join(f"{p.metric} ({p.cause})" for p in rec.penalties)[:90])
        acc = state.episode
        lines.append(f"episode: NC {acc.nc:.1f}  DAC {acc.dac:.0f}  TTC {acc.ttc:.0f}  C {acc.comfort:.0f}")
        if state.reason:
            lines.append(f"end: {state.reason}")
        for i, line in enumerate(lines):
            cv2.putText(panel, line, (6, 16 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1)
        return panel

    def draw(self, state: SimState, images: list[np.ndarray], names: list[str]) -> np.ndarray:
        a = state.actors
        self.path.append((state.ego.x, state.ego.y))
        for i in np.flatnonzero(np.isfinite(a.triggered_at)):
            self.triggers.setdefault(a.ids[i], np.array([a.x[i], a.y[i]]))
        actors = BoxArrays.of_active(a, self.scripted)
        veh = state.world.config.vehicle
        bev = self.bev.draw(
            state.ego.pose(),
            actors,
            (veh.width, veh.length, veh.height),
            paths=[(self.route, (80, 200, 80)), (np.array(self.path), (40, 160, 255))],
            markers=[(xy, f"trigger {aid}"[:18], (255, 80, 80)) for aid, xy in self.triggers.items()],
            signals=state.world.signals.stop_lines(state.log_time),
        )
        top = (
            camera_mosaic(images, names, columns=len(images))
            if images
            else np.zeros((self.h, self.n * self.w, 3), np.uint8)
        )
        return side_by_side(np.concatenate([top, self._panel(state)], 0), bev)
