"""Thumbnails of the scenario library for the documentation, from the bird's-eye view.

For every family in ``scenarios/*.yaml`` (on the built-in log) it runs jittered run 0 with the IDM
planner and draws the viewer's BEV (:class:`jwmsim.viewer.bev_view.BevView`: lanes, traffic lights,
route, boxes with ids, trails, trigger zones) at the step where the ego is closest to one of the
scenario's inserted actors, the moment the family is about. It writes
``docs/images/scenarios/<name>.png`` (small PNGs) and the library table of ``docs/scenarios.md``
(between ``<!-- begin scenario-library ... -->`` and ``<!-- end scenario-library -->``): thumbnail, file
and the scenario's one-line ``description``.

    python docs/gen_scenario_thumbnails.py            # about a minute on two cores
    python docs/gen_scenario_thumbnails.py --table    # only the table (no simulation)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
IMAGES = ROOT / "docs" / "images" / "scenarios"
PAGE = ROOT / "docs" / "scenarios.md"
BEGIN = "<!-- begin scenario-library (docs/gen_scenario_thumbnails.py) -->"
END = "<!-- end scenario-library -->"
SIZE_PX = 200  # [px] square thumbnail
SPAN_M = 60.0  # [m] the thumbnail spans


def library() -> list[Path]:
    """The built-in-log families of the library (real-log scenarios need data that may be absent)."""
    return sorted(SCENARIOS.glob("*.yaml"))


def thumbnail(path: Path) -> np.ndarray:
    """``[S, S, 3]`` uint8 BEV of run 0 of the scenario at ``path`` (see the module docstring)."""
    from jwmsim.planning import make_planner
    from jwmsim.scenario import load_scenario, sample
    from jwmsim.scenario.build import build_world_for_run
    from jwmsim.scenario.loader import load_seed_log
    from jwmsim.sim import initial_state, transition
    from jwmsim.viewer.bev_view import BevView

    scenario = load_scenario(path)
    world = build_world_for_run(sample(scenario, 0), load_seed_log(scenario, with_lidar=False))
    inserted = np.flatnonzero(world.log_index < 0)
    planner = make_planner("idm")
    planner.reset(world)
    state = initial_state(world)
    history, best, best_d = [state], 0, np.inf
    while not state.done:
        state = transition(state, planner.act(state))
        history.append(state)
        a = state.actors
        if len(inserted):
            d = np.hypot(a.x[inserted] - state.ego.x, a.y[inserted] - state.ego.y)[a.active[inserted]]
            if len(d) and d.min() < best_d:
                best, best_d = len(history) - 1, float(d.min())
    view = BevView(world, SIZE_PX, SPAN_M)
    return view.draw(history[best], history[: best + 1])


def table() -> str:
    """The library table of ``docs/scenarios.md``."""
    from jwmsim.scenario import load_scenario

    rows = ["| | file | situation |", "|---|---|---|"]
    for path in library():
        s = load_scenario(path)
        image = f"![{s.name}](images/scenarios/{path.stem}.png)"
        rows.append(f"| {image} | `scenarios/{path.name}` | {s.description} |")
    return "\n".join(rows) + "\n"


def page_with_table(text: str) -> str:
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    return text[:start] + "\n" + table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scenario thumbnails and the library table of the docs.")
    parser.add_argument("--table", action="store_true", help="only rewrite the table")
    parser.add_argument("--check", action="store_true", help="fail if the table or a thumbnail is missing")
    args = parser.parse_args(argv)
    text = PAGE.read_text()
    if args.check:
        missing = [p.stem for p in library() if not (IMAGES / f"{p.stem}.png").is_file()]
        if page_with_table(text) != text or missing:
            print(
                f"docs/scenarios.md is out of date (missing thumbnails: {missing}): run {__file__}",
                file=sys.stderr,
            )
            return 1
        return 0
    if not args.table:
        import cv2

        IMAGES.mkdir(parents=True, exist_ok=True)
        for path in library():
            img = thumbnail(path)
            cv2.imwrite(str(IMAGES / f"{path.stem}.png"), img[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
            print(f"wrote {IMAGES / (path.stem + '.png')}")
    PAGE.write_text(page_with_table(text))
    print(f"updated {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
