"""Merging finished scenes into the export's dataroot, and rewriting its tables atomically.

A scene task leaves a complete single-scene nuScenes folder in ``.export/staging/<scene>/``.
:func:`adopt_scene` moves its images to ``samples/`` and ``sweeps/`` of the dataroot, keeps its
table rows (with the extra keys below) as ``.export/scenes/<scene>.json`` and removes the staged
folder; it is idempotent, so a merge cut short is finished on the next start. :func:`write_tables`
builds the 13 tables of every finished scene, the map and ``provenance.json``, writes each to a
temporary file and then renames them all into place (``os.replace``).

Extra keys (nuScenes tolerates them; the devkit keeps them in the records it returns):

* ``sample_data["provenance"]``: id of the scene's record in ``provenance.json``;
* ``sample_annotation["velocity"]``: ``[vx, vy, vz]`` world-frame velocity as simulated [m/s]
  (nuScenes derives velocity from neighbouring boxes, see ``NuScenes.box_velocity``),
  ``["visible_fraction"]`` (what the visibility token bins), ``["actor_id"]`` (the simulator's
  id), ``["actor_source"]`` (``log`` or ``inserted``) and ``["behaviour"]``.

The scenes share one ``sensor`` record per channel and one ``map`` record (the seed log's map,
copied with its lanes and drivable-area GeoJSON); each scene keeps its own ``log`` (every jittered
run is its own drive) and ``calibrated_sensor`` records.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwmsim.errors import LogFormatError
from jwmsim.export.layout import ExportLayout
from jwmsim.logs.nuscenes_writer import TABLE_NAMES, token

SCENE_TABLES = (
    "calibrated_sensor", "ego_pose", "instance", "log", "sample", "sample_annotation", "sample_data", "scene",
)  # fmt: skip
SHARED_TABLES = ("attribute", "category", "visibility")
EXTRAS_FILE = "extras/export.json"  # in a staged scene (scene_task.EXTRAS_NAME)
PROVENANCE_FORMAT = "jwmsim-export-provenance/1"


@dataclass(frozen=True)
class SourceMap:
    """The seed log's map files (what every exported scene's ``log`` points at).

    Attributes:
        png: the map image (``semantic_prior``, 255 = drivable).
        lanes: lane centrelines (``maps/lanes/<map_token>.json``) or None.
        drivable_geojson: ``extras/drivable_area.geojson`` or None.
        location: the seed log's location.
    """

    png: Path
    lanes: Path | None
    drivable_geojson: Path | None
    location: str


def source_map(dataroot: Path, version: str, scene: str) -> SourceMap:
    """The map of scene ``scene`` in the nuScenes dataroot ``dataroot``."""
    tables = dataroot / version

    def read(name: str) -> list[dict]:
        return json.loads((tables / f"{name}.json").read_text())

    scenes = [s for s in read("scene") if s["name"] == scene]
    if not scenes:
        raise LogFormatError(f"scene {scene!r} is not in {tables}", hint="check the scenario's log")
    log_token = scenes[0]["log_token"]
    location = next((lg.get("location", "") for lg in read("log") if lg["token"] == log_token), "")
    maps = [m for m in read("map") if log_token in m.get("log_tokens", [])]
    if not maps:
        raise LogFormatError(
            f"the log of scene {scene!r} in {tables} has no map record",
            hint="a nuScenes log needs a map (map.json + its png) to be exported",
        )
    png = dataroot / maps[0]["filename"]
    if not png.is_file():
        raise LogFormatError(
            f"map image {png} of the seed log is missing", hint="restore or regenerate the log"
        )
    lanes = dataroot / "maps" / "lanes" / f"{maps[0]['token']}.json"
    geojson = dataroot / "extras" / "drivable_area.geojson"
    return SourceMap(
        png, lanes if lanes.is_file() else None, geojson if geojson.is_file() else None, location or "jwmsim"
    )


def write_json_atomic(path: Path, payload: Any, indent: int | None = 1) -> None:
    """``payload`` as JSON at ``path``, through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(payload, indent=indent))
    os.replace(tmp, path)


def _copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.partial-{uuid.uuid4().hex[:8]}")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def staged_scene_complete(layout: ExportLayout, scene_name: str) -> bool:
    """Whether a staged scene folder is complete (its writer renamed it into place)."""
    return (layout.staged(scene_name) / layout.version / "scene.json").is_file()


def adopt_scene(layout: ExportLayout, scene_name: str) -> Path:
    """Move a complete staged scene into the dataroot (see the module docstring).

    Returns:
        the scene's fragment file.
    """
    staged = layout.staged(scene_name)
    tables = {
        name: json.loads((staged / layout.version / f"{name}.json").read_text())
        for name in TABLE_NAMES
        if name != "map"
    }
    extras = json.loads((staged / EXTRAS_FILE).read_text())
    prov_id = extras["provenance"]["id"]
    for row in tables["sample_data"]:
        row["provenance"] = prov_id
        src, dst = staged / row["filename"], layout.root / row["filename"]
        if src.is_file():  # already moved when an earlier merge was cut short
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
        elif not dst.is_file():
            raise LogFormatError(
                f"staged image {src} of {scene_name} is missing", hint="export the run again"
            )
    ann_extras = extras["annotations"]
    for row in tables["sample_annotation"]:
        row.update(ann_extras.get(row["token"], {}))
    channel_of = {s["token"]: s["channel"] for s in tables["sensor"]}
    for cs in tables["calibrated_sensor"]:
        cs["sensor_token"] = shared_sensor_token(layout.version, channel_of[cs["sensor_token"]])
    tables["sensor"] = [
        {**s, "token": shared_sensor_token(layout.version, s["channel"])} for s in tables["sensor"]
    ]
    fragment = {
        "scene": scene_name,
        "run": int(extras["provenance"]["run"]),
        "tables": tables,
        "provenance": extras["provenance"],
        "run_record": extras["run"],
    }
    path = layout.fragment(scene_name)
    write_json_atomic(path, fragment, indent=None)
    shutil.rmtree(staged, ignore_errors=True)
    return path


def shared_sensor_token(version: str, channel: str) -> str:
    """The one ``sensor`` token of ``channel`` in an export."""
    return token("jwmsim-export", version, "sensor", channel)


def finished_fragments(layout: ExportLayout) -> dict[str, Path]:
    """Fragment files of the finished scenes, by scene name."""
    if not layout.fragments.is_dir():
        return {}
    return {p.stem: p for p in sorted(layout.fragments.glob("*.json"))}


def write_tables(layout: ExportLayout, source: SourceMap) -> int:
    """Rewrite the tables, map and ``provenance.json`` from every finished scene.

    Returns:
        the number of scenes in the tables (0: nothing was written).
    """
    fragments = [json.loads(p.read_text()) for p in finished_fragments(layout).values()]
    fragments.sort(key=lambda f: f["run"])
    if not fragments:
        return 0
    tables: dict[str, list[dict]] = {name: [] for name in TABLE_NAMES}
    seen: dict[str, set[str]] = {name: set() for name in (*SHARED_TABLES, "sensor")}
    for frag in fragments:
        for name in SCENE_TABLES:
            tables[name].extend(frag["tables"][name])
        for name in seen:
            for row in frag["tables"][name]:
                if row["token"] not in seen[name]:
                    seen[name].add(row["token"])
                    tables[name].append(row)
    map_token = token("jwmsim-export", layout.version, "map")
    tables["map"] = [
        {
            "category": "semantic_prior",
            "token": map_token,
            "filename": f"maps/{map_token}.png",
            "log_tokens": [lg["token"] for lg in tables["log"]],
        }
    ]
    png = layout.root / "maps" / f"{map_token}.png"
    if not png.is_file():
        _copy_atomic(source.png, png)
    if source.lanes is not None and not (layout.root / "maps" / "lanes" / f"{map_token}.json").is_file():
        _copy_atomic(source.lanes, layout.root / "maps" / "lanes" / f"{map_token}.json")
    if (
        source.drivable_geojson is not None
        and not (layout.root / "extras" / "drivable_area.geojson").is_file()
    ):
        _copy_atomic(source.drivable_geojson, layout.root / "extras" / "drivable_area.geojson")
    provenance = {
        "format": PROVENANCE_FORMAT,
        "key": "sample_data['provenance'] names a record of 'records'",
        "records": {f["provenance"]["id"]: f["provenance"] for f in fragments},
    }
    layout.tables.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name in TABLE_NAMES:
            dst = layout.tables / f"{name}.json"
            tmp = dst.with_name(f".{dst.name}.partial-{uuid.uuid4().hex[:8]}")
            tmp.write_text(json.dumps(tables[name], indent=1))
            staged.append((tmp, dst))
        dst = layout.provenance
        tmp = dst.with_name(f".{dst.name}.partial-{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps(provenance, indent=1))
        staged.append((tmp, dst))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    with _no_sigint():  # every file is complete before the first rename; all renames happen
        for tmp, dst in staged:
            os.replace(tmp, dst)
    return len(fragments)


@contextlib.contextmanager
def _no_sigint() -> Iterator[None]:
    """Hold Ctrl-C back for the few microseconds of the renames (main thread only), so that the
    tables are never a mix of two versions."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
