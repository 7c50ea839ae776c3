"""Bird's-eye-view raster centred on the ego: drivable area, lanes, actor boxes, paths, markers.

The raster is ego-centred and ego-aligned: the ego faces up (image -v), its left is image -u.
One pixel is ``1 / pixels_per_m`` metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from jwmsim.geometry import SE3

KIND_COLOURS: dict[str, tuple[int, int, int]] = {
    "ego": (40, 120, 255),
    "vehicle": (240, 170, 40),
    "pedestrian": (230, 60, 200),
    "cyclist": (60, 200, 230),
    "static": (150, 150, 150),
}


@dataclass(frozen=True)
class BevActor:
    """An actor to draw: box pose ``world_from_box``, size (w, l, h) [m], kind (colour), label."""

    pose: SE3
    size_wlh: tuple[float, float, float]
    kind: str = "vehicle"
    label: str = ""
    highlight: bool = False


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

    def to_pixels(self, ego: SE3, xy_world: np.ndarray) -> np.ndarray:
        """World xy ``[..., 2]`` -> pixel ``[..., 2]`` (float) in the ego-centred image."""
        xy = np.asarray(xy_world, dtype=np.float64)
        pts = np.concatenate([xy, np.zeros(xy.shape[:-1] + (1,))], -1)
        local = ego.inverse().apply(pts)
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
        actors: Sequence[BevActor] = (),
        ego_size_wlh: tuple[float, float, float] = (1.9, 4.7, 1.6),
        paths: Sequence[tuple[np.ndarray, tuple[int, int, int]]] = (),
        markers: Sequence[tuple[np.ndarray, str, tuple[int, int, int]]] = (),
        text: Sequence[str] = (),
    ) -> np.ndarray:
        """Render one ``[H, W, 3]`` uint8 image.

        Args:
            ego: ``world_from_ego`` pose; the image is centred and aligned on it.
            actors: boxes to draw.
            ego_size_wlh: the ego's box size [m].
            paths: polylines ``([N, 2] world xy, colour)`` (e.g. route, past trajectories).
            markers: ``(world xy [2], label, colour)`` points (e.g. trigger locations).
            text: lines written in the top-left corner.
        """
        h, w = self.size_px
        img = np.full((h, w, 3), 45, np.uint8)
        if self.drivable_area is not None:
            c = ego.translation[:2]
            view = shapely.box(
                c[0] - self._radius, c[1] - self._radius, c[0] + self._radius, c[1] + self._radius
            )
            clip = self.drivable_area.intersection(view)
            rings = self._poly_px(ego, clip)
            if rings:
                mask = np.zeros((h, w), np.uint8)
                cv2.fillPoly(mask, rings, 255, lineType=cv2.LINE_AA, shift=2)
                img[mask > 127] = (95, 95, 95)
        for pts in self.lanes.values():
            px = np.round(self.to_pixels(ego, pts) * 4).astype(np.int32)
            cv2.polylines(img, [px], False, (200, 200, 120), 1, lineType=cv2.LINE_AA, shift=2)
        for pts, colour in paths:
            if len(pts) >= 2:
                px = np.round(self.to_pixels(ego, np.asarray(pts)[:, :2]) * 4).astype(np.int32)
                cv2.polylines(img, [px], False, colour, 1, lineType=cv2.LINE_AA, shift=2)
        self._boxes(img, ego, [a for a in actors if self._in_view(ego, a)])
        self._box(img, ego, ego, ego_size_wlh, KIND_COLOURS["ego"], True)
        for xy, label, colour in markers:
            u, v = self.to_pixels(ego, np.asarray(xy)[:2])
            cv2.drawMarker(img, (int(u), int(v)), colour, cv2.MARKER_TILTED_CROSS, 9, 2)
            if label:
                cv2.putText(img, label, (int(u) + 5, int(v) - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1)
        for i, line in enumerate(text):
            cv2.putText(img, line, (4, 12 + 12 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
        return img

    def _in_view(self, ego: SE3, actor: BevActor) -> bool:
        d = np.hypot(*(actor.pose.translation[:2] - ego.translation[:2]))
        return bool(d < self._radius + max(actor.size_wlh[:2]))

    def _boxes(self, img: np.ndarray, ego: SE3, actors: Sequence[BevActor]) -> None:
        """All actor boxes in one vectorised pass: filled by kind, white outline if highlighted,
        a dark line towards the nose."""
        if not actors:
            return
        half = np.array([[a.size_wlh[1] / 2, a.size_wlh[0] / 2] for a in actors])  # [A, 2] (l/2, w/2)
        signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], np.float64)  # [4, 2]
        local = np.concatenate([half[:, None, :] * signs[None], np.zeros((len(actors), 4, 1))], -1)
        nose_x = np.stack([half[:, 0], half[:, 0] - np.minimum(1.0, 2 * half[:, 0] / 3)], 1)  # [A, 2]
        nose = np.stack([nose_x, np.zeros_like(nose_x), np.zeros_like(nose_x)], -1)  # [A, 2, 3]
        rot = np.stack([a.pose.rotation for a in actors])  # [A, 3, 3]
        trans = np.stack([a.pose.translation for a in actors])  # [A, 3]
        world = np.einsum("aij,akj->aki", rot, np.concatenate([local, nose], 1)) + trans[:, None]
        px = np.round(self.to_pixels(ego, world[..., :2]) * 4).astype(np.int32)  # [A, 6, 2]
        kinds = [a.kind for a in actors]
        for kind in set(kinds):
            sel = [px[i, :4] for i, k in enumerate(kinds) if k == kind]
            cv2.fillPoly(img, sel, KIND_COLOURS.get(kind, (200, 200, 200)), lineType=cv2.LINE_AA, shift=2)
        lit = [px[i, :4] for i, a in enumerate(actors) if a.highlight]
        if lit:
            cv2.polylines(img, lit, True, (255, 255, 255), 1, lineType=cv2.LINE_AA, shift=2)
        for p in px[:, 4:]:
            cv2.line(img, tuple(p[0]), tuple(p[1]), (20, 20, 20), 2, lineType=cv2.LINE_AA, shift=2)

    def _box(self, img: np.ndarray, ego: SE3, pose: SE3, size_wlh, colour, outline: bool) -> None:
        w, length, _ = size_wlh
        corners = np.array(
            [[length / 2, w / 2], [length / 2, -w / 2], [-length / 2, -w / 2], [-length / 2, w / 2]]
        )
        world = pose.apply(np.concatenate([corners, np.zeros((4, 1))], 1))[:, :2]
        px = np.round(self.to_pixels(ego, world) * 4).astype(np.int32)
        cv2.fillPoly(img, [px], colour, lineType=cv2.LINE_AA, shift=2)
        if outline:
            cv2.polylines(img, [px], True, (255, 255, 255), 1, lineType=cv2.LINE_AA, shift=2)
        nose = pose.apply(np.array([[length / 2, 0, 0], [length / 2 - min(1.0, length / 3), 0, 0]]))[:, :2]
        npx = np.round(self.to_pixels(ego, nose) * 4).astype(np.int32)
        cv2.line(img, tuple(npx[0]), tuple(npx[1]), (20, 20, 20), 2, lineType=cv2.LINE_AA, shift=2)
