"""Drawing: bird's-eye view rasters, camera mosaics and video files."""

from jwmsim.viz.bev import BevActor, BevRenderer
from jwmsim.viz.mosaic import camera_mosaic, side_by_side
from jwmsim.viz.video import VideoWriter

__all__ = ["BevActor", "BevRenderer", "VideoWriter", "camera_mosaic", "side_by_side"]
