"""make-log / make-dataset commands, the cached default log, and interruption safety."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from jwmsim.logs.procedural import LogConfig, default_log, make_dataset, write_town_log
from jwmsim.logs.procedural import write_log as write_log_module


def _jwmsim(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_make_log_command(tmp_path: Path) -> None:
    out = tmp_path / "log"
    args = ["make-log", "--seed", "2", "--out", str(out), "--duration", "0.5"]
    args += ["--width", "64", "--height", "36"]
    res = _jwmsim(*args, "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert (out / "v1.0-mini" / "sample_data.json").is_file()
    assert len(list((out / "sweeps" / "CAM_FRONT").glob("*.jpg"))) == 4
    again = _jwmsim(*args)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    bad = _jwmsim("make-log", "--seed", "-3", "--out", str(tmp_path / "bad"), "--duration", "0.5")
    assert bad.returncode == 2 and "seed" in bad.stderr and "Traceback" not in bad.stderr


def test_make_dataset_resumes_and_keeps_finished_logs(
    tmp_path: Path, tiny_config: LogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = replace(tiny_config, duration=0.3, workers=1)
    calls: list[int] = []
    real = write_log_module.write_town_log

    def flaky(seed: int, path: Path, config: LogConfig, progress: bool, overwrite: bool) -> Path:
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(seed, path, config, progress=progress, overwrite=overwrite)

    monkeypatch.setattr("jwmsim.logs.procedural.dataset.write_town_log", flaky)
    with pytest.raises(KeyboardInterrupt):
        make_dataset(tmp_path, 3, seed0=10, config=cfg, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["town-000010"]
    paths = make_dataset(tmp_path, 3, seed0=10, config=cfg, progress=False)
    assert [p.name for p in paths] == ["town-000010", "town-000011", "town-000012"]
    assert calls == [10, 11, 11, 12], "the finished log is not written again"


def test_interrupted_log_leaves_nothing(
    tmp_path: Path, tiny_config: LogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = write_log_module.render_camera
    frames: list[int] = []

    def interrupted(*args: object, **kwargs: object) -> object:
        frames.append(1)
        if len(frames) > 14:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(write_log_module, "render_camera", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_town_log(4, tmp_path / "log", replace(tiny_config, workers=1), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_default_log_is_generated_once(
    tmp_path: Path, tiny_config: LogConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(default_log, "DEFAULT_LOG_CONFIG", replace(tiny_config, duration=0.5, workers=1))
    path = default_log.default_log_path(progress=False)
    assert path.parent == tmp_path / "cache" and default_log.GENERATOR_VERSION in path.name
    stamp = (path / "v1.0-mini" / "scene.json").stat().st_mtime_ns
    assert default_log.default_log_path(progress=False) == path
    assert (path / "v1.0-mini" / "scene.json").stat().st_mtime_ns == stamp
