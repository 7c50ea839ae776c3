"""Small viewer settings for fast tests (imported as ``viewer_options``: pytest puts this folder on
sys.path)."""

from __future__ import annotations

from typing import Any

from jwmsim.viewer.options import ViewerOptions


def small_options(**kw: Any) -> ViewerOptions:
    """One 36x64 camera of the skeleton path, a 240 px BEV over 60 m, no progress bars; ``kw``
    replaces fields."""
    base: dict[str, Any] = dict(
        render="skeleton", cameras=("CAM_FRONT",), image_size=(36, 64), bev_px=240, bev_m=60.0, progress=False
    )
    base.update(kw)
    return ViewerOptions(**base)
