"""The scenario library's table in docs/scenarios.md lists every family with its one-line
description and a thumbnail (``python docs/gen_scenario_thumbnails.py`` makes both)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_family_has_a_description_and_a_thumbnail_in_the_docs() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_scenario_thumbnails", DOCS / "gen_scenario_thumbnails.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run: python docs/gen_scenario_thumbnails.py"
    page = (DOCS / "scenarios.md").read_text()
    for path in module.library():
        assert f"images/scenarios/{path.stem}.png" in page
        assert (DOCS / "images" / "scenarios" / f"{path.stem}.png").stat().st_size < 100_000
