"""Missing, corrupt or mismatched WorldRec weights are clear errors naming the path, never a model
with random weights; the scene source uses the same checks."""

from __future__ import annotations

import json

import pytest

from jwmsim.errors import CheckpointError
from jwmsim.worldrec.modeling_worldrec import WorldRecModel
from jwmsim.worldrec.reconstruct import WEIGHTS_NAME, load_worldrec


def test_missing_folder(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=str(tmp_path / "nope")):
        load_worldrec(tmp_path / "nope")


def test_missing_weights_file(tiny_model, tmp_path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / WEIGHTS_NAME).unlink()
    with pytest.raises(CheckpointError, match=WEIGHTS_NAME):
        load_worldrec(tmp_path / "m")


def test_corrupt_weights_file(tiny_model, tmp_path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / WEIGHTS_NAME).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_worldrec(tmp_path / "m")


def test_corrupt_config(tiny_model, tmp_path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_worldrec(tmp_path / "m")


def test_weights_that_do_not_match_the_config(tiny_model, tmp_path) -> None:
    tiny_model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["query_dim"] = 24
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="does not match"):
        load_worldrec(tmp_path / "m")


def test_scene_source_registered_and_checks_weights(
    tmp_path, monkeypatch, tiny_segment, tiny_model_config
) -> None:
    import jwmsim.scenes.worldrec_source as ss
    from jwmsim.scenes.sources import SCENE_SOURCES, SourceSettings, build_scene

    assert "worldrec" in SCENE_SOURCES  # an entry point of the jwmsim.scene_sources group
    assert SCENE_SOURCES.get("worldrec") is ss.WORLDREC_SOURCE
    monkeypatch.setenv("JWMSIM_WORLDREC_WEIGHTS", str(tmp_path / "absent"))
    with pytest.raises(CheckpointError, match="absent"):
        SCENE_SOURCES.get("worldrec").version  # noqa: B018
    with pytest.raises(CheckpointError, match="absent"):
        build_scene(tiny_segment, "worldrec", SourceSettings(), progress=False)
    WorldRecModel(**tiny_model_config).save_pretrained(tmp_path / "ok")
    monkeypatch.setenv("JWMSIM_WORLDREC_WEIGHTS", str(tmp_path / "ok"))
    scene, report = build_scene(tiny_segment, "worldrec", SourceSettings(budget=0), progress=False)
    assert scene.num_gaussians > 0 and report["worldrec_gaussians"] >= scene.num_gaussians
    assert report["refine_note"].startswith("budget 0")
    assert scene.metadata["method"] == "worldrec" and scene.metadata["log_digest"]
    version = SCENE_SOURCES.get("worldrec").version
    assert version.startswith("worldrec-v2-") and version.endswith(ss.PruneConfig().key())
    # pruned to what the log's cameras see; the report says by how much
    assert len(scene.background) == report["background_after"] <= report["background_before"]
    assert scene.metadata["pruned"] == ss.PruneConfig().key()


def test_worldrec_is_the_default_scene_of_every_entry_point() -> None:
    from jwmsim.envs.drive_config import DriveEnvConfig
    from jwmsim.envs.render_paths import RenderSetup
    from jwmsim.replay import ReplayOptions
    from jwmsim.scenes.sources import DEFAULT_SCENE_SOURCE
    from jwmsim.viewer.options import ViewerOptions

    assert DEFAULT_SCENE_SOURCE == "worldrec"
    assert DriveEnvConfig().scene == ReplayOptions().scene == ViewerOptions().scene == DEFAULT_SCENE_SOURCE
    assert RenderSetup.__dataclass_fields__["scene_source"].default == DEFAULT_SCENE_SOURCE
