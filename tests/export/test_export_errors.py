"""Bad input to ``jwmsim export``: a clear message, a non-zero exit and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_scenario

from jwmsim.cli import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", *argv, "--no-progress"])
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_unknown_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["no_such_scenario", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "no such file" in err and "cut_in" in err
    assert not (tmp_path / "x").exists()


def test_out_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    code, err = _run(["cut_in", "--out", str(tmp_path / "file")], capsys)
    assert code != 0 and "is a file" in err and "hint:" in err
    assert (tmp_path / "file").read_text() == "x"


def test_unknown_render_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["cut_in", "--out", str(tmp_path / "x"), "--render", "dreams"], capsys)
    assert code != 0 and "render path 'dreams'" in err and "skeleton" in err
    assert not (tmp_path / "x").exists()


def test_render_path_without_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["cut_in", "--out", str(tmp_path / "x"), "--render", "none"], capsys)
    assert code != 0 and "no camera images" in err


def test_zero_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["cut_in", "--out", str(tmp_path / "x"), "--runs", "0"], capsys)
    assert code != 0 and "--runs must be >= 1" in err
    assert not (tmp_path / "x").exists()


def test_unknown_camera_and_foreign_folder(
    town_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path, town_log)
    code, err = _run([str(scenario), "--out", str(tmp_path / "x"), "--cameras", "CAM_ROOF"], capsys)
    assert code != 0 and "CAM_ROOF" in err and "CAM_FRONT" in err
    assert not (tmp_path / "x").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code, err = _run([str(scenario), "--out", str(tmp_path / "mine")], capsys)
    assert code != 0 and "holds no jwmsim export" in err
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


def test_missing_scene_file_is_a_clear_error(
    town_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write_scenario(tmp_path, town_log)
    missing = tmp_path / "nowhere.safetensors"
    code, err = _run([str(scenario), "--out", str(tmp_path / "x"), "--scene", str(missing)], capsys)
    assert code != 0 and "does not exist" in err and "hint:" in err
    assert not (tmp_path / "x").exists()
