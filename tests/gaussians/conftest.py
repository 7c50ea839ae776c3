"""Small scenes and rigs shared by the Gaussian tests."""

from __future__ import annotations

import pytest
import torch

from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel, random_component
from jwmsim.geometry import SE3


@pytest.fixture
def tiny_views() -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Two cameras (float64) looking down +z of the world, 40x24 pixels."""
    dt = torch.float64
    viewmats = torch.stack([torch.eye(4, dtype=dt), torch.from_numpy(SE3.from_xy_yaw(0.3, 0.1, 0.15).matrix)])
    ks = torch.tensor([[30.0, 0, 19.5], [0, 30.0, 11.5], [0, 0, 1]], dtype=dt).expand(2, 3, 3).contiguous()
    return viewmats, ks, (24, 40)


@pytest.fixture
def tiny_component() -> GaussianComponent:
    """80 random Gaussians (float64) 3 to 7 m in front of the cameras of ``tiny_views``."""
    return random_component(
        80, center=(0, 0, 5), extent=(4, 1.5, 2), scale_range=(0.05, 0.4), dtype=torch.float64
    )


@pytest.fixture
def scene_with_actors() -> GaussianScene:
    bg = random_component(300, center=(20, 0, 0), extent=(15, 8, 0.05), scale_range=(0.2, 0.5), seed=1)
    car = random_component(200, extent=(2.2, 0.9, 0.7), scale_range=(0.05, 0.15), seed=2)
    ped = random_component(50, extent=(0.3, 0.3, 0.9), scale_range=(0.03, 0.1), seed=3)
    return GaussianScene(bg, {"car": car, "ped": ped}, SkyModel.gradient(), {"source": "test"})
