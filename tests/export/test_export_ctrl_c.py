"""Ctrl-C during an export over worker processes: exit 130, the finished scenes in loadable tables,
nothing of the interrupted ones; the same command then finishes the export."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_scenario

REPO = Path(__file__).resolve().parents[2]
RUNS = 8  # enough that the signal, sent when the first scene is done, lands before the last one


def _command(scenario: Path, out: Path) -> list[str]:
    args = [
        "export", str(scenario), "--runs", str(RUNS), "--out", str(out), "--workers", "2",
        "--cameras", "CAM_FRONT", "--size", "36x64", "--scene", "lidar", "--no-progress",
    ]  # fmt: skip
    # a process started in the background by a non-interactive shell (as CI may run) inherits SIGINT
    # ignored: restore Python's handler, so that the signal below is a Ctrl-C
    code = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    return [sys.executable, "-c", code + f"from jwmsim.cli import main; main({args!r})"]


def test_ctrl_c_over_processes_keeps_finished_scenes(town_log: Path, tmp_path: Path) -> None:
    from nuscenes.nuscenes import NuScenes

    scenario = write_scenario(tmp_path, town_log, duration=1.5)
    out = tmp_path / "data"
    proc = subprocess.Popen(_command(scenario, out), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fragments = out / ".export" / "scenes"
    deadline = time.monotonic() + 300
    while not (fragments.is_dir() and any(fragments.iterdir())):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no scene finished in 300 s"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr.decode()  # most scenes were still to do at the signal
    assert b"interrupted" in stdout
    names = [s["name"] for s in json.loads((out / "v1.0-tiny_brake" / "scene.json").read_text())]
    assert 1 <= len(names) < RUNS
    with contextlib.redirect_stdout(io.StringIO()):
        nusc = NuScenes("v1.0-tiny_brake", str(out), verbose=False)
    assert len(nusc.scene) == len(names)
    staging = out / ".export" / "staging"
    assert not staging.exists() or not any(staging.iterdir())
    jpgs = {p.name.split("__")[0] for p in out.rglob("*.jpg")}
    assert jpgs == {f"jwmsim-tiny_brake-{int(n.rsplit('-', 1)[1]):04d}" for n in names}

    done = subprocess.run(_command(scenario, out), cwd=REPO, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    assert len(json.loads((out / "v1.0-tiny_brake" / "scene.json").read_text())) == RUNS
