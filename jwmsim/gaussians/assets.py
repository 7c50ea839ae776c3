"""Actor assets: trimesh meshes -> Gaussians, and the vehicle / pedestrian assets shipped in
``assets/actors`` (made here from trimesh primitives, except the sedan: a car reconstructed from
the real log, taken from the actor bank, :data:`FROM_BANK`; rebuild them with
``python -m jwmsim.gaussians.assets``). The folder is the repository's top-level ``assets/actors``
in a checkout and ``jwmsim/_shipped/assets/actors`` in an installed wheel
(:func:`jwmsim.resources.shipped_path`).

An asset is a :class:`~jwmsim.gaussians.scene.GaussianComponent` in its **box frame** (origin at
the box centre, x forward, y left, z up, metres), so a scenario can insert it at any box pose:
``scene.with_actor("cut_in", load_actor_asset("sedan"))``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import trimesh

from jwmsim.errors import ConfigError
from jwmsim.gaussians.asset_files import ASSET_DIR, load_asset, save_asset
from jwmsim.gaussians.scene import GaussianComponent, logit


def _quats_z_to(normals: np.ndarray) -> np.ndarray:
    """``[N, 4]`` quaternions (w, x, y, z) rotating +z onto each unit normal ``[N, 3]``."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, normals)
    w = 1.0 + normals @ z
    q = np.concatenate([w[:, None], axis], 1)
    flip = w < 1e-8  # normal = -z: rotate by pi about x
    q[flip] = [0.0, 1.0, 0.0, 0.0]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def mesh_to_gaussians(
    mesh: trimesh.Trimesh,
    n: int,
    opacity: float = 0.95,
    thickness: float = 0.1,
    seed: int = 0,
) -> GaussianComponent:
    """Flat Gaussians sampled uniformly on a mesh surface, coloured by the mesh.

    Args:
        mesh: a triangle mesh in the actor's box frame [m]; colours come from its face or vertex
            colours (or texture, where trimesh can sample it); grey when it has none.
        n: number of Gaussians.
        opacity: opacity of every Gaussian in (0, 1).
        thickness: scale along the face normal relative to the in-plane scale.
        seed: sampling seed.

    Returns:
        A component of ``n`` Gaussians: in-plane standard deviation ``0.6 sqrt(area / n)`` so that
        neighbours overlap, oriented with their thin axis along the face normal.
    """
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ConfigError(f"mesh_to_gaussians needs a non-empty trimesh.Trimesh, got {type(mesh).__name__}")
    if n <= 0:
        raise ConfigError(f"mesh_to_gaussians needs n > 0 Gaussians, got {n}")
    try:
        points, faces, colors = trimesh.sample.sample_surface(mesh, n, sample_color=True, seed=seed)
    except (AttributeError, ValueError, IndexError):  # meshes without a samplable visual
        points, faces = trimesh.sample.sample_surface(mesh, n, seed=seed)
        colors = None
    if colors is None:
        rgb = np.full((n, 3), 0.5)
    else:
        rgb = np.asarray(colors, dtype=np.float64)[:, :3] / 255.0
    normals = mesh.face_normals[faces]
    s = 0.6 * float(np.sqrt(mesh.area / n))
    scales = np.tile([s, s, s * thickness], (n, 1))
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    return GaussianComponent(
        means=t(points),
        quats=t(_quats_z_to(normals)),
        log_scales=t(np.log(scales)),
        opacity_logits=logit(torch.full((n,), float(opacity))),
        color_logits=logit(t(rgb), eps=1e-3),
    )


# --- the shipped assets -------------------------------------------------------------------------


def _colored(mesh: trimesh.Trimesh, rgb: tuple[int, int, int]) -> trimesh.Trimesh:
    mesh.visual.face_colors = np.array([*rgb, 255], dtype=np.uint8)
    return mesh


def _box(extents: tuple[float, float, float], center: tuple[float, float, float], rgb) -> trimesh.Trimesh:
    m = trimesh.creation.box(extents=extents)
    m.apply_translation(center)
    return _colored(m, rgb)


def _wheels(length: float, width: float, radius: float, z: float) -> list[trimesh.Trimesh]:
    out = []
    for x in (0.32 * length, -0.32 * length):
        for y in (0.5 * width - 0.12, -0.5 * width + 0.12):
            w = trimesh.creation.cylinder(radius=radius, height=0.22, sections=16)
            w.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
            w.apply_translation([x, y, z])
            out.append(_colored(w, (25, 25, 25)))
    return out


def vehicle_mesh(
    size_wlh: tuple[float, float, float], body_rgb: tuple[int, int, int], cabin: str = "sedan"
) -> trimesh.Trimesh:
    """A box-frame vehicle of nuScenes size ``(width, length, height)`` [m]: wheels, lower body,
    a glass cabin (``sedan``: short, centred; ``van``: long, full height; ``truck``: cab in front
    of a cargo box)."""
    w, length, h = size_wlh
    z0 = -h / 2  # box frame origin at the box centre: the ground is at -h/2
    r = 0.33 if cabin != "truck" else 0.45
    parts = _wheels(length, w, r, z0 + r)
    body_h = 0.45 * h
    parts.append(_box((length, w, body_h), (0, 0, z0 + r * 0.6 + body_h / 2), body_rgb))
    top = z0 + r * 0.6 + body_h
    glass = (60, 70, 85)
    if cabin == "sedan":
        parts.append(
            _box((0.5 * length, 0.92 * w, h / 2 - top), (-0.05 * length, 0, (top + h / 2) / 2), glass)
        )
    elif cabin == "van":
        parts.append(_box((0.95 * length, 0.96 * w, h / 2 - top), (0, 0, (top + h / 2) / 2), body_rgb))
        windshield_h = 0.6 * (h / 2 - top)
        parts.append(
            _box((0.05 * length, 0.9 * w, windshield_h), (0.475 * length, 0, top + 0.6 * windshield_h), glass)
        )
    elif cabin == "truck":
        parts.append(
            _box((0.25 * length, 0.96 * w, h / 2 - top), (0.37 * length, 0, (top + h / 2) / 2), body_rgb)
        )
        parts.append(
            _box((0.7 * length, w, h / 2 - top), (-0.14 * length, 0, (top + h / 2) / 2), (200, 200, 195))
        )
    else:
        raise ConfigError(f"unknown cabin style {cabin!r}", hint="use sedan, van or truck")
    return trimesh.util.concatenate(parts)


def pedestrian_mesh(height: float = 1.75, shirt_rgb: tuple[int, int, int] = (170, 40, 40)) -> trimesh.Trimesh:
    """A standing pedestrian in a 0.6 x 0.6 x ``height`` m box frame: legs, torso, arms, head."""
    z0 = -height / 2
    k = height / 1.75  # widths scale with height (a child is narrower)
    leg_h, torso_h, head_r = 0.47 * height, 0.32 * height, 0.07 * height
    parts = []
    for y in (0.1 * k, -0.1 * k):
        leg = trimesh.creation.cylinder(radius=0.07 * k, height=leg_h, sections=12)
        leg.apply_translation([0, y, z0 + leg_h / 2])
        parts.append(_colored(leg, (40, 45, 70)))
    torso = trimesh.creation.capsule(height=torso_h - 0.34 * k, radius=0.17 * k, count=[12, 12])
    torso.apply_translation([0, 0, z0 + leg_h + torso_h / 2])
    parts.append(_colored(torso, shirt_rgb))
    for y in (0.23 * k, -0.23 * k):
        arm = trimesh.creation.cylinder(radius=0.05 * k, height=0.31 * height, sections=10)
        arm.apply_translation([0, y, z0 + leg_h + torso_h - 0.17 * height])
        parts.append(_colored(arm, shirt_rgb))
    head = trimesh.creation.icosphere(subdivisions=2, radius=head_r)
    head.apply_translation([0, 0, z0 + leg_h + torso_h + head_r])
    parts.append(_colored(head, (205, 165, 135)))
    return trimesh.util.concatenate(parts)


def two_wheeler_mesh(
    size_wlh: tuple[float, float, float], motor: bool, body_rgb: tuple[int, int, int]
) -> trimesh.Trimesh:
    """A bicycle or motorcycle with its rider, in the box frame of nuScenes size (w, l, h) [m]."""
    w, length, h = size_wlh
    z0 = -h / 2
    r = 0.3 if motor else 0.33
    parts = []
    for x in (0.5 * length - r, -0.5 * length + r):
        wheel = trimesh.creation.cylinder(radius=r, height=0.1 if motor else 0.05, sections=20)
        wheel.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
        wheel.apply_translation([x, 0, z0 + r])
        parts.append(_colored(wheel, (20, 20, 20)))
    frame_h = 0.35 if motor else 0.08
    parts.append(
        _box((length - 2 * r, 0.3 if motor else 0.06, frame_h), (0, 0, z0 + r + frame_h / 2), body_rgb)
    )
    # rider: legs down to the frame, torso leaning forward, head
    seat = z0 + r + frame_h
    rider_h = h - (seat - z0)
    torso = trimesh.creation.capsule(height=0.45 * rider_h, radius=0.16, count=[10, 10])
    torso.apply_transform(trimesh.transformations.rotation_matrix(0.35, [0, 1, 0]))
    torso.apply_translation([0.05 * length, 0, seat + 0.42 * rider_h])
    parts.append(_colored(torso, (50, 90, 160)))
    for y in (0.12, -0.12):
        leg = trimesh.creation.cylinder(radius=0.06, height=0.35 * rider_h + r, sections=10)
        leg.apply_translation([0.05 * length, y, seat - r / 2 + 0.1 * rider_h])
        parts.append(_colored(leg, (40, 40, 50)))
    head = trimesh.creation.icosphere(subdivisions=2, radius=0.11)
    head.apply_translation([0.12 * length, 0, z0 + h - 0.12])
    parts.append(_colored(head, (230, 230, 230) if motor else (205, 165, 135)))
    return trimesh.util.concatenate(parts)


def cone_mesh(size_wlh: tuple[float, float, float]) -> trimesh.Trimesh:
    """An orange traffic cone with a white band on a square base."""
    w, _, h = size_wlh
    z0 = -h / 2
    base = _box((w, w, 0.04), (0, 0, z0 + 0.02), (230, 90, 20))
    lower = trimesh.creation.cone(radius=0.4 * w, height=h - 0.04, sections=20)
    lower.apply_translation([0, 0, z0 + 0.04])
    lower.visual.face_colors = np.array([230, 90, 20, 255], dtype=np.uint8)
    centres_z = lower.triangles_center[:, 2] - (z0 + 0.04)
    band = (centres_z > 0.45 * (h - 0.04)) & (centres_z < 0.65 * (h - 0.04))
    lower.visual.face_colors[band] = [240, 240, 240, 255]
    return trimesh.util.concatenate([base, lower])


def barrier_mesh(size_wlh: tuple[float, float, float]) -> trimesh.Trimesh:
    """A road barrier across its box (long along y): two feet and a striped red / white board."""
    w, length, h = size_wlh
    z0 = -h / 2
    parts = [_box((length, 0.1, h * 0.6), (0, y, z0 + 0.3 * h), (90, 90, 90)) for y in (0.4 * w, -0.4 * w)]
    n = 6
    for i in range(n):
        y = -w / 2 + (i + 0.5) * w / n
        rgb = (200, 30, 30) if i % 2 == 0 else (240, 240, 240)
        parts.append(_box((0.08, w / n, 0.4 * h), (0, y, z0 + 0.75 * h), rgb))
    return trimesh.util.concatenate(parts)


# name -> (mesh builder, number of Gaussians, nuScenes size (w, l, h) [m], category); names and sizes
# are the ones jwmsim.scenario.assets offers to scenarios
SHIPPED = {
    "sedan": (
        lambda: vehicle_mesh((1.85, 4.6, 1.5), (160, 25, 30), "sedan"),
        4000,
        (1.85, 4.6, 1.5),
        "vehicle.car",
    ),
    "suv": (
        lambda: vehicle_mesh((1.95, 4.8, 1.8), (35, 60, 120), "sedan"),
        4000,
        (1.95, 4.8, 1.8),
        "vehicle.car",
    ),
    "van": (
        lambda: vehicle_mesh((2.0, 5.2, 2.2), (225, 225, 220), "van"),
        5000,
        (2.0, 5.2, 2.2),
        "vehicle.car",
    ),
    "truck": (
        lambda: vehicle_mesh((2.5, 8.0, 3.2), (30, 110, 60), "truck"),
        6000,
        (2.5, 8.0, 3.2),
        "vehicle.truck",
    ),
    "pedestrian": (lambda: pedestrian_mesh(1.75), 1500, (0.6, 0.6, 1.75), "human.pedestrian.adult"),
    "bus": (
        lambda: vehicle_mesh((2.6, 11.0, 3.2), (230, 180, 30), "van"),
        7000,
        (2.6, 11.0, 3.2),
        "vehicle.bus.rigid",
    ),
    "motorcycle": (
        lambda: two_wheeler_mesh((0.8, 2.1, 1.5), True, (20, 20, 25)),
        1500,
        (0.8, 2.1, 1.5),
        "vehicle.motorcycle",
    ),
    "bicycle": (
        lambda: two_wheeler_mesh((0.6, 1.8, 1.7), False, (40, 140, 60)),
        1200,
        (0.6, 1.8, 1.7),
        "vehicle.bicycle",
    ),
    "child": (lambda: pedestrian_mesh(1.2, (40, 120, 200)), 1000, (0.5, 0.5, 1.2), "human.pedestrian.child"),
    "traffic_cone": (lambda: cone_mesh((0.4, 0.4, 0.7)), 400, (0.4, 0.4, 0.7), "movable_object.trafficcone"),
    "barrier": (lambda: barrier_mesh((2.0, 0.5, 1.0)), 1200, (2.0, 0.5, 1.0), "movable_object.barrier"),
}


ASSET_NAMES: tuple[str, ...] = tuple(SHIPPED)  # what scenarios may insert (jwmsim.scenario.assets)

# shipped assets made from a reconstructed actor of the actor bank (jwmsim.gaussians.actor_bank),
# by bank class, at the asset's box size; their mesh in SHIPPED is used only where there is no bank
FROM_BANK: dict[str, str] = {"sedan": "car"}


def available_assets(directory: Path = ASSET_DIR) -> list[str]:
    """Names of the assets in ``directory`` (default: the shipped ``assets/actors``)."""
    return sorted(p.stem for p in Path(directory).glob("*.safetensors"))


def load_actor_asset(name: str, directory: Path = ASSET_DIR) -> GaussianComponent:
    """A shipped actor asset by name (see :data:`ASSET_NAMES`)."""
    path = Path(directory) / f"{name}.safetensors"
    if not path.is_file():
        if not Path(directory).is_dir():
            raise ConfigError(
                f"the actor asset folder {directory} does not exist",
                hint="reinstall jwmsim (a wheel built with `pip wheel .` carries the assets) or "
                "rebuild them with `python -m jwmsim.gaussians.assets`",
            )
        raise ConfigError(
            f"no actor asset named {name!r} in {directory}", hint=f"available: {available_assets(directory)}"
        )
    return load_asset(path)[0]


def mesh_asset(name: str) -> GaussianComponent:
    """Asset ``name`` of :data:`SHIPPED` built from its trimesh model (deterministic), whatever
    the shipped file holds (for comparisons with bank-made assets)."""
    if name not in SHIPPED:
        raise ConfigError(f"no shipped asset named {name!r}", hint=f"one of {list(SHIPPED)}")
    build, n, _, _ = SHIPPED[name]
    return mesh_to_gaussians(build(), n, seed=list(SHIPPED).index(name))


def build_shipped_assets(directory: Path = ASSET_DIR, bank: Path | None = None) -> list[Path]:
    """(Re)build every asset of :data:`SHIPPED` into ``directory``; deterministic. Those of
    :data:`FROM_BANK` are the best-covered actor of their class in the actor bank ``bank``
    (default: ``directory/bank``) scaled to their box, or their mesh where that bank is absent."""
    from jwmsim.gaussians.actor_bank import load_bank_actor

    bank = Path(directory) / "bank" if bank is None else Path(bank)
    out = []
    for name, (_, _, size_wlh, category) in SHIPPED.items():
        meta: dict[str, object] = {"name": name, "size_wlh": list(size_wlh), "category": category}
        if name in FROM_BANK and (bank / "index.json").is_file():
            comp, entry = load_bank_actor(FROM_BANK[name], size_wlh, bank)
            meta |= {"source": "jwmsim.gaussians.actor_bank", "bank_entry": entry["name"]}
            meta |= {"source_log": entry["source_log"], "method": entry["method"]}
        else:
            comp = mesh_asset(name)
            meta["source"] = "jwmsim.gaussians.assets"
        out.append(save_asset(comp, Path(directory) / f"{name}.safetensors", meta))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Build the shipped actor assets.")
    parser.add_argument("--out", type=Path, default=ASSET_DIR)
    for p in build_shipped_assets(parser.parse_args().out):
        print(f"wrote {p} ({p.stat().st_size // 1024} KiB)")
