"""The built-in seed log: a procedural town recorded on first use into a cache folder.

The folder name carries the generator version, seed, duration and image size, so a change of the
generator produces a new log instead of reusing a stale one. Generation is atomic (temporary
folder, then rename) and guarded by a file lock, so concurrent first uses do not collide.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from jwmsim.errors import ConfigError
from jwmsim.logs.procedural.config import GENERATOR_VERSION, LogConfig

VERSION = "v1.0-mini"  # table folder of the procedural logs (write_log.VERSION)

DEFAULT_SEED = 3
DEFAULT_LOG_CONFIG = LogConfig(duration=20.0, width=320, height=180)


def cache_dir() -> Path:
    """``$JWMSIM_CACHE`` or ``~/.cache/jwmsim``."""
    env = os.environ.get("JWMSIM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "jwmsim"


def default_log_path(progress: bool = True) -> Path:
    """The dataroot of the default seed log (about 20 s, 6 cameras, LIDAR_TOP), generating it on
    first use (well under a minute on 2 cores)."""
    cfg = DEFAULT_LOG_CONFIG
    name = f"seed-log-{GENERATOR_VERSION}-s{DEFAULT_SEED}-{int(cfg.duration)}s-{cfg.width}x{cfg.height}"
    root = cache_dir()
    path = root / name
    if _complete(path):
        if not has_traffic_lights(path):
            add_town_traffic_lights(path, DEFAULT_SEED, cfg.duration)
        return path
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"cannot create the cache folder {root} ({err.strerror})",
            hint="set JWMSIM_CACHE to a writable folder",
        ) from err
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be generating it right now
        if not _complete(path):
            from jwmsim.logs.procedural.write_log import write_town_log

            if progress:
                print(f"generating the built-in seed log (first use) into {path}")
            write_town_log(DEFAULT_SEED, path, cfg, progress=progress, overwrite=path.exists())
    return path


def has_traffic_lights(path: Path) -> bool:
    """Whether the dataroot ``path`` holds a traffic light file."""
    return any((path / "maps" / "traffic_lights").glob("*.json"))


def add_town_traffic_lights(path: Path, seed: int, duration: float) -> None:
    """Write the traffic lights of town ``seed`` into its log at ``path``, recorded before the
    writer stored lights (images, tracks and map are unchanged by them; the lights are a function
    of the town alone). Written atomically (temporary file, then rename)."""
    import json

    from jwmsim.logs.procedural.config import TownConfig
    from jwmsim.logs.procedural.town import Town
    from jwmsim.logs.procedural.write_log import START_US
    from jwmsim.logs.signals import lights_to_json

    town = Town.generate(seed, TownConfig(duration=max(duration, TownConfig().duration)))
    maps = json.loads((path / VERSION / "map.json").read_text())
    folder = path / "maps" / "traffic_lights"
    folder.mkdir(parents=True, exist_ok=True)
    for record in maps:
        target = folder / f"{record['token']}.json"
        tmp = target.with_suffix(f".partial-{os.getpid()}")
        tmp.write_text(json.dumps(lights_to_json(town.traffic_lights, START_US)))
        tmp.replace(target)


def _complete(path: Path) -> bool:
    return (path / VERSION / "scene.json").is_file() and (path / VERSION / "sample_data.json").is_file()
