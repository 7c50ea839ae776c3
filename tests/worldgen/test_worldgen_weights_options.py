"""``--weights`` of replay, view and export: the generator path takes it, others refuse it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwmsim.cli.replay import generator_options
from jwmsim.errors import ConfigError
from jwmsim.export.options import ExportOptions
from jwmsim.viewer.options import ViewerOptions
from jwmsim.worldgen.weights import default_weights_dir


def test_generator_options_check_the_folder(tmp_path: Path) -> None:
    assert generator_options(None, None) == {}
    assert generator_options(2, default_weights_dir()) == {"steps": 2, "weights": str(default_weights_dir())}
    with pytest.raises(ConfigError, match="config.json"):
        generator_options(None, tmp_path)


def test_viewer_and_export_pass_weights_to_the_jwm_path_only(tmp_path: Path) -> None:
    opts = {"weights": str(default_weights_dir())}
    assert ViewerOptions(render="jwm", render_options=opts).render_options == opts
    assert ExportOptions(out=tmp_path / "x", render="jwm", render_options=opts).render_options == opts
    with pytest.raises(ConfigError, match="no option"):
        ViewerOptions(render="skeleton", render_options=opts)
    with pytest.raises(ConfigError, match="no option"):
        ExportOptions(out=tmp_path / "y", render="skeleton", render_options=opts)
