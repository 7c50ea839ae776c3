"""The split of the shared real log (PandaSet 002, ``scene-pandaset-002``) between training and an
out-of-sample "new log".

Learned models (WorldRec, WorldGen) may read the real log's frames ``0-39`` only
(:data:`TRAIN_FRAMES`: images, lidar sweeps and boxes up to the first camera time of frame 40).
Frames ``40-59`` (:data:`NEW_LOG_FRAMES`) play a log the models never saw: it is reconstructed from
its own frames, and scored on every 4th of them (:func:`is_new_log_heldout`: local index
``i % 4 == 2``, i.e. frames 42, 46, 50, 54, 58), which no method reads.

:func:`check_training_frames` refuses a frame of 40-59 wherever training code loads the real log,
and :func:`training_part` cuts the log at frame 40 so that nothing later can be read at all.
"""

from __future__ import annotations

from collections.abc import Iterable

from jwmsim.errors import ConfigError
from jwmsim.logs.segment import LogSegment

REAL_LOG_NAME = "scene-pandaset-002"  # scene name of the shared real log
TRAIN_FRAMES = range(0, 40)  # frames training may read
NEW_LOG_FRAMES = range(40, 60)  # the out-of-sample "new log"
NEW_LOG_HOLDOUT_EVERY = 4  # every 4th frame of the new log is held out (local i % 4 == 2)


class RealLogSplitError(ConfigError):
    """Training asked for a frame of the real log reserved for out-of-sample evaluation."""


def is_real_log(segment_or_name: LogSegment | str) -> bool:
    """Whether ``segment_or_name`` is the shared real log (by scene name)."""
    name = segment_or_name if isinstance(segment_or_name, str) else segment_or_name.name
    return name == REAL_LOG_NAME


def check_training_frames(log_name: str, frames: Iterable[int]) -> None:
    """Refuse training reads of the real log's frames 40-59 (no-op for any other log).

    Raises:
        RealLogSplitError: some index of ``frames`` is outside :data:`TRAIN_FRAMES`.
    """
    if not is_real_log(log_name):
        return
    bad = sorted({int(i) for i in frames if int(i) not in TRAIN_FRAMES})
    if bad:
        raise RealLogSplitError(
            f"training may not read frames {bad[:6]}{'...' if len(bad) > 6 else ''} of the real log "
            f"{log_name!r}",
            hint=f"training reads frames {TRAIN_FRAMES.start}-{TRAIN_FRAMES.stop - 1} only; frames "
            f"{NEW_LOG_FRAMES.start}-{NEW_LOG_FRAMES.stop - 1} are the out-of-sample log",
        )


def boundary_time(segment: LogSegment, frame: int = NEW_LOG_FRAMES.start) -> float:
    """The earliest camera time of ``frame`` [s] (cameras are not synchronous)."""
    return min(segment.frames[c][frame].time for c in segment.camera_names)


def training_part(segment: LogSegment) -> LogSegment:
    """The part of the real log training may read: everything before the first camera time of
    frame 40 (frames, lidar sweeps, boxes, ego poses). Any other log is returned unchanged."""
    if not is_real_log(segment):
        return segment
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    if n <= NEW_LOG_FRAMES.start:
        return segment
    t1 = boundary_time(segment) - 1e-3
    part = segment.time_window(0.0, t1)  # t0 = 0: times are unchanged
    check_training_frames(segment.name, range(min(len(f) for f in part.frames.values())))
    return part


def frame_range(segment: LogSegment, first: int, last: int) -> LogSegment:
    """Frames ``first..last`` (inclusive) of every camera as a log of their own, re-timed to start
    at 0 (lidar, boxes and ego poses cut to the same span).

    Raises:
        ConfigError: the range is empty or outside the log, or the cameras' frames interleave so
            that the span cannot be cut cleanly.
    """
    n = min(len(segment.frames[c]) for c in segment.camera_names)
    if not 0 <= first <= last < n:
        raise ConfigError(f"frames {first}-{last} are not in log {segment.name} ({n} frames)")
    t0 = min(segment.frames[c][first].time for c in segment.camera_names)
    t1 = max(segment.frames[c][last].time for c in segment.camera_names)
    part = segment.time_window(t0, t1)
    counts = {c: len(f) for c, f in part.frames.items()}
    if set(counts.values()) != {last - first + 1}:
        raise ConfigError(
            f"frames {first}-{last} of log {segment.name} cannot be cut by time: the cameras hold "
            f"{counts} frames in that span"
        )
    return part


def new_log(segment: LogSegment) -> LogSegment:
    """The out-of-sample "new log": frames 40-59 of the real log (local indices 0-19)."""
    return frame_range(segment, NEW_LOG_FRAMES.start, NEW_LOG_FRAMES.stop - 1)


def is_new_log_heldout(local_index: int) -> bool:
    """Whether frame ``local_index`` of :func:`new_log` is held out (``i % 4 == 2``)."""
    return local_index % NEW_LOG_HOLDOUT_EVERY == NEW_LOG_HOLDOUT_EVERY // 2
