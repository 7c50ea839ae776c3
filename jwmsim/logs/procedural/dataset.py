"""Many procedural logs for training: one nuScenes dataroot per town seed."""

from __future__ import annotations

from pathlib import Path

from jwmsim.errors import ConfigError
from jwmsim.logs.procedural.config import LogConfig
from jwmsim.logs.procedural.write_log import write_town_log
from jwmsim.progress import progress_bar


def make_dataset(
    out_dir: Path | str, count: int, seed0: int = 1000, config: LogConfig | None = None, progress: bool = True
) -> list[Path]:
    """Write ``count`` logs (seeds ``seed0 .. seed0 + count - 1``) as ``out_dir/town-<seed>/``.

    Logs that already exist are kept (an interrupted run resumes); each log is written atomically,
    so no half-written log is left behind.

    Returns:
        the dataroots, in seed order.
    """
    if count < 1:
        raise ConfigError(f"--count must be at least 1, got {count}")
    if seed0 < 0:
        raise ConfigError(f"--seed0 must be non-negative, got {seed0}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in progress_bar(range(seed0, seed0 + count), desc="logs", unit="log", disable=not progress):
        path = out / f"town-{seed:06d}"
        if not (path / "v1.0-mini" / "scene.json").is_file():
            write_town_log(seed, path, config, progress=False, overwrite=path.exists())
        paths.append(path)
    return paths
