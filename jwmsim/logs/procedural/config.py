"""Settings of the procedural town and of the logs written from it (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

from jwmsim.errors import ConfigError

# Bump when the generator or renderer changes what a seed produces: cached logs are keyed by it.
GENERATOR_VERSION = "town-v5"


@dataclass(frozen=True)
class TownConfig:
    """What a town may contain; a seed picks values inside these ranges.

    Attributes:
        duration: seconds of actor and ego trajectories [s].
        lanes_per_direction: choices for the main road (the cross road has one lane per direction).
        lane_width: range of lane widths [m].
        sidewalk_width: range of sidewalk widths [m].
        curb_height: sidewalk height above the road [m].
        ego_speed: range of the ego's cruising speed [m/s].
        traffic_density: cars per 100 m of lane, per lane (the same direction as the ego and the other).
        num_pedestrians: pedestrians walking or standing on the sidewalks (at least 1), per 20 s of
            drive (a longer drive gets proportionally more, spread along it).
        trajectory_rate: samples per second of the stored trajectories [Hz].
    """

    duration: float = 20.0  # [s]
    lanes_per_direction: tuple[int, ...] = (2, 2, 3)
    lane_width: tuple[float, float] = (3.3, 3.7)  # [m]
    sidewalk_width: tuple[float, float] = (3.0, 4.5)  # [m]
    curb_height: float = 0.15  # [m]
    ego_speed: tuple[float, float] = (8.5, 11.0)  # [m/s]
    traffic_density: float = 2.2  # [cars / 100 m / lane]
    num_pedestrians: int = 4
    trajectory_rate: float = 20.0  # [Hz]

    def __post_init__(self) -> None:
        if self.duration <= 0 or self.duration > 120:
            raise ConfigError(
                f"town / log duration must be in (0, 120] s, got {self.duration}",
                hint="record longer drives as several logs (make-dataset) or shorten --duration",
            )
        if not self.lanes_per_direction or min(self.lanes_per_direction) < 2:
            raise ConfigError("the main road needs at least 2 lanes per direction")
        if not 2.5 <= self.lane_width[0] <= self.lane_width[1] <= 5.0:
            raise ConfigError(f"lane_width range {self.lane_width} must lie in [2.5, 5] m")
        if self.num_pedestrians < 1:
            raise ConfigError("the town needs at least one pedestrian")
        if self.trajectory_rate < 10:
            raise ConfigError("trajectory_rate must be >= 10 Hz (the camera rate)")


@dataclass(frozen=True)
class LogConfig:
    """How a log is recorded from a town.

    Attributes:
        duration: seconds of log [s] (at most the town's duration).
        width / height: camera image size [px] (all six cameras).
        frame_rate: camera and lidar rate [Hz]; keyframes every ``keyframe_every`` frames.
        jpeg_quality: JPEG quality of the images.
        lidar_beams / lidar_azimuth_steps: LIDAR_TOP ray pattern (beams x steps rays per sweep).
        lidar_range: maximum lidar range [m].
        workers: render processes (0 = one per CPU core, at most 2 by default on small machines).
    """

    duration: float = 20.0  # [s]
    width: int = 320  # [px]
    height: int = 180  # [px]
    frame_rate: float = 10.0  # [Hz]
    keyframe_every: int = 5
    jpeg_quality: int = 90
    lidar_beams: int = 32
    lidar_azimuth_steps: int = 512
    lidar_range: float = 70.0  # [m]
    workers: int = 0

    def __post_init__(self) -> None:
        if self.duration <= 0:
            raise ConfigError(f"log duration must be positive, got {self.duration} s")
        if not (16 <= self.width <= 4096 and 16 <= self.height <= 4096):
            raise ConfigError(f"image size {self.width}x{self.height} must be within 16..4096 px")
        if self.frame_rate <= 0 or self.keyframe_every < 1:
            raise ConfigError("frame_rate must be positive and keyframe_every >= 1")
        if self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")

    @property
    def num_frames(self) -> int:
        return int(round(self.duration * self.frame_rate))
