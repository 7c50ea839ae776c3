"""The same export in this process, over local worker processes and over Ray: the same scenes,
ego poses and boxes (each run depends only on the scenario's seed and its run index)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import options

from jwmsim.errors import ConfigError
from jwmsim.export import ExportOptions, ExportResult, export


def _table(result: ExportResult, name: str) -> list[dict]:
    return json.loads((result.out / result.version / f"{name}.json").read_text())


def _assert_same_export(a: ExportResult, b: ExportResult) -> None:
    assert a.scenes == b.scenes
    for name in ("scene", "sample", "instance", "sensor", "calibrated_sensor", "ego_pose", "map"):
        assert _table(a, name) == _table(b, name), name
    ann_a = {r["token"]: r for r in _table(a, "sample_annotation")}
    ann_b = {r["token"]: r for r in _table(b, "sample_annotation")}
    assert ann_a.keys() == ann_b.keys()
    for tok, ra in ann_a.items():
        rb = ann_b[tok]
        assert np.allclose(ra["translation"], rb["translation"]) and ra["rotation"] == rb["rotation"]
        assert ra["velocity"] == rb["velocity"] and ra["size"] == rb["size"]
        assert abs(ra["visible_fraction"] - rb["visible_fraction"]) < 0.05  # renders may differ by ulps
    assert len(_table(a, "sample_data")) == len(_table(b, "sample_data"))


def test_local_processes_export_the_same_scenes(
    exported: ExportResult, scenario_file: Path, tmp_path: Path
) -> None:
    result = export(scenario_file, options(tmp_path / "data", workers=2))
    assert result.backend["name"] == "local" and len(result.exported) == 2
    _assert_same_export(exported, result)


def test_ray_exports_the_same_scenes(
    exported: ExportResult, scenario_file: Path, tmp_path: Path, local_ray: object
) -> None:
    result = export(scenario_file, options(tmp_path / "data", backend="ray", workers=2))
    assert result.backend["name"] == "ray" and len(result.exported) == 2
    _assert_same_export(exported, result)


def test_backend_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="execution backend 'slurm'"):
        ExportOptions(out=tmp_path / "x", backend="slurm")
    with pytest.raises(ConfigError, match="--ray-address needs --backend ray"):
        ExportOptions(out=tmp_path / "x", ray_address="head:6379")
