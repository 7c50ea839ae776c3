"""The procedural town: roads, sidewalks, buildings, props, actors and the ego drive, from a seed.

``Town.generate(seed)`` lays out a main road (2-3 lanes per direction, a 940 m S-bend: straight -
curve - straight - opposite curve - straight, long enough for a one-minute drive) crossed by two
side roads at signalised four-way junctions with zebra crossings (and, on most seeds, a T-junction
side street), sidewalks with curbs, buildings with varied facades, trees, street lights, signs,
parked and moving cars, cars waiting at the junctions and pedestrians. Its lanes are the roads'
lanes (running unbroken through the junctions) plus turn connector lanes at each four-way
junction, which start on an approaching lane and end on an exit lane. All coordinates are nuScenes
global metres and positive (the devkit's map raster starts at (0, 0)); the road surface is the
plane z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely
import shapely.geometry
import trimesh
from shapely.geometry.base import BaseGeometry

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3
from jwmsim.logs.nuscenes_writer import token
from jwmsim.logs.procedural import materials as mat
from jwmsim.logs.procedural import meshes, traffic
from jwmsim.logs.procedural.actors import Actor
from jwmsim.logs.procedural.config import GENERATOR_VERSION, TownConfig
from jwmsim.logs.procedural.meshes import MeshPart
from jwmsim.logs.procedural.roads import (
    JunctionZone,
    RefLine,
    Road,
    junction_zone,
    plan_markings,
    stripe_quads,
    turn_connectors,
)
from jwmsim.logs.procedural.signals import junction_lights
from jwmsim.logs.signals import TrafficLight

ASPHALT = (0.085, 0.085, 0.09)
SIDEWALK = (0.36, 0.35, 0.33)
CURB = (0.45, 0.45, 0.43)


@dataclass(frozen=True)
class Lighting:
    """Sun and sky of a town.

    Attributes:
        sun_direction: ``[3]`` unit vector from the ground towards the sun (world frame).
        sun_color / sky_zenith / sky_horizon: linear RGB.
        cloudiness: 0 (clear) .. 1 (overcast-ish patches).
    """

    sun_direction: np.ndarray
    sun_color: np.ndarray
    sky_zenith: np.ndarray
    sky_horizon: np.ndarray
    cloudiness: float


@dataclass(frozen=True)
class Town:
    """A generated town with its actors and the ego drive (see :meth:`generate`).

    Attributes:
        seed / config: what generated it.
        roads: the main road first, then the crossing roads ``cross`` and ``cross2``, then ``tee``
            where the seed has one.
        junctions: per road name, the arc-length intervals covered by crossing roads.
        drivable_area: road surface polygon (world xy). sidewalk_area: sidewalks polygon.
        lanes / lane_widths: lane centrelines ``[N, 2]`` in the direction of travel, by lane id
            (``<road>:fwd|bwd:<index>``, and ``<from lane>><to lane>`` for turn connectors).
        static_mesh: all static geometry in world coordinates.
        actors: other road users, in a stable order (instance index = position + 1).
        ego_times / ego_states: ``[T]`` s and ``[T, 4]`` x, y, yaw, z of the ego frame.
        ego_lane: lane id the ego drives in.
        lighting: sun and sky.
        traffic_lights: one head per approach of each four-way junction, on the town's clock
            (:mod:`jwmsim.logs.procedural.signals`).
    """

    seed: int
    config: TownConfig
    roads: tuple[Road, ...]
    junctions: dict[str, list[JunctionZone]]
    drivable_area: BaseGeometry
    sidewalk_area: BaseGeometry
    lanes: dict[str, np.ndarray]
    lane_widths: dict[str, float]
    static_mesh: MeshPart
    actors: tuple[Actor, ...]
    ego_times: np.ndarray
    ego_states: np.ndarray
    ego_lane: str
    lighting: Lighting
    traffic_lights: tuple[TrafficLight, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # --- identity -----------------------------------------------------------------------------
    @property
    def log_name(self) -> str:
        return f"jwmsim-town-{self.seed}"

    @property
    def scene_name(self) -> str:
        return f"scene-town-{self.seed:04d}"

    def instance_token(self, actor_id: str) -> str:
        """The nuScenes instance token of ``actor_id`` in logs written from this town."""
        return token(self.log_name, self.scene_name, "instance", actor_id)

    def actor(self, key: str) -> Actor:
        """An actor by id or by its instance token in the written log."""
        index = self._cache.get("actor_index")
        if index is None:
            index = {a.actor_id: a for a in self.actors}
            index.update({self.instance_token(a.actor_id): a for a in self.actors})
            self._cache["actor_index"] = index
        if key not in index:
            raise ConfigError(
                f"unknown actor {key!r} in town {self.seed}",
                hint=f"actor ids are like {[a.actor_id for a in self.actors[:3]]}",
            )
        return index[key]

    # --- poses --------------------------------------------------------------------------------
    def ego_pose_at(self, t: float) -> SE3:
        """Ego pose ``world_from_ego`` at ``t`` [s] (interpolated, held at the ends)."""
        i = int(np.clip(np.searchsorted(self.ego_times, t) - 1, 0, len(self.ego_times) - 2))
        t0, t1 = self.ego_times[i], self.ego_times[i + 1]
        a = float(np.clip((t - t0) / (t1 - t0), 0.0, 1.0))
        s0, s1 = self.ego_states[i], self.ego_states[i + 1]
        dyaw = (s1[2] - s0[2] + np.pi) % (2 * np.pi) - np.pi
        x, y = s0[:2] + a * (s1[:2] - s0[:2])
        return SE3.from_xy_yaw(float(x), float(y), float(s0[2] + a * dyaw), z=0.0)

    def actor_poses_at(self, t: float) -> dict[str, SE3]:
        """Box poses of the actors present at ``t``, by actor id."""
        return {a.actor_id: a.pose_at(t) for a in self.actors if a.is_present(t)}

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def generate(cls, seed: int, config: TownConfig | None = None) -> Town:
        """Build the town of ``seed`` (deterministic: same seed and config, same town)."""
        return generate_town(seed, config or TownConfig())


def _rng(seed: int, part: str) -> np.random.Generator:
    """Independent random stream per part, so changing one part does not reshuffle the others."""
    return np.random.default_rng([seed, int.from_bytes(part.encode()[:8].ljust(8, b"\0"), "little")])


CROSSINGS = ("cross", "cross2")  # the side roads crossing the main road at four-way junctions
MIN_DRIVE = 60.0  # [s] the main road is long enough for this long a drive at the top ego speed
LOOK_AHEAD = 150.0  # [m] and this much road beyond it (planners look ahead; routes run on)


def _layout_roads(seed: int, cfg: TownConfig) -> tuple[list[Road], float, float]:
    """Main road (straight, curve, straight, curve, straight), long enough for a ``MIN_DRIVE``
    drive, crossed by two side roads at signalised four-way junctions (``cross`` after the ego's
    start, ``cross2`` after the first curve) and, on most seeds, a T-junction side street
    (``tee``); returns the roads (main, cross, cross2[, tee]), the ego start arc length and the
    first junction's arc length on the main road."""
    rng = _rng(seed, "roads")
    n = int(rng.choice(cfg.lanes_per_direction))
    lane_w = float(rng.uniform(*cfg.lane_width))
    s_ego = 90.0
    s_junction = s_ego + rng.uniform(45, 75)
    l1 = s_junction + rng.uniform(45, 65)
    radius = rng.uniform(55, 110)
    turn = rng.uniform(np.radians(35), np.radians(75)) * (1 if rng.random() < 0.5 else -1)
    heading = rng.uniform(0, 2 * np.pi)
    median = 0.3 if rng.random() < 0.7 else 1.2
    parking = 2.4 if rng.random() < 0.65 else 0.0
    cross_angle = np.pi / 2 + rng.uniform(-0.2, 0.2)
    cross_lane_w = rng.uniform(3.1, 3.5)
    cross_parking = 2.3 if rng.random() < 0.75 else 0.0
    cross_half_len = 75.0
    # the town's second half (own stream: the first half of the layout does not depend on it)
    far = _rng(seed, "roads-far")
    arc_len = radius * abs(turn)
    l2 = far.uniform(220, 260)  # straight after the first curve, with the second junction
    s_junction2 = l1 + arc_len + far.uniform(120, 150)
    radius2 = far.uniform(70, 120)
    turn2 = -np.sign(turn) * far.uniform(np.radians(25), np.radians(55))  # an S bend: no loop back
    top_speed = cfg.ego_speed[1] * 1.06  # plan_ego's speed varies by 6 %
    length_needed = s_ego + MIN_DRIVE * top_speed + LOOK_AHEAD
    l3 = max(130.0, length_needed - (l1 + arc_len + l2 + radius2 * abs(turn2)))
    segments = [
        ("straight", l1, 0.0),
        ("arc", arc_len, np.sign(turn) / radius),
        ("straight", l2, 0.0),
        ("arc", radius2 * abs(turn2), np.sign(turn2) / radius2),
        ("straight", l3, 0.0),
    ]
    cross2_angle = np.pi / 2 + far.uniform(-0.2, 0.2)
    cross2_lane_w = far.uniform(3.1, 3.5)
    cross2_parking = 2.3 if far.random() < 0.6 else 0.0

    def crossing(main: Road, name: str, s_at: float, angle: float, lane: float, park: float) -> Road:
        p, h = main.ref.frame_at(s_at)
        ch = h + angle
        start = p - cross_half_len * np.array([np.cos(ch), np.sin(ch)])
        cref = RefLine.from_segments((start[0], start[1]), float(ch), [("straight", 2 * cross_half_len, 0.0)])
        return Road(name, cref, 1, 1, lane, 0.3, park)

    def build(origin: np.ndarray) -> tuple[Road, Road, Road]:
        ref = RefLine.from_segments((origin[0], origin[1]), heading, segments)
        main = Road("main", ref, n, n, lane_w, median, parking)
        cross = crossing(main, "cross", s_junction, cross_angle, cross_lane_w, cross_parking)
        cross2 = crossing(main, "cross2", s_junction2, cross2_angle, cross2_lane_w, cross2_parking)
        return main, cross, cross2

    # a T junction on most seeds: a side street branching off behind the ego's start or after the
    # curve (own random stream, so the rest of the layout does not depend on it)
    tee_rng = _rng(seed, "tee")
    tee_plan = None
    if tee_rng.random() < 0.6:
        s_tee = tee_rng.uniform(35, 60) if tee_rng.random() < 0.5 else l1 + arc_len + tee_rng.uniform(25, 60)
        side = 1.0 if tee_rng.random() < 0.5 else -1.0
        angle = np.pi / 2 + tee_rng.uniform(-0.25, 0.25)
        tee_plan = (s_tee, side, angle, tee_rng.uniform(3.1, 3.4), 2.3 if tee_rng.random() < 0.6 else 0.0)

    def build_tee(main: Road) -> Road | None:
        if tee_plan is None:
            return None
        s_tee, side, angle, lane, park = tee_plan
        half = main.half_width_left if side > 0 else main.half_width_right
        start, h = main.ref.to_xy(s_tee, side * (half - 1.0))
        ref = RefLine.from_segments((start[0], start[1]), float(h + side * angle), [("straight", 70.0, 0.0)])
        return Road("tee", ref, 1, 1, lane, 0.3, park)

    main, cross, cross2 = build(np.zeros(2))
    tee = build_tee(main)
    pts = np.concatenate(
        [main.ref.points, cross.ref.points, cross2.ref.points] + ([tee.ref.points] if tee else [])
    )
    margin = 130.0  # room for sidewalks, buildings and the map raster's positive quadrant
    main, cross, cross2 = build(margin - pts.min(axis=0))
    tee = build_tee(main)
    if tee is not None:
        # drop a branch that would run into the other roads (e.g. on the inside of the curve)
        poly = tee.polygon()
        overlap = poly.intersection(main.polygon()).area
        crossings = cross.polygon().union(cross2.polygon()).buffer(12.0)
        if poly.intersects(crossings) or overlap > 4.0 * (tee.half_width_left * 2):
            tee = None
    return [main, cross, cross2] + ([tee] if tee else []), s_ego, s_junction


def _tiles(poly: BaseGeometry, cell: float) -> list[BaseGeometry]:
    """``poly`` cut into pieces by a square grid of ``cell`` metres (small triangles make a much
    better BVH than a few triangles hundreds of metres long)."""
    minx, miny, maxx, maxy = poly.bounds
    xs = np.arange(np.floor(minx / cell) * cell, maxx + cell, cell)
    ys = np.arange(np.floor(miny / cell) * cell, maxy + cell, cell)
    grid = [shapely.geometry.box(x, y, x + cell, y + cell) for x in xs[:-1] for y in ys[:-1]]
    pieces = shapely.intersection(np.array(grid, dtype=object), poly)
    out = []
    for piece in pieces:
        out += [g for g in getattr(piece, "geoms", [piece]) if isinstance(g, shapely.geometry.Polygon)]
    return out


def _flat_mesh(poly: BaseGeometry, z: float, cell: float = 16.0, **appearance: object) -> MeshPart:
    parts = []
    for p in _tiles(poly, cell):
        if p.is_empty or p.area < 1e-3:
            continue
        v2, f = trimesh.creation.triangulate_polygon(p)
        v = np.column_stack([v2, np.full(len(v2), z)])
        f = np.asarray(f)
        # make faces point up
        n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])[:, 2]
        f[n < 0] = f[n < 0][:, ::-1]
        parts.append(MeshPart.from_trimesh(trimesh.Trimesh(v, f, process=False), **appearance))  # type: ignore[arg-type]
    return MeshPart.concat(parts)


def _sidewalk_mesh(poly: BaseGeometry, height: float) -> MeshPart:
    parts = []
    for p in getattr(poly, "geoms", [poly]):
        if p.is_empty or p.area < 1e-2:
            continue
        m = trimesh.creation.extrude_polygon(p, height)
        part = MeshPart.from_trimesh(m, SIDEWALK, mat.SIDEWALK)
        parts.append(part.with_material_where(np.abs(part.face_normals()[:, 2]) < 0.5, mat.PLAIN, CURB))
    return MeshPart.concat(parts)


def _markings(roads: list[Road], junctions: dict[str, list[JunctionZone]]) -> MeshPart:
    parts = []
    for road in roads:
        plan = plan_markings(road, junctions.get(road.name, []))
        for stripe in plan.stripes:
            v2, f = stripe_quads(road, stripe)
            v = np.column_stack([v2, np.full(len(v2), 0.01)])
            tri = trimesh.Trimesh(v, f, process=False)
            parts.append(MeshPart.from_trimesh(tri, stripe.color, mat.MARKING))
    part = MeshPart.concat(parts)
    n = part.face_normals()[:, 2]
    faces = part.faces.copy()
    faces[n < 0] = faces[n < 0][:, ::-1]
    return MeshPart(part.vertices, faces, part.color, part.color2, part.material, part.params)


def _buildings(roads: list[Road], keep_out: BaseGeometry, rng: np.random.Generator) -> list[MeshPart]:
    """Rows of buildings along both sides of every road, outside ``keep_out``."""
    placed: list[BaseGeometry] = []
    parts = []
    for road in roads:
        for side in (1.0, -1.0):
            half = road.half_width_left if side > 0 else road.half_width_right
            s = rng.uniform(0, 6)
            while s < road.ref.length:
                frontage = rng.uniform(9, 24)
                depth = rng.uniform(10, 22)
                setback = rng.uniform(0.0, 3.0) if rng.random() < 0.8 else rng.uniform(6, 14)
                sc = s + frontage / 2
                centre, heading = road.ref.to_xy(sc, side * (half + 4.8 + setback + depth / 2))
                footprint = shapely.affinity.rotate(
                    shapely.geometry.box(-frontage / 2, -depth / 2, frontage / 2, depth / 2),
                    float(heading),
                    origin=(0, 0),
                    use_radians=True,
                )
                footprint = shapely.affinity.translate(footprint, *centre)
                if (
                    rng.random() < 0.9
                    and not footprint.intersects(keep_out)
                    and not any(footprint.intersects(p) for p in placed)
                ):
                    height = float(np.clip(rng.lognormal(np.log(13), 0.45), 5.0, 45.0))
                    parts.append(meshes.building(rng, centre, float(heading), frontage, depth, height))
                    placed.append(footprint.buffer(0.3))
                s += frontage + rng.uniform(0.3, 4.0)
    return parts


def _street_props(
    roads: list[Road],
    junctions: dict[str, list[JunctionZone]],
    sidewalk: BaseGeometry,
    curb: float,
    rng: np.random.Generator,
) -> list[MeshPart]:
    """Trees, street lights and signs on the sidewalks (near the curb), traffic lights at the junction."""
    parts = []
    for road in roads:
        blocked = [(j.s_min - 8.0, j.s_max + 8.0) for j in junctions.get(road.name, [])]
        for side in (1.0, -1.0):
            half = road.half_width_left if side > 0 else road.half_width_right
            s = rng.uniform(2, 10)
            k = 0
            while s < road.ref.length - 2:
                if not any(a <= s <= b for a, b in blocked):
                    xy, heading = road.ref.to_xy(s, side * (half + 0.75))
                    if shapely.contains_xy(sidewalk, xy[0], xy[1]):
                        base = np.array([xy[0], xy[1], curb])
                        toward_road = float(heading) + (-np.pi / 2 if side > 0 else np.pi / 2)
                        if k % 3 == 1:
                            parts.append(meshes.street_light(base, toward_road))
                        elif rng.random() < 0.12:
                            parts.append(
                                meshes.sign(rng, base, float(heading) + (np.pi if side > 0 else 0.0))
                            )
                        elif rng.random() < 0.8:
                            parts.append(meshes.tree(rng, base))
                        k += 1
                s += rng.uniform(8, 15)
    by_name = {r.name: r for r in roads}
    for name in CROSSINGS:
        main, side = roads[0], by_name[name]
        parts += _signals(main, side, _zone_of(main, side), junctions[name][0], curb)
    return parts


def _zone_of(main: Road, other: Road) -> JunctionZone:
    """The main road's junction zone with the crossing road ``other``."""
    zone = junction_zone(main, other.polygon())
    if zone is None:
        raise RuntimeError(f"internal error: the side road {other.name!r} does not cross the main road")
    return zone


def _signals(
    main: Road, side: Road, zone: JunctionZone, side_zone: JunctionZone, curb: float
) -> list[MeshPart]:
    """Traffic lights of a four-way junction: green for the main road, red for the side road."""
    parts = []
    for s_edge, forward in ((zone.s_min - 2.5, True), (zone.s_max + 2.5, False)):
        # signal for the main road's approaching lanes: on the right corner, arm over the lanes
        d = -(main.half_width_right + 0.9) if forward else main.half_width_left + 0.9
        xy, heading = main.ref.to_xy(s_edge, d)
        facing = float(heading) + (np.pi if forward else 0.0)
        arm = float(heading) + (np.pi / 2 if forward else -np.pi / 2)
        parts.append(
            meshes.traffic_light(
                np.array([xy[0], xy[1], curb]), arm, min(7.0, main.half_width_right), facing, lit=1
            )
        )
    for s_edge, forward in ((side_zone.s_min - 2.5, True), (side_zone.s_max + 2.5, False)):
        d = -(side.half_width_right + 0.9) if forward else side.half_width_left + 0.9
        xy, heading = side.ref.to_xy(s_edge, d)
        facing = float(heading) + (np.pi if forward else 0.0)
        arm = float(heading) + (np.pi / 2 if forward else -np.pi / 2)
        parts.append(meshes.traffic_light(np.array([xy[0], xy[1], curb]), arm, 4.0, facing, lit=0))
    return parts


def _lighting(seed: int) -> Lighting:
    rng = _rng(seed, "light")
    elevation = rng.uniform(np.radians(22), np.radians(58))
    azimuth = rng.uniform(0, 2 * np.pi)
    sun = np.array(
        [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
    )
    warm = 1.0 - (elevation - np.radians(22)) / np.radians(36)  # low sun: warmer light
    sun_color = np.array([1.0, 0.93 - 0.08 * warm, 0.85 - 0.18 * warm]) * rng.uniform(2.6, 3.2)
    zenith = np.array([0.16, 0.32, 0.75]) * rng.uniform(0.8, 1.1)
    horizon = np.array([0.62, 0.72, 0.85]) * rng.uniform(0.9, 1.05) + np.array([0.08, 0.03, -0.04]) * warm
    return Lighting(sun, sun_color, zenith, horizon, float(rng.uniform(0.0, 0.8)))


def _extra_pedestrians(cfg: TownConfig) -> int:
    """Pedestrians beyond ``num_pedestrians`` (which is per 20 s of drive) for longer drives."""
    return int(round(cfg.num_pedestrians * max(0.0, cfg.duration - 20.0) / 20.0))


def generate_town(seed: int, config: TownConfig | None = None) -> Town:
    """See :meth:`Town.generate`."""
    cfg = config or TownConfig()
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"town seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    roads, s_ego, _ = _layout_roads(seed, cfg)
    by_name = {r.name: r for r in roads}
    main = roads[0]
    junctions: dict[str, list[JunctionZone]] = {"main": []}
    for name in CROSSINGS:
        junctions["main"].append(_zone_of(main, by_name[name]))
        junctions[name] = [_zone_of(by_name[name], main)]
    if "tee" in by_name:
        tee = by_name["tee"]
        on_main, on_tee = junction_zone(main, tee.polygon()), junction_zone(tee, main.polygon())
        if on_main is None or on_tee is None:
            raise RuntimeError("internal error: the T-junction street does not meet the main road")
        side = float(np.sign(main.ref.project(tee.ref.points[-1:])[1][0]))
        junctions["main"].append(replace(on_main, kind="through", side=side))
        junctions["tee"] = [replace(on_tee, s_min=0.0, kind="branch")]
    rng = _rng(seed, "layout")
    sw_width = float(rng.uniform(*cfg.sidewalk_width))
    road_union = shapely.union_all([r.polygon() for r in roads])
    drivable = road_union.buffer(5.0, join_style="round").buffer(-5.0, join_style="round")
    drivable = drivable.union(road_union).buffer(0)
    outer = drivable.buffer(sw_width, join_style="round")
    sidewalk = outer.difference(drivable)
    minx, miny, maxx, maxy = outer.bounds
    ground = shapely.geometry.box(minx - 400, miny - 400, maxx + 400, maxy + 400).difference(outer)
    ground = shapely.geometry.box(
        max(minx - 400, 0.0), max(miny - 400, 0.0), maxx + 400, maxy + 400
    ).intersection(ground)
    static = [
        _flat_mesh(drivable, 0.0, color=ASPHALT, material=mat.ASPHALT),
        _markings(roads, junctions),
        _sidewalk_mesh(sidewalk, cfg.curb_height),
        _flat_mesh(ground, cfg.curb_height - 0.03, cell=64.0, color=(0.16, 0.2, 0.09), material=mat.TERRAIN),
    ]
    static += _buildings(roads, outer.buffer(0.5), _rng(seed, "buildings"))
    static += _street_props(roads, junctions, sidewalk, cfg.curb_height, _rng(seed, "props"))

    times = np.arange(0.0, cfg.duration + 1e-9, 1.0 / cfg.trajectory_rate)
    trng = _rng(seed, "traffic")
    ego = traffic.plan_ego(main, trng, times, s_ego, cfg.ego_speed)
    actors = traffic.moving_traffic(main, ego, trng, times, cfg.traffic_density)
    window = {"main": (float(ego.s[0]) - 40.0, float(ego.s[-1]) + 60.0)}
    for name in CROSSINGS:
        zone = junctions[name][0]
        window[name] = (zone.s_min - 55, zone.s_max + 55)
    actors += traffic.parked_cars(roads, junctions, _rng(seed, "parked"), times, window)
    for name in CROSSINGS:
        # the first junction keeps its stream and ids; the others get their own
        stream, prefix = ("cross", "") if name == "cross" else (f"{name}-traffic", f"{name}-")
        zone = junctions[name][0]
        actors += traffic.waiting_cross_traffic(by_name[name], zone, _rng(seed, stream), times, prefix)
    if "tee" in junctions:
        actors += traffic.waiting_at_branch(
            by_name["tee"], junctions["tee"][0], _rng(seed, "tee-traffic"), times
        )
    actors += traffic.pedestrians(
        main,
        junctions["main"][0],
        sw_width,
        sidewalk,
        cfg.curb_height,
        ego,
        cfg.num_pedestrians + _extra_pedestrians(cfg),
        _rng(seed, "peds"),
        times,
    )
    lanes, widths = {}, {}
    for road in roads:
        for lane_id, forward, index in road.lane_ids():
            lanes[lane_id] = road.lane_centerline(forward, index)
            widths[lane_id] = road.lane_width
    for name in CROSSINGS:
        side, main_zone, side_zone = by_name[name], _zone_of(main, by_name[name]), junctions[name][0]
        for a, za, b, zb in ((main, main_zone, side, side_zone), (side, side_zone, main, main_zone)):
            for lane_id, pts in turn_connectors(a, za, b, zb).items():
                lanes[lane_id] = pts
                widths[lane_id] = a.lane_width
    lights = []
    for name in CROSSINGS:
        side = by_name[name]
        lights += junction_lights(
            main, side, _zone_of(main, side), junctions[name][0], name, cfg.duration, cfg.curb_height
        )
    return Town(
        seed=seed,
        config=cfg,
        roads=tuple(roads),
        junctions=junctions,
        drivable_area=drivable,
        sidewalk_area=sidewalk,
        lanes=lanes,
        lane_widths=widths,
        static_mesh=MeshPart.concat(static),
        actors=tuple(actors),
        ego_times=times,
        ego_states=ego.states(),
        ego_lane=f"main:fwd:{ego.lane_index}",
        lighting=_lighting(seed),
        traffic_lights=tuple(lights),
    )


__all__ = ["GENERATOR_VERSION", "Lighting", "Town", "generate_town"]
