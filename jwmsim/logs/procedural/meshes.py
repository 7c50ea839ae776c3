"""Coloured triangle meshes of the town: buildings, trees, poles, signs, vehicles, pedestrians.

Every builder returns a :class:`MeshPart`: triangles plus per-face albedo (linear RGB in [0, 1]),
material id (:mod:`.materials`) and material parameters. Vehicles and pedestrians are built in
their nuScenes box frame: origin at the box centre, x along the heading, y left, z up, so that
``world_from_box`` places them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from jwmsim.logs.procedural import materials as mat

CAR_COLORS = np.array(
    [
        [0.80, 0.80, 0.80],  # white
        [0.02, 0.02, 0.025],  # black
        [0.45, 0.46, 0.48],  # silver
        [0.16, 0.17, 0.18],  # dark grey
        [0.55, 0.03, 0.03],  # red
        [0.03, 0.10, 0.40],  # blue
        [0.04, 0.18, 0.08],  # dark green
        [0.50, 0.42, 0.30],  # beige
        [0.70, 0.45, 0.05],  # orange-yellow
    ]
)


@dataclass(frozen=True)
class MeshPart:
    """Triangles with per-face appearance.

    Attributes:
        vertices: ``[V, 3]`` float64 [m]. faces: ``[F, 3]`` int64 vertex indices.
        color: ``[F, 3]`` float32 linear albedo. color2: ``[F, 3]`` secondary colour (windows).
        material: ``[F]`` int8 material id. params: ``[F, 4]`` float32 material parameters.
    """

    vertices: np.ndarray
    faces: np.ndarray
    color: np.ndarray
    color2: np.ndarray
    material: np.ndarray
    params: np.ndarray

    @property
    def num_faces(self) -> int:
        return len(self.faces)

    @classmethod
    def from_trimesh(
        cls,
        mesh: trimesh.Trimesh,
        color: tuple[float, float, float] | np.ndarray,
        material: int = mat.PLAIN,
        params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        color2: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0),
    ) -> MeshPart:
        f = len(mesh.faces)
        return cls(
            np.asarray(mesh.vertices, dtype=np.float64),
            np.asarray(mesh.faces, dtype=np.int64),
            np.tile(np.asarray(color, dtype=np.float32), (f, 1)),
            np.tile(np.asarray(color2, dtype=np.float32), (f, 1)),
            np.full(f, material, dtype=np.int8),
            np.tile(np.asarray(params, dtype=np.float32), (f, 1)),
        )

    @classmethod
    def concat(cls, parts: list[MeshPart]) -> MeshPart:
        parts = [p for p in parts if p.num_faces]
        if not parts:
            return cls(
                np.zeros((0, 3)),
                np.zeros((0, 3), np.int64),
                *(np.zeros((0, 3), np.float32),) * 2,
                np.zeros(0, np.int8),
                np.zeros((0, 4), np.float32),
            )
        offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
        return cls(
            np.concatenate([p.vertices for p in parts]),
            np.concatenate([p.faces + o for p, o in zip(parts, offsets, strict=True)]),
            np.concatenate([p.color for p in parts]),
            np.concatenate([p.color2 for p in parts]),
            np.concatenate([p.material for p in parts]),
            np.concatenate([p.params for p in parts]),
        )

    def transformed(self, matrix: np.ndarray) -> MeshPart:
        """The part with vertices mapped by a ``[4, 4]`` rigid transform."""
        r = matrix[:3, :3]
        v = (
            self.vertices[:, 0:1] * r[:, 0]
            + self.vertices[:, 1:2] * r[:, 1]
            + self.vertices[:, 2:3] * r[:, 2]
        )
        v = v + matrix[:3, 3]
        return MeshPart(v, self.faces, self.color, self.color2, self.material, self.params)

    def triangles(self) -> np.ndarray:
        """``[F, 3, 3]`` float64 corner positions."""
        return self.vertices[self.faces]

    def face_normals(self) -> np.ndarray:
        """``[F, 3]`` unit normals (right-hand rule on the face winding)."""
        tri = self.triangles()
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def with_material_where(self, mask: np.ndarray, material: int, color: np.ndarray | tuple) -> MeshPart:
        """A copy whose faces selected by ``mask`` ``[F]`` get another material and colour."""
        m, c = self.material.copy(), self.color.copy()
        m[mask] = material
        c[mask] = np.asarray(color, dtype=np.float32)
        return MeshPart(self.vertices, self.faces, c, self.color2, m, self.params)


def _pose(x: float, y: float, z: float, yaw: float = 0.0) -> np.ndarray:
    m = trimesh.transformations.rotation_matrix(yaw, [0, 0, 1])
    m[:3, 3] = [x, y, z]
    return m


def box(
    extents: tuple[float, float, float],
    center: tuple[float, float, float],
    yaw: float = 0.0,
    **appearance: object,
) -> MeshPart:
    """An axis-aligned (then yawed) box of ``extents`` (x, y, z) [m] centred at ``center``."""
    return MeshPart.from_trimesh(trimesh.creation.box(extents, _pose(*center, yaw)), **appearance)  # type: ignore[arg-type]


def frustum(
    bottom_lw: tuple[float, float],
    top_lw: tuple[float, float],
    z_bottom: float,
    z_top: float,
    x_bottom: float = 0.0,
    x_top: float = 0.0,
) -> trimesh.Trimesh:
    """Convex solid between two horizontal rectangles (length along x, width along y) centred at
    ``x_bottom`` / ``x_top``: car bodies with a chamfered nose, cabins with sloped glass."""
    pts = []
    for (length, width), x, z in ((bottom_lw, x_bottom, z_bottom), (top_lw, x_top, z_top)):
        for sx in (-1, 1):
            for sy in (-1, 1):
                pts.append((x + sx * length / 2, sy * width / 2, z))
    return trimesh.convex.convex_hull(np.array(pts))


def cylinder(
    radius: float, height: float, base: tuple[float, float, float], sections: int = 10, **appearance: object
) -> MeshPart:
    """A vertical cylinder standing on ``base``."""
    m = trimesh.creation.cylinder(radius, height, sections=sections)
    m.apply_translation(np.asarray(base) + [0, 0, height / 2])
    return MeshPart.from_trimesh(m, **appearance)  # type: ignore[arg-type]


# --- static props -----------------------------------------------------------------------------------
FACADE_COLORS = np.array(
    [
        [0.45, 0.18, 0.11],  # brick
        [0.62, 0.55, 0.43],  # sandstone
        [0.70, 0.70, 0.66],  # white render
        [0.35, 0.36, 0.38],  # concrete grey
        [0.20, 0.28, 0.36],  # blue-grey glass office
        [0.55, 0.38, 0.25],  # terracotta
        [0.40, 0.45, 0.35],  # muted green
        [0.66, 0.60, 0.50],  # cream
    ]
)


def building(
    rng: np.random.Generator, center_xy: np.ndarray, yaw: float, frontage: float, depth: float, height: float
) -> MeshPart:
    """A building on a ``frontage x depth`` footprint (frontage along ``yaw``), with a window grid,
    a darker roof, sometimes a set-back upper block and a ground-floor shop band."""
    base = FACADE_COLORS[rng.integers(len(FACADE_COLORS))] * rng.uniform(0.8, 1.15)
    glassy = rng.random() < 0.2
    window = np.array([0.06, 0.09, 0.13]) if not glassy else np.array([0.10, 0.16, 0.22])
    spacing = rng.uniform(2.2, 3.6) if not glassy else rng.uniform(1.4, 2.0)
    floor_h = rng.uniform(2.9, 3.6)
    style = float(rng.integers(0, 3)) if not glassy else 3.0
    params = (spacing, floor_h, style, rng.uniform(0, 1))
    roof = np.array([0.18, 0.18, 0.19]) * rng.uniform(0.8, 1.3)
    parts = []
    tiers = [(frontage, depth, height, 0.0)]
    if height > 14 and rng.random() < 0.4:
        setback = rng.uniform(1.5, 3.0)
        tiers = [(frontage, depth, height * rng.uniform(0.55, 0.75), 0.0)]
        tiers.append((frontage - 2 * setback, depth - 2 * setback, height, tiers[0][2]))
    for fw, fd, top, bottom in tiers:
        b = box(
            (fw, fd, top - bottom),
            (center_xy[0], center_xy[1], (top + bottom) / 2),
            yaw,
            color=base,
            material=mat.FACADE,
            params=params,
            color2=window,
        )
        parts.append(b.with_material_where(b.face_normals()[:, 2] > 0.5, mat.PLAIN, roof))
    # parapet / cornice line on the roof edge of the lowest tier
    fw, fd, top, _ = tiers[0]
    parts.append(
        box(
            (fw + 0.3, fd + 0.3, 0.4),
            (center_xy[0], center_xy[1], top - 0.2),
            yaw,
            color=base * 0.7,
            material=mat.PLAIN,
        )
    )
    return MeshPart.concat(parts)


def tree(rng: np.random.Generator, base: np.ndarray) -> MeshPart:
    """Trunk + a jittered icosphere canopy."""
    trunk_h = rng.uniform(2.0, 3.2)
    r = rng.uniform(1.6, 2.8)
    trunk = cylinder(
        rng.uniform(0.12, 0.2),
        trunk_h + r * 0.5,
        (base[0], base[1], base[2]),
        sections=7,
        color=(0.20, 0.13, 0.08),
    )
    sphere = trimesh.creation.icosphere(subdivisions=1, radius=r)
    v = sphere.vertices * (1.0 + rng.uniform(-0.18, 0.18, size=(len(sphere.vertices), 1)))
    v[:, 2] *= rng.uniform(1.0, 1.35)
    v += [base[0], base[1], base[2] + trunk_h + r]
    green = np.array([0.07, 0.20, 0.05]) * rng.uniform(0.7, 1.3) + rng.uniform(0, 0.05, 3)
    canopy = MeshPart.from_trimesh(trimesh.Trimesh(v, sphere.faces, process=False), green, mat.FOLIAGE)
    return MeshPart.concat([trunk, canopy])


def street_light(base: np.ndarray, toward_road_yaw: float) -> MeshPart:
    """A 7 m pole with an arm reaching over the road."""
    grey = (0.25, 0.26, 0.27)
    pole = cylinder(0.09, 7.0, tuple(base), sections=8, color=grey)
    c, s = np.cos(toward_road_yaw), np.sin(toward_road_yaw)
    arm = box(
        (1.6, 0.1, 0.1), (base[0] + 0.8 * c, base[1] + 0.8 * s, base[2] + 6.9), toward_road_yaw, color=grey
    )
    lamp = box(
        (0.6, 0.3, 0.12),
        (base[0] + 1.5 * c, base[1] + 1.5 * s, base[2] + 6.8),
        toward_road_yaw,
        color=(0.9, 0.85, 0.7),
        material=mat.EMISSIVE,
    )
    return MeshPart.concat([pole, arm, lamp])


SIGN_COLORS = np.array([[0.6, 0.03, 0.03], [0.03, 0.12, 0.5], [0.8, 0.8, 0.78], [0.75, 0.55, 0.03]])


def sign(rng: np.random.Generator, base: np.ndarray, facing_yaw: float) -> MeshPart:
    """A traffic sign: thin pole and a coloured plate facing ``facing_yaw``."""
    pole = cylinder(0.04, 2.6, tuple(base), sections=6, color=(0.5, 0.5, 0.5))
    plate = box(
        (0.05, 0.7, 0.7),
        (base[0], base[1], base[2] + 2.5),
        facing_yaw,
        color=SIGN_COLORS[rng.integers(len(SIGN_COLORS))],
    )
    return MeshPart.concat([pole, plate])


def traffic_light(
    base: np.ndarray, arm_yaw: float, arm_length: float, facing_yaw: float, lit: int
) -> MeshPart:
    """A pole at a corner with an arm over the road and a signal head; ``lit`` 0 red, 1 green."""
    dark = (0.05, 0.05, 0.05)
    pole = cylinder(0.12, 5.8, tuple(base), sections=8, color=(0.22, 0.23, 0.22))
    c, s = np.cos(arm_yaw), np.sin(arm_yaw)
    mid = base + np.array([c, s, 0.0]) * arm_length / 2
    arm = box((arm_length, 0.12, 0.12), (mid[0], mid[1], base[2] + 5.6), arm_yaw, color=(0.22, 0.23, 0.22))
    tip = base + np.array([c, s, 0.0]) * arm_length * 0.85
    head = box((0.3, 0.35, 1.0), (tip[0], tip[1], base[2] + 4.9), facing_yaw, color=dark)
    fc, fs = np.cos(facing_yaw), np.sin(facing_yaw)
    lamp_color = (1.0, 0.1, 0.05) if lit == 0 else (0.1, 1.0, 0.3)
    lamp_z = base[2] + (5.2 if lit == 0 else 4.6)
    lamp = box(
        (0.06, 0.22, 0.22),
        (tip[0] + 0.17 * fc, tip[1] + 0.17 * fs, lamp_z),
        facing_yaw,
        color=lamp_color,
        material=mat.EMISSIVE,
    )
    return MeshPart.concat([pole, arm, head, lamp])


# --- actors (box frame) -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ActorModel:
    """An actor's look: a mesh in its box frame and the box size (width, length, height) [m]."""

    category: str
    size_wlh: tuple[float, float, float]
    mesh: MeshPart


VEHICLE_KINDS = {
    # kind: (category, length range, width range, height range, cabin fraction, cabin offset)
    "sedan": ("vehicle.car", (4.2, 4.8), (1.75, 1.9), (1.42, 1.55), 0.50, -0.05),
    "suv": ("vehicle.car", (4.4, 4.9), (1.85, 2.0), (1.65, 1.85), 0.62, -0.10),
    "van": ("vehicle.car", (4.8, 5.3), (1.9, 2.05), (1.9, 2.15), 0.78, -0.05),
    "truck": ("vehicle.truck", (6.0, 7.5), (2.2, 2.45), (2.8, 3.3), 0.0, 0.0),
}


def vehicle(rng: np.random.Generator, kind: str | None = None, color: np.ndarray | None = None) -> ActorModel:
    """A recognisable vehicle: wheels, body, glass cabin with a painted roof, head and tail lights."""
    if kind is None:
        kind = str(rng.choice(["sedan", "sedan", "sedan", "suv", "suv", "van", "truck"], p=None))
    category, lr, wr, hr, cabin_frac, cabin_off = VEHICLE_KINDS[kind]
    length, width, height = rng.uniform(*lr), rng.uniform(*wr), rng.uniform(*hr)
    paint = CAR_COLORS[rng.integers(len(CAR_COLORS))] if color is None else np.asarray(color)
    z0 = -height / 2
    r = 0.33 if kind != "truck" else 0.48
    parts = []
    for sx in (1, -1):
        for sy in (1, -1):
            w = trimesh.creation.cylinder(r, 0.24, sections=12)
            w.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
            w.apply_translation([sx * (length / 2 - 0.85 * r - 0.45), sy * (width / 2 - 0.125), z0 + r])
            parts.append(MeshPart.from_trimesh(w, (0.03, 0.03, 0.03)))
    clearance = 0.22 if kind != "truck" else 0.45
    glass = (0.03, 0.04, 0.05)
    if kind == "truck":
        cab_len = 2.0
        cab_h = height * 0.8
        parts.append(
            box(
                (cab_len - 0.03, width - 0.1, cab_h - clearance),
                (length / 2 - cab_len / 2 - 0.015, 0, z0 + clearance + (cab_h - clearance) / 2),
                color=paint,
                material=mat.PAINT,
            )
        )
        parts.append(
            box(
                (0.04, width * 0.85, 0.7),
                (length / 2 - 0.02, 0, z0 + cab_h - 0.55),
                color=glass,
                material=mat.GLASS,
            )
        )
        cargo = np.array([0.75, 0.75, 0.72]) * rng.uniform(0.6, 1.1)
        parts.append(
            box(
                (length - cab_len - 0.2, width, height - clearance),
                (-cab_len / 2 - 0.1, 0, z0 + clearance + (height - clearance) / 2),
                color=cargo,
                material=mat.PLAIN,
            )
        )
        body_top = z0 + cab_h
    else:
        body_h = (height - clearance) * 0.5
        z_body = z0 + clearance
        body = frustum((length - 0.06, width - 0.1), (length - 0.36, width - 0.16), z_body, z_body + body_h)
        parts.append(MeshPart.from_trimesh(body, paint, mat.PAINT))
        cab_len = length * cabin_frac
        top_len = cab_len * (0.55 if kind == "sedan" else 0.75)
        cab = frustum(
            (cab_len, width * 0.88),
            (top_len, width * 0.76),
            z_body + body_h,
            height / 2,
            x_bottom=cabin_off * length,
            x_top=cabin_off * length - 0.35 * (cab_len - top_len),
        )
        cab_part = MeshPart.from_trimesh(cab, glass, mat.GLASS)
        parts.append(cab_part.with_material_where(cab_part.face_normals()[:, 2] > 0.9, mat.PAINT, paint))
        body_top = z0 + clearance + body_h
    light_z = body_top - 0.18 if kind != "truck" else z0 + clearance + 0.35
    for sy in (1, -1):
        parts.append(
            box(
                (0.06, 0.35, 0.14),
                (length / 2 - 0.03, sy * (width / 2 - 0.3), light_z),
                color=(0.9, 0.9, 0.8),
                material=mat.EMISSIVE,
            )
        )
        parts.append(
            box(
                (0.06, 0.3, 0.14),
                (-length / 2 + 0.03, sy * (width / 2 - 0.25), light_z),
                color=(0.5, 0.02, 0.02),
                material=mat.EMISSIVE,
            )
        )
    return ActorModel(category, (float(width), float(length), float(height)), MeshPart.concat(parts))


SHIRT_COLORS = np.array(
    [[0.5, 0.05, 0.05], [0.05, 0.1, 0.35], [0.6, 0.6, 0.6], [0.1, 0.3, 0.1], [0.6, 0.4, 0.05]]
)
SKIN_COLORS = np.array([[0.62, 0.42, 0.3], [0.42, 0.26, 0.16], [0.22, 0.12, 0.07], [0.7, 0.52, 0.4]])


def pedestrian(rng: np.random.Generator) -> ActorModel:
    """An adult: legs, torso, arms and a head, in the box frame (x forward)."""
    height = rng.uniform(1.6, 1.88)
    z0 = -height / 2
    shirt = SHIRT_COLORS[rng.integers(len(SHIRT_COLORS))]
    pants = np.array([0.05, 0.06, 0.12]) * rng.uniform(0.5, 2.0)
    skin = SKIN_COLORS[rng.integers(len(SKIN_COLORS))]
    leg_h = height * 0.47
    torso_h = height * 0.33
    parts = [box((0.16, 0.14, leg_h), (0.0, sy * 0.1, z0 + leg_h / 2), color=pants) for sy in (1, -1)]
    parts.append(box((0.26, 0.42, torso_h), (0, 0, z0 + leg_h + torso_h / 2), color=shirt))
    parts += [
        box((0.12, 0.1, torso_h * 0.95), (0, sy * 0.24, z0 + leg_h + torso_h * 0.5), color=shirt)
        for sy in (1, -1)
    ]
    head_r = height * 0.065
    head = trimesh.creation.icosphere(subdivisions=1, radius=head_r)
    head.apply_translation([0, 0, z0 + leg_h + torso_h + head_r * 1.2])
    parts.append(MeshPart.from_trimesh(head, skin))
    return ActorModel("human.pedestrian.adult", (0.6, 0.5, float(height)), MeshPart.concat(parts))
