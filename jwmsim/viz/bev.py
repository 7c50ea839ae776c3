"""Bird's-eye-view raster centred on the ego: drivable area, lanes, traffic lights' stop lines in
their phase's colour, actor boxes, paths, markers.

The raster is ego-centred and ego-aligned: the ego faces up (image -v), its left is image -u.
One pixel is ``1 / pixels_per_m`` metres.

The static map (drivable area, lanes) is drawn once into a north-up raster of the whole map at the
same scale and, per image, warped into the ego's view by one affine warp (about 0.3 ms instead of
clipping and filling the map's polygons and lanes every frame: 4 ms on a 940 m town); maps larger
than :data:`MAX_MAP_LAYER_PIXELS` at that scale are drawn per image instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from jwmsim.geometry import SE3

MAX_MAP_LAYER_PIXELS = 4096 * 4096  # pixel budget of the cached north-up map layer
# [px] boxes whose outline lies farther than this outside the image are not drawn (their
# anti-aliased edges and the 2 px nose line reach at most about 2 px beyond the outline)
OFF_IMAGE_MARGIN_PX = 4
BACKGROUND = (45, 45, 45)
DRIVABLE = (95, 95, 95)
LANE = (200, 200, 120)
PHASE_COLOURS: dict[str, tuple[int, int, int]] = {
    "green": (40, 220, 80),
    "yellow": (250, 210, 30),
    "red": (240, 40, 40),
}

KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "ego": (40, 120, 255),
    "vehicle": (240, 170, 40),
    "pedestrian": (230, 60, 200),
    "cyclist": (60, 200, 230),
    "static": (150, 150, 150),
}
KIND_ORDER = {k: i for i, k in enumerate(KIND_COLOURS)}


@dataclass(frozen=True)
class BevActor:
    """An actor to draw: box pose ``world_from_box``, size (w, l, h) [m], kind (colour), label."""

    pose: SE3
    size_wlh: tuple[float, float, float]
    kind: str = "vehicle"
    label: str = ""
    highlight: bool = False


@dataclass(frozen=True)
class BoxArrays:
    """Many boxes as arrays (the vectorised form of :class:`BevActor`): centre ``x``, ``y`` [m],
    heading ``yaw`` [rad], ``length``, ``width`` [m], all ``[A]``; ``kinds`` (colour) and
    ``highlight`` ``[A]`` bool (white outline)."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    length: np.ndarray
    width: np.ndarray
    kinds: tuple[str, ...]
    highlight: np.ndarray

    @classmethod
    def of(cls, actors: Sequence[BevActor]) -> BoxArrays:
        def col(values: list[float]) -> np.ndarray:
            return np.asarray(values, np.float64).reshape(-1)

        return cls(
            col([a.pose.translation[0] for a in actors]),
            col([a.pose.translation[1] for a in actors]),
            col([np.arctan2(a.pose.rotation[1, 0], a.pose.rotation[0, 0]) for a in actors]),
            col([a.size_wlh[1] for a in actors]),
            col([a.size_wlh[0] for a in actors]),
            tuple(a.kind for a in actors),
            np.asarray([a.highlight for a in actors], bool).reshape(-1),
        )

    @classmethod
    def of_active(cls, actors: Any, highlight: Collection[str] = ()) -> BoxArrays:
        """The active actors of a simulation's :class:`~jwmsim.sim.state.ActorsState` (its
        ``active``, ``x``, ``y``, ``yaw``, ``length``, ``width``, ``kinds``, ``ids`` columns);
        those whose id is in ``highlight`` are outlined."""
        act = np.flatnonzero(actors.active)
        return cls(
            actors.x[act],
            actors.y[act],
            actors.yaw[act],
            actors.length[act],
            actors.width[act],
            tuple(actors.kinds[i] for i in act),
            np.array([actors.ids[i] in highlight for i in act], bool),
        )

    def near(self, centre: np.ndarray, radius: float) -> BoxArrays:
        """The boxes whose centre is within ``radius`` [m] of ``centre`` (xy)."""
        keep = np.flatnonzero(np.hypot(self.x - centre[0], self.y - centre[1]) < radius)
        return BoxArrays(
            self.x[keep],
            self.y[keep],
            self.yaw[keep],
            self.length[keep],
            self.width[keep],
            tuple(self.kinds[i] for i in keep),
            self.highlight[keep],
        )


class BevRenderer:
    """Draws ego-centred BEV images of one map.

    Args:
        drivable_area: world xy geometry (or None: plain background).
        lanes: lane centrelines ``{id: [N, 2]}`` in world xy [m].
        size_px: ``(height, width)`` of the image.
        pixels_per_m: scale.
        ego_row_frac: where the ego sits vertically (0 top, 1 bottom); below 0.5 shows more ahead.
    """

    def __init__(
        self,
        drivable_area: BaseGeometry | None,
        lanes: dict[str, np.ndarray] | None = None,
        size_px: tuple[int, int] = (256, 256),
        pixels_per_m: float = 4.0,
        ego_row_frac: float = 0.65,
    ) -> None:
        self.drivable_area = drivable_area
        self.lanes = dict(lanes or {})
        self.size_px = size_px
        self.ppm = float(pixels_per_m)
        self.ego_row_frac = ego_row_frac
        h, w = size_px
        self._radius = float(np.hypot(h, w) / self.ppm)  # [m] crop radius covering the image
        self._layer: tuple[np.ndarray, float, float] | None | bool = False  # False: not built yet

    def _map_layer(self) -> tuple[np.ndarray, float, float] | None:
        """``(raster [H, W, 3], x0, y1)``: the static map north-up, column ``(x - x0) ppm``, row
        ``(y1 - y) ppm``; None when the map is too large to cache at this scale."""
        if self._layer is not False:
            return self._layer  # type: ignore[return-value]
        bounds = []
        if self.drivable_area is not None and not self.drivable_area.is_empty:
            bounds.append(np.array(self.drivable_area.bounds).reshape(2, 2))
        for pts in self.lanes.values():
            if len(pts):
                bounds.append(np.stack([np.min(pts[:, :2], 0), np.max(pts[:, :2], 0)]))
        if not bounds:
            self._layer = None
            return None
        b = np.concatenate(bounds)
        margin = self._radius
        x0, y0 = b[:, 0].min() - margin, b[:, 1].min() - margin
        x1, y1 = b[:, 0].max() + margin, b[:, 1].max() + margin
        cols, rows = int(np.ceil((x1 - x0) * self.ppm)), int(np.ceil((y1 - y0) * self.ppm))
        if cols * rows > MAX_MAP_LAYER_PIXELS:
            self._layer = None
            return None
        layer = np.full((rows, cols, 3), BACKGROUND, np.uint8)

        def px(xy: np.ndarray) -> np.ndarray:
            xy = np.asarray(xy, dtype=np.float64)[:, :2]
            return np.round(np.stack([(xy[:, 0] - x0), (y1 - xy[:, 1])], 1) * self.ppm * 4).astype(np.int32)

        if self.drivable_area is not None:
            rings = []
            for p in getattr(self.drivable_area, "geoms", [self.drivable_area]):
                if p.is_empty or p.geom_type != "Polygon":
                    continue
                rings += [px(np.asarray(r.coords)) for r in [p.exterior, *p.interiors]]
            if rings:
                mask = np.zeros((rows, cols), np.uint8)
                cv2.fillPoly(mask, rings, 255, lineType=cv2.LINE_AA, shift=2)
                layer[mask > 127] = DRIVABLE
        lanes = [px(pts) for pts in self.lanes.values() if len(pts) >= 2]
        if lanes:
            cv2.polylines(layer, lanes, False, LANE, 1, lineType=cv2.LINE_AA, shift=2)
        self._layer = (layer, float(x0), float(y1))
        return self._layer

    def _warp_map(self, ego: SE3) -> np.ndarray | None:
        """The cached map layer warped into ``ego``'s view (None when there is no cache)."""
        cached = self._map_layer()
        if cached is None:
            return None
        layer, x0, y1 = cached
        h, w = self.size_px
        fwd = ego.rotation[:2, 0]
        th = float(np.arctan2(fwd[1], fwd[0]))
        c, s_ = np.cos(th), np.sin(th)
        tx, ty = float(ego.translation[0]), float(ego.translation[1])
        ppm = self.ppm
        # output pixel (u, v) of layer pixel (col, row), see to_pixels
        m = np.array(
            [
                [s_, c, w / 2 + ppm * (s_ * (x0 - tx) - c * (y1 - ty))],
                [-c, s_, h * self.ego_row_frac - ppm * (c * (x0 - tx) + s_ * (y1 - ty))],
            ]
        )
        return cv2.warpAffine(layer, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=BACKGROUND)

    def to_pixels(self, ego: SE3, xy_world: np.ndarray) -> np.ndarray:
        """World xy ``[..., 2]`` -> pixel ``[..., 2]`` (float) in the ego-centred image."""
        return self._to_pixels(ego.inverse(), xy_world)

    def _to_pixels(self, ego_from_world: SE3, xy_world: np.ndarray) -> np.ndarray:
        """:meth:`to_pixels` with the ego's inverse pose computed once per image."""
        xy = np.asarray(xy_world, dtype=np.float64)
        pts = np.concatenate([xy, np.zeros(xy.shape[:-1] + (1,))], -1)
        local = ego_from_world.apply(pts)
        h, w = self.size_px
        u = w / 2 - local[..., 1] * self.ppm
        v = h * self.ego_row_frac - local[..., 0] * self.ppm
        return np.stack([u, v], -1)

    def _poly_px(self, ego: SE3, geom: BaseGeometry) -> list[np.ndarray]:
        out = []
        polys = getattr(geom, "geoms", [geom])
        for p in polys:
            if p.is_empty or p.geom_type != "Polygon":
                continue
            for ring in [p.exterior, *p.interiors]:
                out.append(np.round(self.to_pixels(ego, np.asarray(ring.coords)[:, :2]) * 4).astype(np.int32))
        return out

    def draw(
        self,
        ego: SE3,
        actors: Sequence[BevActor] | BoxArrays = (),
        ego_size_wlh: tuple[float, float, float] = (1.9, 4.7, 1.6),
        paths: Sequence[tuple[np.ndarray, tuple[int, int, int]]] = (),
        markers: Sequence[tuple[np.ndarray, str, tuple[int, int, int]]] = (),
        text: Sequence[str] = (),
        signals: Sequence[tuple[np.ndarray, str]] = (),
    ) -> np.ndarray:
        """Render one ``[H, W, 3]`` uint8 image.

        Args:
            ego: ``world_from_ego`` pose; the image is centred and aligned on it.
            actors: boxes to draw (or their arrays, :class:`BoxArrays`).
            ego_size_wlh: the ego's box size [m].
            paths: polylines ``([N, 2] world xy, colour)`` (e.g. route, past trajectories).
            markers: ``(world xy [2], label, colour)`` points (e.g. trigger locations).
            text: lines written in the top-left corner.
            signals: traffic lights as ``([2, 2] stop line world xy, phase)``, drawn as a thick line
                in the phase's colour (:data:`PHASE_COLOURS`).
        """
        img = self._warp_map(ego)
        if img is None:
            img = self._draw_map(ego)
        inv = ego.inverse()
        for line, phase in signals:
            a, b = np.round(self._to_pixels(inv, np.asarray(line)[:, :2])).astype(int)
            cv2.line(
                img, tuple(map(int, a)), tuple(map(int, b)), PHASE_COLOURS.get(phase, LANE), 3, cv2.LINE_AA
            )
        for pts, colour in paths:
            if len(pts) >= 2:
                px = np.round(self._to_pixels(inv, np.asarray(pts)[:, :2]) * 4).astype(np.int32)
                cv2.polylines(img, [px], False, colour, 1, lineType=cv2.LINE_AA, shift=2)
        if isinstance(actors, BoxArrays):
            self._boxes(img, inv, actors.near(ego.translation[:2], self._radius + 10.0))
        else:
            self._boxes(img, inv, BoxArrays.of([a for a in actors if self._in_view(ego, a)]))
        self._box(img, inv, ego, ego_size_wlh, KIND_COLOURS["ego"], True)
        for xy, label, colour in markers:
            u, v = self._to_pixels(inv, np.asarray(xy)[:2])
            cv2.drawMarker(img, (int(u), int(v)), colour, cv2.MARKER_TILTED_CROSS, 9, 2)
            if label:
                cv2.putText(img, label, (int(u) + 5, int(v) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
        for i, line in enumerate(text):
            cv2.putText(img, line, (4, 12 + 12 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
        return img

    def _draw_map(self, ego: SE3) -> np.ndarray:
        """The static map drawn for this view alone (maps too large for the cached layer)."""
        h, w = self.size_px
        img = np.full((h, w, 3), BACKGROUND, np.uint8)
        c = ego.translation[:2]
        if self.drivable_area is not None:
            view = shapely.box(
                c[0] - self._radius, c[1] - self._radius, c[0] + self._radius, c[1] + self._radius
            )
            rings = self._poly_px(ego, self.drivable_area.intersection(view))
            if rings:
                mask = np.zeros((h, w), np.uint8)
                cv2.fillPoly(mask, rings, 255, lineType=cv2.LINE_AA, shift=2)
                img[mask > 127] = DRIVABLE
        for pts in self.lanes.values():
            px = np.round(self.to_pixels(ego, pts) * 4).astype(np.int32)
            cv2.polylines(img, [px], False, LANE, 1, lineType=cv2.LINE_AA, shift=2)
        return img

    def _in_view(self, ego: SE3, actor: BevActor) -> bool:
        d = np.hypot(*(actor.pose.translation[:2] - ego.translation[:2]))
        return bool(d < self._radius + max(actor.size_wlh[:2]))

    def _boxes(self, img: np.ndarray, ego_from_world: SE3, boxes: BoxArrays) -> None:
        """All actor boxes in one vectorised pass: filled by kind, white outline if highlighted,
        a dark line towards the nose. Boxes wholly outside the image (by more than
        :data:`OFF_IMAGE_MARGIN_PX`) are skipped: they would not change a pixel."""
        if len(boxes.x) == 0:
            return
        half = np.stack([boxes.length / 2, boxes.width / 2], 1)  # [A, 2]
        signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], np.float64)  # [4, 2]
        nose_x = np.stack([half[:, 0], half[:, 0] - np.minimum(1.0, 2 * half[:, 0] / 3)], 1)  # [A, 2]
        local = np.concatenate(
            [half[:, None, :] * signs[None], np.stack([nose_x, np.zeros_like(nose_x)], -1)], 1
        )  # [A, 6, 2]: 4 corners, nose line
        c, s_ = np.cos(boxes.yaw)[:, None], np.sin(boxes.yaw)[:, None]
        world = np.stack(
            [
                boxes.x[:, None] + c * local[..., 0] - s_ * local[..., 1],
                boxes.y[:, None] + s_ * local[..., 0] + c * local[..., 1],
            ],
            -1,
        )
        px = np.round(self._to_pixels(ego_from_world, world) * 4).astype(np.int32)  # [A, 6, 2], 1/4 px
        h, w = self.size_px
        m = 4 * OFF_IMAGE_MARGIN_PX
        lo, hi = px.min(1), px.max(1)  # [A, 2] (u, v)
        seen = np.flatnonzero(
            (hi[:, 0] >= -m)
            & (lo[:, 0] <= 4 * (w - 1) + m)
            & (hi[:, 1] >= -m)
            & (lo[:, 1] <= 4 * (h - 1) + m)
        )
        if len(seen) == 0:
            return
        px = px[seen]
        kinds = [boxes.kinds[i] for i in seen]
        # kinds in a fixed order (the order overlapping boxes of different kinds are painted in)
        for kind in sorted(set(kinds), key=lambda k: (k not in KIND_ORDER, KIND_ORDER.get(k, 0), k)):
            sel = [px[i, :4] for i, k in enumerate(kinds) if k == kind]
            cv2.fillPoly(img, sel, KIND_COLOURS.get(kind, (200, 200, 200)), lineType=cv2.LINE_AA, shift=2)
        lit = [px[i, :4] for i in np.flatnonzero(boxes.highlight[seen])]
        if lit:
            cv2.polylines(img, lit, True, (255, 255, 255), 1, lineType=cv2.LINE_AA, shift=2)
        cv2.polylines(img, list(px[:, 4:]), False, (20, 20, 20), 2, lineType=cv2.LINE_AA, shift=2)

    def _box(self, img: np.ndarray, ego_from_world: SE3, pose: SE3, size_wlh, colour, outline: bool) -> None:
        w, length, _ = size_wlh
        corners = np.array(
            [[length / 2, w / 2], [length / 2, -w / 2], [-length / 2, -w / 2], [-length / 2, w / 2]]
        )
        world = pose.apply(np.concatenate([corners, np.zeros((4, 1))], 1))[:, :2]
        px = np.round(self._to_pixels(ego_from_world, world) * 4).astype(np.int32)
        cv2.fillPoly(img, [px], colour, lineType=cv2.LINE_AA, shift=2)
        if outline:
            cv2.polylines(img, [px], True, (255, 255, 255), 1, lineType=cv2.LINE_AA, shift=2)
        nose = pose.apply(np.array([[length / 2, 0, 0], [length / 2 - min(1.0, length / 3), 0, 0]]))[:, :2]
        npx = np.round(self._to_pixels(ego_from_world, nose) * 4).astype(np.int32)
        cv2.line(img, tuple(npx[0]), tuple(npx[1]), (20, 20, 20), 2, lineType=cv2.LINE_AA, shift=2)
