"""Shared fixtures: one small town and one tiny log written from it (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.logs.procedural import LogConfig, Town, write_town_log

TINY = LogConfig(duration=1.0, width=96, height=54, lidar_azimuth_steps=256, workers=2)


@pytest.fixture(scope="session")
def tiny_config() -> LogConfig:
    """96x54 images, 1 s, sparse lidar: the settings of :func:`tiny_log`."""
    return TINY


@pytest.fixture(scope="session")
def town() -> Town:
    return Town.generate(5)


@pytest.fixture(scope="session")
def tiny_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_town_log(5, tmp_path_factory.mktemp("logs") / "town5", TINY, progress=False)
