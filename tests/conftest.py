"""Shared fixtures: the real log in ../shared/data (skipped where absent), a local Ray instance
(skipped where ray is not installed) and the ``gpu`` marker."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PANDASET = Path(os.environ.get("JWMSIM_PANDASET", REPO.parent / "shared" / "data" / "pandaset-002-nusc"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def pandaset_root() -> Path:
    """The real PandaSet log in nuScenes format; tests using it skip where it is absent."""
    if not (PANDASET / "v1.0-mini" / "scene.json").exists():
        pytest.skip(
            f"real log not found at {PANDASET}: place ../shared/data/pandaset-002-nusc beside the "
            "repository or set JWMSIM_PANDASET to its path"
        )
    return PANDASET


@pytest.fixture(scope="session")
def pandaset_log(pandaset_root: Path):
    from jwmsim.logs.nuscenes import load_nuscenes_log

    return load_nuscenes_log(pandaset_root)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    """A local Ray instance (2 CPUs, no dashboard) for the module's tests; they skip, naming the
    install extra, where ray is not installed."""
    ray = pytest.importorskip("ray", reason="ray is not installed (JWMSIM_EXTRAS=dev,ray bash install.sh)")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
