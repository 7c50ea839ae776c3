"""A bank of actor assets cut out of reconstructed logs.

A reconstructed :class:`~jwmsim.gaussians.scene.GaussianScene` keeps every annotated actor as its
own component in its box frame (WorldRec's per-actor queries, or a per-scene fit). :func:`cut_actors`
takes those components out, keeps the Gaussians inside the box (10 % margin) that are not
transparent, **normalises** them to the box (means divided by the half size, so the box becomes
``[-1, 1]^3``; scales divided by the geometric mean of the half size) and, where one side of a
vehicle was seen much better than the other, mirrors the better side across the length axis
(vehicles are left-right symmetric; the unseen side is otherwise empty). Each entry records its
class, size, source log (name and content digest), actor id and method, and a coverage score:
the fraction of the box's surface cells (a 6 x 6 grid per face) that opaque Gaussians occupy.

A bank is a folder of ``<name>.safetensors`` actor assets (:func:`jwmsim.gaussians.asset_files.save_asset`
format, normalised) and ``index.json``. :func:`load_bank_actor` returns an entry by name or by
class (the best-covered entry of that class), scaled to the box size asked for.

Build one from a saved scene: ``python -m jwmsim.gaussians.actor_bank --scene S.safetensors
--log DATAROOT --out assets/actors/bank``.

Scenarios and the viewer insert bank actors as assets named ``bank:<entry name>`` or
``bank:<class>`` (:func:`bank_assets`); the skeleton render path draws an actor that has neither a
scene component nor an asset as the bank actor of its class (:func:`fallback_class`), at its box.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from jwmsim.errors import ConfigError
from jwmsim.gaussians.asset_files import ASSET_DIR, load_asset, save_asset
from jwmsim.gaussians.scene import GaussianComponent, GaussianScene
from jwmsim.logs.segment import LogSegment

BANK_DIR = ASSET_DIR / "bank"
INDEX = "index.json"
CLASSES = {  # bank class -> nuScenes category prefixes
    "car": ("vehicle.car",),
    "truck": ("vehicle.truck", "vehicle.construction", "vehicle.trailer"),
    "bus": ("vehicle.bus",),
    "two_wheeler": ("vehicle.motorcycle", "vehicle.bicycle"),
    "pedestrian": ("human.pedestrian",),
}
MIRRORED = ("car", "truck", "bus")
PREFIX = "bank:"  # asset names of bank actors in scenarios: bank:<entry name> or bank:<class>
CLASS_KIND = {  # bank class -> coarse kind of jwmsim.sim.state.KINDS
    "car": "vehicle",
    "truck": "vehicle",
    "bus": "vehicle",
    "two_wheeler": "cyclist",
    "pedestrian": "pedestrian",
}
LONG_VEHICLE = 6.5  # [m] a vehicle box longer than this falls back to a truck (or bus), not a car
FACE_CELLS = 6  # surface grid per box face
BOX_MARGIN = 1.1  # a cut actor keeps the Gaussians within this multiple of its half box size


@dataclass(frozen=True)
class BankEntry:
    """One asset of the bank (normalised to its box)."""

    name: str
    cls: str
    category: str
    size_wlh: tuple[float, float, float]  # the source actor's box [m]
    gaussians: int
    coverage: float  # fraction of the box's surface cells covered by opaque Gaussians
    mirrored: bool
    source_log: str
    source_digest: str
    actor_id: str
    method: str


def class_of(category: str) -> str | None:
    """Bank class of a nuScenes category (None: not banked)."""
    for cls, prefixes in CLASSES.items():
        if any(category.startswith(p) for p in prefixes):
            return cls
    return None


def _half(size_wlh: tuple[float, float, float]) -> np.ndarray:
    w, length, h = size_wlh
    return np.array([length, w, h], np.float32) / 2  # box frame: x along the length, y across, z up


def surface_coverage(unit_means: np.ndarray, opacities: np.ndarray, min_opacity: float = 0.3) -> float:
    """Fraction of the ``[-1, 1]^3`` box's surface cells (``FACE_CELLS``^2 per face) within 0.25
    of which lies an opaque Gaussian (``unit_means`` ``[N, 3]``)."""
    pts = unit_means[opacities > min_opacity]
    covered, total = 0, 6 * FACE_CELLS * FACE_CELLS
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        for sign in (-1.0, 1.0):
            near = pts[np.abs(pts[:, axis] - sign) < 0.25]
            if len(near) == 0:
                continue
            cells = np.clip(((near[:, others] + 1) / 2 * FACE_CELLS).astype(int), 0, FACE_CELLS - 1)
            covered += len({(int(a), int(b)) for a, b in cells})
    return covered / total


def normalise(component: GaussianComponent, size_wlh: tuple[float, float, float]) -> GaussianComponent:
    """``component`` (box frame, metres) -> the unit box ``[-1, 1]^3`` (see the module docstring)."""
    half = torch.from_numpy(_half(size_wlh))
    gm = float(torch.log(half).mean())
    return replace(component, means=component.means / half, log_scales=component.log_scales - gm)


def denormalise(component: GaussianComponent, size_wlh: tuple[float, float, float]) -> GaussianComponent:
    """A normalised bank component scaled to a box of ``size_wlh`` (w, l, h) [m]."""
    half = torch.from_numpy(_half(size_wlh)).to(component.means.device)
    gm = float(torch.log(half).mean())
    return replace(component, means=component.means * half, log_scales=component.log_scales + gm)


def _mirror_y(comp: GaussianComponent, keep: torch.Tensor) -> GaussianComponent:
    """The Gaussians ``keep`` reflected across the x-z plane (y -> -y; quaternion (w, x, y, z) ->
    (w, -x, y, -z) is the reflected rotation's proper part)."""
    part = comp.select(keep)
    means = part.means * torch.tensor([1.0, -1.0, 1.0])
    quats = part.quats * torch.tensor([1.0, -1.0, 1.0, -1.0])
    return replace(part, means=means, quats=quats)


def cut_actor(
    component: GaussianComponent, size_wlh: tuple[float, float, float], cls: str, min_opacity: float = 0.05
) -> tuple[GaussianComponent, float, bool]:
    """Normalise one actor (see the module docstring): ``(component, coverage, mirrored)``."""
    unit = normalise(component.detach().to("cpu", torch.float32), size_wlh)
    inside = (unit.means.abs() <= BOX_MARGIN).all(1) & (unit.opacities > min_opacity)
    unit = unit.select(inside)
    mirrored = False
    if cls in MIRRORED and len(unit):
        y = unit.means[:, 1]
        left, right = int((y > 0.3).sum()), int((y < -0.3).sum())
        if max(left, right) > 2 * max(1, min(left, right)):  # one side seen much better
            side = (y > 0.3) if left > right else (y < -0.3)
            unit = GaussianComponent.concat([unit, _mirror_y(unit, side)])
            mirrored = True
    cov = surface_coverage(unit.means.numpy(), unit.opacities.numpy())
    return unit, cov, mirrored


def cut_actors(
    scene: GaussianScene,
    segment: LogSegment,
    min_coverage: float = 0.2,
    classes: tuple[str, ...] = tuple(CLASSES),
) -> list[tuple[BankEntry, GaussianComponent]]:
    """Bank entries of every actor of ``scene`` (annotated in ``segment``) of a banked class whose
    normalised component covers at least ``min_coverage`` of its box surface, best first."""
    from jwmsim.logs.identity import log_identity

    ident = log_identity(segment)
    method = scene.metadata.get("method", "?")
    out = []
    for aid, comp in scene.actors.items():
        track = segment.tracks.get(aid)
        if track is None or len(comp) == 0:
            continue
        cls = class_of(track.category)
        if cls is None or cls not in classes:
            continue
        unit, cov, mirrored = cut_actor(comp, tuple(track.size_wlh), cls)
        if cov < min_coverage or len(unit) < 50:
            continue
        name = f"{cls}-{_safe(segment.name)}-{aid[:8]}"
        entry = BankEntry(
            name,
            cls,
            track.category,
            tuple(float(v) for v in track.size_wlh),
            len(unit),
            round(cov, 3),
            mirrored,
            segment.name,
            ident.digest,
            aid,
            method,
        )
        out.append((entry, unit))
    return sorted(out, key=lambda e: -e[0].coverage)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def save_bank(entries: list[tuple[BankEntry, GaussianComponent]], directory: Path = BANK_DIR) -> Path:
    """Write the entries' assets and merge them into ``directory/index.json`` (atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    index = {e["name"]: e for e in read_index(directory)} if (directory / INDEX).is_file() else {}
    for entry, comp in entries:
        save_asset(comp, directory / f"{entry.name}.safetensors", {**asdict(entry), "normalised": True})
        index[entry.name] = asdict(entry)
    tmp = directory / (INDEX + ".tmp")
    tmp.write_text(json.dumps(sorted(index.values(), key=lambda e: e["name"]), indent=1) + "\n")
    os.replace(tmp, directory / INDEX)
    return directory / INDEX


def read_index(directory: Path = BANK_DIR) -> list[dict[str, object]]:
    """The bank's entries (``index.json``).

    Raises:
        ConfigError: there is no bank in ``directory``.
    """
    path = Path(directory) / INDEX
    if not path.is_file():
        raise ConfigError(
            f"no actor bank at {directory}", hint="build one: python -m jwmsim.gaussians.actor_bank --help"
        )
    return json.loads(path.read_text())


def resolve(name_or_class: str, directory: Path = BANK_DIR) -> dict[str, object]:
    """The bank entry named ``name_or_class``, or the best-covered entry of that class (of equal
    coverage, the one with more Gaussians).

    Raises:
        ConfigError: neither an entry nor a class with entries.
    """
    entries = read_index(directory)
    for e in entries:
        if e["name"] == name_or_class:
            return e
    of_class = [e for e in entries if e["cls"] == name_or_class]
    if not of_class:
        raise ConfigError(
            f"the actor bank has no entry or class {name_or_class!r}",
            hint=f"classes: {sorted({str(e['cls']) for e in entries})}; "
            f"entries: {[e['name'] for e in entries][:8]}",
        )
    return max(of_class, key=lambda e: (float(e["coverage"]), int(e["gaussians"])))  # type: ignore[arg-type]


def load_bank_actor(
    name_or_class: str, size_wlh: tuple[float, float, float] | None = None, directory: Path = BANK_DIR
) -> tuple[GaussianComponent, dict[str, object]]:
    """A bank actor scaled to ``size_wlh`` (default: its source actor's box) and its entry."""
    entry = resolve(name_or_class, directory)
    comp, _ = load_asset(Path(directory) / f"{entry['name']}.safetensors")
    size = tuple(size_wlh) if size_wlh is not None else tuple(entry["size_wlh"])  # type: ignore[arg-type]
    return denormalise(comp, size), entry  # type: ignore[arg-type]


@dataclass(frozen=True)
class BankAsset:
    """A bank actor as a scenario asset: ``name`` (``bank:...``), coarse ``kind`` (as
    :data:`jwmsim.sim.state.KINDS`), nuScenes ``category`` and box ``size_wlh`` [m] (the source
    actor's)."""

    name: str
    kind: str
    category: str
    size_wlh: tuple[float, float, float]


def _index_key(directory: Path) -> tuple[str, int]:
    path = Path(directory) / INDEX
    return str(path), path.stat().st_mtime_ns if path.is_file() else -1


@functools.lru_cache(maxsize=8)
def _bank_assets(key: tuple[str, int]) -> tuple[BankAsset, ...]:
    if key[1] < 0:
        return ()
    entries = read_index(Path(key[0]).parent)
    out = [_as_asset(PREFIX + str(e["name"]), e) for e in entries]
    for cls in sorted({str(e["cls"]) for e in entries}):
        out.append(_as_asset(PREFIX + cls, resolve(cls, Path(key[0]).parent)))
    return tuple(out)


def _as_asset(name: str, entry: dict[str, object]) -> BankAsset:
    size = tuple(float(v) for v in entry["size_wlh"])  # type: ignore[attr-defined]
    return BankAsset(name, CLASS_KIND[str(entry["cls"])], str(entry["category"]), size)  # type: ignore[arg-type]


def bank_assets(directory: Path = BANK_DIR) -> tuple[BankAsset, ...]:
    """Every entry of the bank as ``bank:<name>`` and every class it holds as ``bank:<class>``
    (the class's best-covered entry); empty where there is no bank. Re-read when ``index.json``
    changes."""
    return _bank_assets(_index_key(directory))


def bank_key(asset: str) -> str | None:
    """The entry name or class of a ``bank:...`` asset name (None: not a bank asset)."""
    return asset[len(PREFIX) :] if asset.startswith(PREFIX) and len(asset) > len(PREFIX) else None


def fallback_class(kind: str, length: float, directory: Path = BANK_DIR) -> str | None:
    """The bank class drawn for an actor of coarse ``kind`` and box ``length`` [m] that has no
    Gaussians of its own: vehicles up to :data:`LONG_VEHICLE` are cars, longer ones trucks (a bus
    where the bank has one), cyclists two-wheelers, pedestrians pedestrians; None where the bank
    has no entry of that class (or no bank exists: the caller draws a box)."""
    have = {a.name[len(PREFIX) :] for a in bank_assets(directory)}
    if kind == "vehicle":
        wanted = ("car",) if length <= LONG_VEHICLE else ("bus", "truck")
    elif kind == "cyclist":
        wanted = ("two_wheeler",)
    elif kind == "pedestrian":
        wanted = ("pedestrian",)
    else:
        return None
    return next((c for c in wanted if c in have), None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Cut the actors of a reconstructed scene into the bank.")
    parser.add_argument("--scene", type=Path, required=True, help="saved GaussianScene (.safetensors)")
    parser.add_argument("--log", type=Path, required=True, help="the nuScenes dataroot it was built from")
    parser.add_argument("--out", type=Path, default=BANK_DIR)
    parser.add_argument("--min-coverage", type=float, default=0.2)
    parser.add_argument("--max-per-class", type=int, default=4)
    args = parser.parse_args(argv)
    from jwmsim.logs.identity import log_identity
    from jwmsim.logs.nuscenes import load_nuscenes_log

    segment = load_nuscenes_log(args.log, with_lidar=False)
    scene = GaussianScene.load(args.scene)
    if scene.metadata.get("log_digest") != log_identity(segment).digest:
        raise ConfigError(
            f"scene {args.scene} was not built from log {args.log}",
            hint="pass the dataroot the scene records (its metadata log_dataroot)",
        )
    entries = cut_actors(scene, segment, args.min_coverage)
    kept, per_class = [], {}
    for entry, comp in entries:
        if per_class.get(entry.cls, 0) < args.max_per_class:
            per_class[entry.cls] = per_class.get(entry.cls, 0) + 1
            kept.append((entry, comp))
    index = save_bank(kept, args.out)
    for entry, _ in kept:
        print(f"{entry.name}: {entry.category}, {entry.gaussians} Gaussians, coverage {entry.coverage:.2f}")
    print(f"wrote {len(kept)} entries to {index} (of {len(entries)} candidates)")


if __name__ == "__main__":
    main()
