"""``NuScenesWriter(require_map=False)``: a staged scene without a map (the export adds it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jwmsim.errors import ConfigError
from jwmsim.geometry import SE3, CameraIntrinsics
from jwmsim.logs.nuscenes_writer import NuScenesWriter

K = CameraIntrinsics(40.0, 40.0, 31.5, 17.5, 64, 36)


def _write(out: Path, require_map: bool) -> Path:
    with NuScenesWriter(out, require_map=require_map) as w:
        w.add_camera("CAM_FRONT", K, SE3.identity())
        w.add_sample(1_000_000)
        w.add_camera_frame("CAM_FRONT", 1_000_000, SE3.identity(), np.zeros((36, 64, 3), np.uint8), True)
    return out


def test_staged_scene_has_an_empty_map_table_and_no_map_files(tmp_path: Path) -> None:
    out = _write(tmp_path / "staged", require_map=False)
    assert json.loads((out / "v1.0-mini" / "map.json").read_text()) == []
    assert not (out / "maps").exists()
    assert len(json.loads((out / "v1.0-mini" / "sample_data.json").read_text())) == 1


def test_by_default_a_map_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no map"):
        _write(tmp_path / "log", require_map=True)
    assert not (tmp_path / "log").exists()
