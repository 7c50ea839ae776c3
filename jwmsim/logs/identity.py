"""Which log, exactly: a content digest of a nuScenes-format log, for scene provenance and cache keys.

A scene built from a log records :class:`LogIdentity` (name, dataroot, digest); the scene cache
keys on it, so a log re-written in place (new images, new tables) gets a new scene instead of the
old cached one, and a scene file is checked against the log it is about to be rendered with.

The digest (SHA-1, 16 hex digits) covers, for one scene of a dataroot: every table of the version
folder, the map images and ``extras/`` files, and the bytes of every sensor file (camera images,
lidar sweeps) that the scene's ``sample_data`` rows name. It does not depend on which cameras or
which time window of the scene a caller loads, so a scene built from the first 5 s of a log still
belongs to that log. Hashing the built-in seed log (85 MB) takes about 0.1 s; the result is
memoised per process on the files' sizes and modification times.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jwmsim.errors import LogFormatError

if TYPE_CHECKING:
    from jwmsim.logs.segment import LogSegment

DIGEST_LENGTH = 16  # hex digits kept of the SHA-1
_MEMO: dict[tuple, str] = {}


@dataclass(frozen=True)
class LogIdentity:
    """What a scene records about the log it was built from.

    Attributes:
        name: the scene (log) name, e.g. ``scene-pandaset-002``.
        dataroot: absolute path of the dataroot ("" for a log that lives only in memory).
        digest: content digest (see the module docstring); for an in-memory log, a digest of its
            frames' image files and poses.
    """

    name: str
    dataroot: str
    digest: str

    def as_metadata(self) -> dict[str, str]:
        """The keys a :class:`~jwmsim.gaussians.scene.GaussianScene` stores."""
        return {"log": self.name, "log_dataroot": self.dataroot, "log_digest": self.digest}


def log_identity(segment: LogSegment) -> LogIdentity:
    """The :class:`LogIdentity` of ``segment`` (nuScenes dataroot when ``segment.source`` is one)."""
    root = Path(segment.source) if segment.source else None
    if root is not None and root.is_dir() and _version_dir(root) is not None:
        files, base, extra = _scene_files(root, segment.name), root, segment.name.encode()
        dataroot = str(root.resolve())
    else:  # built in memory (tests, synthetic logs): its image files and its trajectory
        files, base = sorted({Path(f.image_path) for fr in segment.frames.values() for f in fr}), None
        dataroot, extra = "", _trajectory_bytes(segment)
    return LogIdentity(segment.name, dataroot, _digest(files, base, extra=extra))


def _version_dir(root: Path) -> Path | None:
    dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "scene.json").is_file()]
    return dirs[0] if dirs else None


def _scene_files(root: Path, scene_name: str) -> list[Path]:
    """Tables, maps, extras and the sensor files of one scene of a nuScenes dataroot."""
    version = _version_dir(root)
    assert version is not None
    tables = sorted(version.glob("*.json"))
    try:
        scenes = json.loads((version / "scene.json").read_text())
        samples = json.loads((version / "sample.json").read_text())
        sample_data = json.loads((version / "sample_data.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise LogFormatError(
            f"cannot read the tables of {version} to identify the log ({err})",
            hint="restore the log's tables or regenerate the log",
        ) from err
    tokens = {s["token"] for s in scenes if s.get("name") == scene_name}
    sample_tokens = {s["token"] for s in samples if s.get("scene_token") in tokens}
    sensor = sorted({root / r["filename"] for r in sample_data if r.get("sample_token") in sample_tokens})
    side = sorted(p for d in ("maps", "extras") for p in (root / d).glob("**/*") if p.is_file())
    return tables + side + sensor


def _trajectory_bytes(segment: LogSegment) -> bytes:
    poses = [
        np.concatenate([p.rotation.ravel(), p.translation]).round(6).tobytes() for p in segment.ego_poses
    ]
    return f"{segment.name}|{segment.start_us}|{len(poses)}".encode() + b"".join(poses)


def _digest(files: list[Path], base: Path | None, extra: bytes = b"") -> str:
    """SHA-1 of ``extra``, then each file's name (relative to ``base``, so that a moved log keeps
    its digest) and bytes."""
    stats = []
    for p in files:
        try:
            st = os.stat(p)
        except OSError:
            stats.append(
                (str(p.relative_to(base)) if base is not None else str(p), -1, -1)
            )  # a missing file: the reader reports it when it is read
            continue
        stats.append((str(p.relative_to(base)) if base is not None else str(p), st.st_size, st.st_mtime_ns))
    key = (str(base), tuple(stats), extra)
    if key in _MEMO:
        return _MEMO[key]
    h = hashlib.sha1(extra)
    for (name, size, _), path in zip(stats, files, strict=True):
        h.update(name.encode())
        if size >= 0:
            h.update(path.read_bytes())
    out = h.hexdigest()[:DIGEST_LENGTH]
    _MEMO[key] = out
    return out
