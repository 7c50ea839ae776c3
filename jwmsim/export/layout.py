"""Where an export keeps what inside its dataroot, and how scenes, logs and timestamps are named.

::

    <out>/
      v1.0-<name>/*.json          the 13 nuScenes tables of every finished scene (rewritten atomically)
      samples/<CHANNEL>/*.jpg     keyframe images (2 Hz), sweeps/<CHANNEL>/*.jpg the others
      maps/<png>                  the source log's map image; maps/lanes/<map_token>.json its lanes
      extras/drivable_area.geojson  the source log's drivable area (when it has one)
      provenance.json             how each image was made, by the id in sample_data["provenance"]
      .export/manifest.json       the settings the export was started with (checked on resume)
      .export/scenes/<scene>.json the finished scenes' table rows (the tables are merged from these)
      .export/staging/            scenes being written (one folder each, discarded if interrupted)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SCENE_SPACING_US = 3_600_000_000  # [us] scene i starts i hours after scene 0: no two scenes overlap


@dataclass(frozen=True)
class ExportLayout:
    """The paths of one export dataroot."""

    root: Path
    version: str  # table folder name, e.g. v1.0-cut_in

    @property
    def tables(self) -> Path:
        return self.root / self.version

    @property
    def state(self) -> Path:
        return self.root / ".export"

    @property
    def manifest(self) -> Path:
        return self.state / "manifest.json"

    @property
    def fragments(self) -> Path:
        return self.state / "scenes"

    @property
    def staging(self) -> Path:
        return self.state / "staging"

    def fragment(self, scene_name: str) -> Path:
        return self.fragments / f"{scene_name}.json"

    def staged(self, scene_name: str) -> Path:
        return self.staging / scene_name

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"


def scene_name(scenario: str, run_index: int) -> str:
    """nuScenes scene name of run ``run_index`` of ``scenario``."""
    return f"scene-{scenario}-{run_index:04d}"


def log_name(scenario: str, run_index: int) -> str:
    """Log name (file name prefix, token key) of run ``run_index``; every run is its own drive."""
    return f"jwmsim-{scenario}-{run_index:04d}"


def scene_start_us(log_start_us: int, start_time_s: float, run_index: int) -> int:
    """Timestamp [us] of the first frame of run ``run_index``: the seed log's time of the scenario's
    start, plus :data:`SCENE_SPACING_US` per run index."""
    return int(log_start_us) + int(round(start_time_s * 1e6)) + run_index * SCENE_SPACING_US
