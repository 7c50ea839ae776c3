"""Driving logs: the :class:`~jwmsim.logs.segment.LogSegment` data model, the nuScenes reader
(:mod:`jwmsim.logs.nuscenes`) and writer (:mod:`jwmsim.logs.nuscenes_writer`), and the built-in
procedural town (:mod:`jwmsim.logs.procedural`)."""

from jwmsim.logs.segment import ActorTrack, Camera, CameraFrame, LidarSweep, LogSegment

__all__ = ["ActorTrack", "Camera", "CameraFrame", "LidarSweep", "LogSegment"]
