"""examples/train_ppo.py end to end on a tiny log: PPO with SubprocVecEnv on the BEV + ego
observation, CSV logs, checkpoints, --resume, a policy that `--agent sb3:` loads, and the
evaluation against random and idm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "train_ppo.py"


def _train(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # the script's folder is examples/, not the repo
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=900, env=env
    )


@pytest.mark.slow
def test_train_resume_and_evaluate(tiny_log: Path, scenario_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ppo"
    small = ["--logs", tiny_log, "--envs", "1", "--n-steps", "32", "--batch-size", "32", "--n-epochs", "1"]
    first = _train("--out", out, "--steps", "64", "--checkpoint-every", "32", "--eval-runs", "0", *small)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / "policy.zip").exists() and (out / "checkpoints" / "ppo_64_steps.zip").exists()
    assert (out / "logs" / "session_0" / "progress.csv").read_text().count("\n") >= 2
    again = _train("--out", out, "--steps", "64", "--eval-runs", "0", *small)
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in again.stderr
    more = _train(
        "--out", out, "--resume", "--steps", "96", "--eval-runs", "1", "--eval-scenarios", scenario_dir,
        "--eval-workers", "1", *small,
    )  # fmt: skip
    assert more.returncode == 0, more.stderr[-3000:]
    assert "resuming from" in more.stdout and (out / "checkpoints" / "ppo_96_steps.zip").exists()
    # the run's settings are the first call's; the resume call's are logged beside them
    assert json.loads((out / "train_config.json").read_text())["steps"] == 64
    resumed = [json.loads(line) for line in (out / "resume_config.jsonl").read_text().splitlines()]
    assert [(r["resumed_at_step"], r["steps"]) for r in resumed] == [(64, 96)]
    stats = json.loads((out / "train_stats.json").read_text())
    assert stats["total_steps"] == 96 and stats["steps_this_session"] == 32 and stats["steps_per_s"] > 0
    assert stats["machine"]["fp32_matmul_gflops_1024"] > 0 and stats["machine"]["cpu_count"] >= 1
    assert (out / "learning_curve.png").exists()
    report = json.loads((out / "eval" / "report.json").read_text())
    assert [a["label"] for a in report["agents"]] == ["random", "idm", "sb3-policy"]
    assert report["results"]["sb3-policy"]["overall"]["runs"] == 2  # two scenarios, one run each


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    res = _train("--out", tmp_path / "empty", "--resume", "--eval-runs", "0")
    assert res.returncode == 2 and "no checkpoint" in res.stderr and "Traceback" not in res.stderr


def test_sb3_planner_reads_image_sizes_channel_first_or_last() -> None:
    from jwmsim_agents.sb3_policy import _image_hw

    assert _image_hw((3, 64, 112)) == (64, 112)  # SB3 stores images channel-first
    assert _image_hw((64, 112, 3)) == (64, 112)
    assert _image_hw((3, 64, 64)) == (64, 64) and _image_hw((64, 64, 3)) == (64, 64)


def _script_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_ppo", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_environments_are_shared_among_seed_logs_by_scenario_count() -> None:
    share = _script_module().share_envs
    town, real = ("a", "b", "c", "d", "e"), ("r",)
    assert share([town, real], 4) == [town, town, town, real]
    assert share([town, real], 2) == [town, real]
    assert share([town, real], 1) == [town]
    assert share([town], 3) == [town, town, town]


def test_scenario_groups_expand_the_library_by_seed_log() -> None:
    groups = _script_module().scenario_groups(("library",))
    town = next(g for g in groups if "cut_in" in g)
    assert set(town) >= {"cut_in", "hard_brake", "oncoming", "pedestrian_crossing", "stalled_vehicle"}
    assert all("real/" not in n for n in town)  # the real log's scenarios train in their own envs


def test_the_training_reward_reaches_the_environments() -> None:
    mod = _script_module()
    cfg, _ = mod.parse_args(["--out", "unused", "--logs", "builtin", "--envs", "1"])
    assert cfg.env_kwargs()[0]["reward_weights"] == dict(mod.TRAINING_REWARD)
    cfg, _ = mod.parse_args(["--out", "unused", "--logs", "builtin", "--reward", "progress=1", "ttc=0"])
    assert cfg.env_kwargs()[0]["reward_weights"] == {"progress": 1.0, "ttc": 0.0}
