"""Shared fixtures: one tiny town log (1 s, 96x54, sparse lidar) and a tiny random-weight model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jwmsim.logs.procedural import LogConfig, write_town_log

TOWN_SEED = 120  # a training seed (the data code refuses evaluation seeds)
TINY_LOG = LogConfig(duration=1.0, width=96, height=54, lidar_azimuth_steps=256, workers=1)
TINY_MODEL = dict(
    image_hw=(32, 56),
    enc_channels=(8, 8, 8),
    feat_dim=8,
    query_dim=16,
    num_points=2,
    gaussians_per_query=2,
    max_lidar_queries=300,
    max_anchor_queries=40,
    max_actor_queries=20,
    anchor_voxel=4.0,
)


@pytest.fixture(scope="session")
def tiny_log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_town_log(TOWN_SEED, tmp_path_factory.mktemp("worldrec") / "town", TINY_LOG, progress=False)


@pytest.fixture(scope="session")
def tiny_segment(tiny_log_path: Path):  # noqa: ANN201
    from jwmsim.logs.nuscenes import load_nuscenes_log

    return load_nuscenes_log(tiny_log_path)


@pytest.fixture()
def tiny_model():  # noqa: ANN201
    import torch

    from jwmsim.worldrec.modeling_worldrec import WorldRecModel

    torch.manual_seed(0)
    return WorldRecModel(**TINY_MODEL)


@pytest.fixture(scope="session")
def tiny_cache(tiny_segment):  # noqa: ANN001, ANN201
    from jwmsim.worldrec.inputs import LogCache

    return LogCache.from_segment(tiny_segment, TINY_MODEL["image_hw"])


@pytest.fixture(scope="session")
def tiny_model_config() -> dict:
    """Keyword arguments of the tiny test model."""
    return dict(TINY_MODEL)


@pytest.fixture(scope="session")
def town_seed() -> int:
    return TOWN_SEED


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
