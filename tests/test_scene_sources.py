"""Scene sources and render paths: one registry each, scene provenance, the cache key that follows
the log's content, refusal of scenes built for another log, devices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from jwmsim.devices import resolve_device
from jwmsim.envs.render_paths import RENDER_PATHS, Episode, RenderedFrame, RenderPathSpec, needs_lidar
from jwmsim.errors import CheckpointError, ConfigError, SceneMismatchError
from jwmsim.gaussians.scene import GaussianScene
from jwmsim.gaussians.synthetic import street_scene
from jwmsim.logs.identity import log_identity
from jwmsim.logs.nuscenes import load_nuscenes_log
from jwmsim.logs.procedural import LogConfig, write_town_log
from jwmsim.scenes.sources import SCENE_SOURCES, check_scene_matches, scene_cache_path, scene_for_log

TINY = LogConfig(duration=1.0, width=96, height=54, lidar_azimuth_steps=256, workers=2)


@pytest.fixture(scope="module")
def two_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("scene_sources")
    return (
        write_town_log(5, base / "town5", TINY, progress=False),
        write_town_log(6, base / "town6", TINY, progress=False),
    )


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("JWMSIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_registries_list_the_builtin_entries() -> None:
    assert {"lidar", "fit"} <= set(SCENE_SOURCES.names())
    assert {"skeleton", "log_frames", "none"} <= set(RENDER_PATHS.names())
    assert RENDER_PATHS.get("skeleton").uses_scene and not RENDER_PATHS.get("none").has_images
    assert needs_lidar("skeleton", "lidar") and not needs_lidar("none", "lidar")
    assert not needs_lidar("skeleton", "some/scene.safetensors")
    with pytest.raises(ConfigError, match="unknown render path 'jwmm'"):
        RENDER_PATHS.get("jwmm")


def test_log_identity_follows_content_not_location(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = (load_nuscenes_log(p) for p in two_logs)
    ia, ib = log_identity(a), log_identity(b)
    assert ia.digest != ib.digest and ia.dataroot == str(two_logs[0].resolve())
    moved = shutil.copytree(two_logs[0], tmp_path / "moved")
    assert log_identity(load_nuscenes_log(moved)).digest == ia.digest
    # a window or a camera subset of the log is still the same log
    assert log_identity(a.time_window(0.0, 0.5)).digest == ia.digest
    assert log_identity(load_nuscenes_log(two_logs[0], cameras=["CAM_FRONT"])).digest == ia.digest


def test_built_scene_records_its_log_and_is_cached(two_logs: tuple[Path, Path], cache: Path) -> None:
    log = load_nuscenes_log(two_logs[0])
    scene = scene_for_log(log, "lidar", progress=False)
    meta = scene.metadata
    assert meta["log"] == log.name and meta["log_digest"] == log_identity(log).digest
    assert meta["method"] == "lidar" and meta["method_version"] == SCENE_SOURCES.get("lidar").version
    path = scene_cache_path(log, "lidar")
    assert path.is_file() and GaussianScene.load(path).metadata["log_digest"] == meta["log_digest"]
    again = scene_for_log(log, "lidar", progress=False)  # from the cache
    assert again.num_gaussians == scene.num_gaussians
    check_scene_matches(again, log, "cache")  # no error


def test_log_rewritten_in_place_gets_a_new_scene(
    two_logs: tuple[Path, Path], tmp_path: Path, cache: Path
) -> None:
    root = shutil.copytree(two_logs[0], tmp_path / "rewritten")
    log = load_nuscenes_log(root)
    before = scene_for_log(log, "lidar", progress=False)
    old_path = scene_cache_path(log, "lidar")
    for img in (root / "samples").glob("CAM_*/*.jpg"):
        cv2.imwrite(str(img), np.zeros((TINY.height, TINY.width, 3), np.uint8))  # blacken every keyframe
    for img in (root / "sweeps").glob("CAM_*/*.jpg"):
        cv2.imwrite(str(img), np.zeros((TINY.height, TINY.width, 3), np.uint8))
    log2 = load_nuscenes_log(root)
    assert scene_cache_path(log2, "lidar") != old_path
    after = scene_for_log(log2, "lidar", progress=False)
    assert after.metadata["log_digest"] != before.metadata["log_digest"]
    assert float(after.background.colors.mean()) < 0.1 < float(before.background.colors.mean())
    with pytest.raises(SceneMismatchError, match="its tables or sensor files differ"):
        check_scene_matches(before, log2, "old scene")


def test_scene_file_of_another_log_is_refused_unless_forced(
    two_logs: tuple[Path, Path], tmp_path: Path, cache: Path
) -> None:
    log_a, log_b = (load_nuscenes_log(p) for p in two_logs)
    path = scene_for_log(log_a, "lidar", progress=False).save(tmp_path / "a.safetensors")
    assert scene_for_log(log_a, path).num_gaussians > 0
    with pytest.raises(SceneMismatchError, match="was built from log 'scene-town-0005'") as err:
        scene_for_log(log_b, path)
    assert "--force-scene" in err.value.hint
    assert scene_for_log(log_b, path, force=True).num_gaussians > 0
    bare = street_scene(300).save(tmp_path / "bare.safetensors")  # records no log
    with pytest.raises(SceneMismatchError, match="does not record the log"):
        scene_for_log(log_b, bare)
    from jwmsim.envs import JWMDrivingEnv

    with pytest.raises(SceneMismatchError):
        JWMDrivingEnv(segment=log_b, scene=str(path), image_size=(32, 56))
    env = JWMDrivingEnv(segment=log_b, scene=str(path), force_scene=True, image_size=(32, 56))
    obs, _ = env.reset(seed=0)
    assert obs["CAM_FRONT"].shape == (32, 56, 3)


def test_corrupt_cache_entry_is_rebuilt_with_a_warning(two_logs: tuple[Path, Path], cache: Path) -> None:
    log = load_nuscenes_log(two_logs[1])
    scene_for_log(log, "lidar", progress=False)
    path = scene_cache_path(log, "lidar")
    path.write_bytes(b"not a safetensors file")
    with pytest.warns(RuntimeWarning, match="unreadable.*rebuilding"):
        scene = scene_for_log(log, "lidar", progress=False)
    assert scene.num_gaussians > 0 and GaussianScene.load(path).num_gaussians == scene.num_gaussians


def test_missing_scene_file_is_a_clear_error(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    log = load_nuscenes_log(two_logs[0], with_lidar=False)
    with pytest.raises(CheckpointError, match="does not exist") as err:
        scene_for_log(log, tmp_path / "nope.safetensors")
    assert "lidar" in err.value.hint


class CountingPath:
    """A stateful render path (like a generator with past frames): counts resets and renders."""

    instances: list[CountingPath] = []

    def __init__(self, setup) -> None:
        self.cameras = [c.name for c in setup.cameras]
        self.size = setup.image_size
        self.resets: list[int] = []
        self.frames_since_reset = 0
        self.closed = False
        CountingPath.instances.append(self)

    def reset(self, episode: Episode) -> None:
        self.resets.append(episode.seed)
        self.frames_since_reset = 0

    def render(self, state) -> RenderedFrame:
        self.frames_since_reset += 1
        img = np.full((*self.size, 3), min(self.frames_since_reset, 255), np.uint8)
        return RenderedFrame(images={c: img for c in self.cameras})

    def close(self) -> None:
        self.closed = True


def test_a_stateful_render_path_joins_without_touching_the_env(two_logs: tuple[Path, Path]) -> None:
    from jwmsim.envs import JWMDrivingEnv

    if "counting_test" not in RENDER_PATHS:
        RENDER_PATHS.add("counting_test", RenderPathSpec(CountingPath, "test path"))
    log = load_nuscenes_log(two_logs[0], with_lidar=False)
    env = JWMDrivingEnv(segment=log, observation="counting_test", image_size=(16, 24), start_time=0.0)
    path = CountingPath.instances[-1]
    obs, _ = env.reset(seed=4)
    assert obs["CAM_FRONT"][0, 0, 0] == 1 and path.resets == [4]
    obs, *_ = env.step(np.zeros(2, np.float32))
    assert obs["CAM_FRONT"][0, 0, 0] == 2
    env.reset(seed=5)  # per-episode state is reset
    assert path.resets == [4, 5] and path.frames_since_reset == 1
    env.close()
    assert path.closed


def test_devices() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu:0:x")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.gpu
def test_env_renders_with_gsplat_on_cuda(two_logs: tuple[Path, Path], cache: Path) -> None:
    from jwmsim.envs import JWMDrivingEnv

    log = load_nuscenes_log(two_logs[0])
    env = JWMDrivingEnv(segment=log, device="cuda", image_size=(32, 56))
    assert env.scene.device.type == "cuda"
    obs, _ = env.reset(seed=0)
    cpu = JWMDrivingEnv(segment=log, device="cpu", image_size=(32, 56))
    obs_cpu, _ = cpu.reset(seed=0)
    diff = np.abs(obs["CAM_FRONT"].astype(int) - obs_cpu["CAM_FRONT"].astype(int))
    assert diff.mean() < 3.0


def test_cli_reconstruct_lidar_records_the_log(two_logs: tuple[Path, Path], tmp_path: Path) -> None:
    code = "import sys; from jwmsim.cli import main; main(sys.argv[1:])"
    out = tmp_path / "scene.safetensors"
    res = subprocess.run(
        [sys.executable, "-c", code, "reconstruct", str(two_logs[0]), "--method", "lidar", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "built from log 'scene-town-0005'" in res.stdout
    assert GaussianScene.load(out).metadata["method"] == "lidar"
    bad = subprocess.run(
        [sys.executable, "-c", code, "reconstruct", str(two_logs[0]), "--method", "nerf", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "unknown reconstruction method 'nerf'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_snapshot_and_restore_replay_the_same_states(two_logs: tuple[Path, Path], cache: Path) -> None:
    from jwmsim.envs import JWMDrivingEnv

    log = load_nuscenes_log(two_logs[0])
    env = JWMDrivingEnv(segment=log, image_size=(24, 40), start_time=0.0, episode_seconds=2.0)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    actions = [np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.05, 0.05)], np.float32) for _ in range(6)]
    env.step(actions[0])
    snap = env.snapshot()
    first = [env.step(a)[0] for a in actions[1:4]]
    state_after = env.state
    env.restore(snap)
    again = [env.step(a)[0] for a in actions[1:4]]
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a["CAM_FRONT"], b["CAM_FRONT"]) and np.array_equal(a["ego"], b["ego"])
    assert env.state.ego == state_after.ego and env.state.step == state_after.step


def test_each_scene_source_names_the_options_it_reads(tmp_path, capsys) -> None:
    """`jwmsim reconstruct` refuses an option the chosen source does not read, and names the
    sources that do (from their own ``options``, not from a list in the command)."""
    from jwmsim.cli import main
    from jwmsim.scenes.sources import SCENE_SOURCES

    assert SCENE_SOURCES.get("fit").options == ("steps",)
    assert "budget" in SCENE_SOURCES.get("worldrec").options and SCENE_SOURCES.get("lidar").options == ()
    out = str(tmp_path / "s.safetensors")
    for args, flag, readers in (
        (["--method", "lidar", "--steps", "5"], "--steps", "--method fit"),
        (["--method", "fit", "--budget", "10"], "--budget", "--method worldrec"),
        (["--method", "fit", "--refine", "10"], "--refine", "--method worldrec"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["reconstruct", "--out", out, *args])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"{flag} is not an option of" in err and readers in err
    with pytest.raises(SystemExit):
        main(["reconstruct", "--out", out, "--budget", "-1"])
    assert "budget" in capsys.readouterr().err
    assert not (tmp_path / "s.safetensors").exists()
