"""The viewer window, headless (SDL dummy driver), driven by scripted pygame events: panels in
the screenshot, scrubbing by keys, driving, editing by mouse and keys, save and reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

from jwmsim.geometry import wrap_angle
from jwmsim.scenario import load_scenario
from jwmsim.scenario.dump import same_scenario
from jwmsim.scenario.loader import load_seed_log
from jwmsim.scenario.validate import validate_against_log

DRIVABLE_GREY = (95, 95, 95)  # jwmsim.viz.bev: drivable area


def key(app, name: str, up: bool = True) -> None:
    code = pygame.key.key_code(name)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code, mod=0, unicode=name))
    if up:
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=code, mod=0))
    app.pump()


def bev_pixel(app, x: float, y: float) -> tuple[int, int]:
    u, v = app.bev.to_pixel(app.session.state, x, y)
    return int(round(u)) + app.layout.bev.x, int(round(v)) + app.layout.bev.y


def drag(app, start: tuple[int, int], end: tuple[int, int]) -> None:
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=start, button=1))
    mid = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
    for p in (mid, end):
        pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=p, rel=(0, 0), buttons=(1, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=end, button=1))
    app.pump()


def actor_xy(app, aid: str) -> tuple[float, float]:
    a = app.session.world.initial_actors
    i = a.ids.index(aid)
    return float(a.x[i]), float(a.y[i])


def region(img: np.ndarray, rect) -> np.ndarray:
    return img[rect.y : rect.y + rect.h, rect.x : rect.x + rect.w]


def test_screenshot_has_the_mosaic_hud_and_bev(viewer, tmp_path: Path) -> None:
    viewer.run_steps(3)
    path = viewer.screenshot(tmp_path / "shot.png")
    img = np.transpose(pygame.surfarray.array3d(pygame.image.load(str(path))), (1, 0, 2))
    lay = viewer.layout
    assert img.shape[:2] == (lay.size[1], lay.size[0])
    bev = region(img, lay.bev)
    assert (np.abs(bev.astype(int) - DRIVABLE_GREY).sum(-1) == 0).mean() > 0.05  # drivable area
    assert (bev == (40, 120, 255)).all(-1).any()  # the ego box
    hud = region(img, lay.hud)
    assert (hud.min(-1) > 200).sum() > 200  # white text
    mosaic = region(img, lay.mosaic)
    assert mosaic.std() > 10  # a camera image, not a blank panel
    assert img[0, 0].tolist() != [0, 0, 0] or mosaic.mean() > 20


def test_help_overlay_lists_the_keys(viewer) -> None:
    plain = viewer.frame.copy()
    key(viewer, "h")
    assert viewer.show_help and viewer.frame.mean() < plain.mean()
    key(viewer, "h")
    assert not viewer.show_help


def test_keys_scrub_back_and_replay_the_same_states(viewer) -> None:
    for _ in range(6):
        key(viewer, ".")
    recorded = [m.state for m in viewer.session.timeline]
    for _ in range(4):
        key(viewer, ",")
    assert viewer.session.cursor == 2
    key(viewer, "page down")  # 10 forward: re-simulated to the end of the recording and beyond
    assert viewer.session.cursor >= 6
    for k in range(7):
        s, r = viewer.session.timeline[k].state, recorded[k]
        assert s.ego == r.ego and np.array_equal(s.actors.x, r.actors.x)
    key(viewer, "home")
    assert viewer.session.cursor == 0


def test_arrow_keys_drive_the_ego_and_p_hands_it_back(viewer) -> None:
    yaw0 = viewer.session.state.ego.yaw
    key(viewer, "left", up=False)
    key(viewer, "up", up=False)
    for _ in range(5):
        viewer.step()
    assert viewer.manual
    assert wrap_angle(viewer.session.state.ego.yaw - yaw0) > 0.01  # steered left
    action = viewer.session.timeline[-1].action
    assert action[0] > 0 and action[1] > 0
    key(viewer, "p")
    assert not viewer.manual


def test_drag_speed_trigger_insert_save_reload(viewer, scenario_file: Path, tmp_path: Path) -> None:
    # drag the inserted car 6 m further ahead
    x0, y0 = actor_xy(viewer, "leader")
    yaw = float(
        viewer.session.world.initial_actors.yaw[viewer.session.world.initial_actors.ids.index("leader")]
    )
    target = (x0 + 6 * np.cos(yaw), y0 + 6 * np.sin(yaw))
    drag(viewer, bev_pixel(viewer, x0, y0), bev_pixel(viewer, *target))
    assert viewer.selected == "leader", viewer.status
    x1, y1 = actor_xy(viewer, "leader")
    assert np.hypot(x1 - target[0], y1 - target[1]) < 0.6  # one BEV pixel is 0.25 m
    offset = viewer.scenario.actors[0].offset
    assert isinstance(offset, float)
    # start speed +1 m/s, twice
    v0 = float(
        viewer.session.world.initial_actors.speed[viewer.session.world.initial_actors.ids.index("leader")]
    )
    key(viewer, "=")
    key(viewer, "=")
    assert viewer.scenario.actors[0].speed == pytest.approx(round(v0 + 1, 2) + 1, abs=0.02)
    assert viewer.scenario.actors[0].speed_ratio is None
    # trigger: time -> distance_to_ego, raised one step; behaviour cycled
    key(viewer, "t")
    assert viewer.scenario.actors[0].trigger.type == "distance_to_ego"
    key(viewer, "l")
    assert viewer.scenario.actors[0].trigger.distance == 17.5
    key(viewer, "b")
    assert viewer.scenario.actors[0].behaviour.type != "idm"
    # insert a pedestrian 20 m ahead of the ego (mouse outside the BEV)
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(2, 2), rel=(0, 0), buttons=(0, 0, 0)))
    while viewer.asset != "pedestrian":
        key(viewer, "tab")
    key(viewer, "a")
    assert [a.id for a in viewer.scenario.actors] == ["leader", "pedestrian_1"], viewer.status
    assert "pedestrian_1" in viewer.session.world.initial_actors.ids
    # save back to the file: it reflects the edits, validates, and reads back the same model
    key(viewer, "s")
    assert "saved" in viewer.status, viewer.status
    saved = load_scenario(scenario_file)
    assert same_scenario(saved, viewer.scenario)
    assert saved.actors[0].offset == offset and saved.actors[0].trigger.type == "distance_to_ego"
    assert saved.actors[1].asset == "pedestrian"
    validate_against_log(saved, load_seed_log(saved), scenario_file)
    text = scenario_file.read_text()
    assert "pedestrian_1" in text and "distance_to_ego" in text
    # the file changes on disk; R reloads it
    scenario_file.write_text(text.replace("seed: 3", "seed: 9"))
    key(viewer, "r")
    assert viewer.scenario.seed == 9 and "reloaded" in viewer.status


def test_delete_and_refused_edits_go_to_the_status_line(viewer) -> None:
    key(viewer, "b")  # nothing selected
    assert viewer.status_error and "select an actor" in viewer.status
    viewer.selected = "leader"
    key(viewer, "delete")
    assert viewer.scenario.actors == [] and viewer.selected is None
    a, ego = viewer.session.state.actors, viewer.session.state.ego
    dist = np.where(
        a.active & (viewer.session.world.log_index >= 0), np.hypot(a.x - ego.x, a.y - ego.y), np.inf
    )
    log_id = a.ids[int(np.argmin(dist))]
    assert dist.min() < 25
    viewer.selected = log_id
    start = bev_pixel(viewer, *actor_xy(viewer, log_id))
    drag(viewer, start, (start[0] + 20, start[1]))
    assert viewer.status_error and "log actor" in viewer.status


def test_cli_screenshot(scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwmsim.cli import main

    out = tmp_path / "view.png"
    with pytest.raises(SystemExit) as stop:
        main(
            [
                "view",
                str(scenario_file),
                "--screenshot",
                str(out),
                "--steps",
                "4",
                "--cameras",
                "CAM_FRONT",
                "--size",
                "36x64",
            ]
        )
    assert stop.value.code in (0, None)
    assert out.stat().st_size > 1000
    assert "after 4 steps" in capsys.readouterr().out


def test_cli_refuses_an_unknown_render_path(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwmsim.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["view", str(scenario_file), "--render", "dreams"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "unknown render path 'dreams'" in err and "skeleton" in err


def test_playback_runs_at_the_simulation_rate_and_stops_at_the_end(viewer) -> None:
    key(viewer, "space")
    assert viewer.playing
    viewer.run(max_seconds=1.0)
    steps = viewer.session.cursor
    # 10 Hz for one second (fewer if the shared machine is slow: frame time over the 100 ms budget)
    assert 3 <= steps <= 11, (steps, viewer.frame_ms)
    key(viewer, "]")
    assert viewer.speed == 2.0
    viewer.run(max_seconds=3.0)
    assert viewer.session.done and not viewer.playing  # the 1.5 s episode ended: playback paused
    assert viewer.session.cursor == 15
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    viewer.run(max_seconds=1.0)
    assert not viewer.running


def test_render_none_shows_hud_and_bev_without_a_mosaic(scenario_file: Path) -> None:
    from viewer_options import small_options

    from jwmsim.viewer.app import ViewerApp

    app = ViewerApp(load_scenario(scenario_file), small_options(render="none"))
    try:
        app.run_steps(2)
        assert app.layout.mosaic.w == 0 and app.frame.shape[1] == app.layout.size[0]
        assert app.session.cursor == 2
    finally:
        app.close()


def test_hud_shows_the_penalty_that_fired_and_why(viewer) -> None:
    from jwmsim.viewer.hud import hud_lines

    key(viewer, "down", up=False)  # -0.6 = -4.8 m/s^2: beyond the comfort bound of -4.05
    fired = None
    for _ in range(6):
        viewer.step()
        rec = viewer.session.state.last
        if rec.penalties:
            fired = rec.penalties[0]
            break
    assert fired is not None and fired.metric == "c"
    text = [t for t, _ in hud_lines(viewer.session.state, viewer.scenario, _info(viewer))]
    assert any(t.startswith("PENALTY C = 0.00: ") and "lon_accel" in t for t in text), text
    assert any(t.startswith("frame ") for t in text)


def _info(viewer):
    from jwmsim.viewer.hud import HudInfo

    return HudInfo(
        "t",
        "keyboard",
        False,
        1.0,
        viewer.session.cursor,
        len(viewer.session.timeline),
        50.0,
        40.0,
        None,
        "sedan",
    )


def test_library_scenarios_save_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from viewer_options import small_options

    from jwmsim.viewer.editing import save_target

    monkeypatch.chdir(tmp_path)
    assert save_target(load_scenario("cut_in"), small_options()) == tmp_path / "cut_in.yaml"
    assert (
        save_target(load_scenario("cut_in"), small_options(save=tmp_path / "x.yaml")) == tmp_path / "x.yaml"
    )


def test_clicking_the_scrub_bar_goes_to_that_moment(viewer) -> None:
    viewer.run_steps(8)
    bar = viewer.layout.timeline
    total = viewer.episode_steps  # 15 steps of 0.1 s
    u = bar.x + round(4 / total * (bar.w - 1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(u, bar.y + 4), button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(u, bar.y + 4), button=1))
    viewer.pump()
    assert viewer.session.cursor == 4
    cursor_col = viewer.frame[bar.y + 4, u]
    assert tuple(cursor_col) == (255, 230, 0)
    far = bar.x + bar.w - 1  # beyond the recording: stays at its end (re-simulated)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(far, bar.y + 4), button=1))
    viewer.pump()
    assert viewer.session.cursor == 8


def test_e_makes_edits_keep_the_current_time(viewer) -> None:
    viewer.run_steps(4)
    key(viewer, "e")
    assert viewer.keep_time
    viewer.selected = "leader"
    key(viewer, "=")
    assert viewer.session.cursor == 4 and "simulated again to t = 0.4 s" in viewer.status
    key(viewer, "e")
    key(viewer, "=")
    assert viewer.session.cursor == 0 and "restarted at t = 0" in viewer.status


def test_cli_without_a_display_says_so(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwmsim.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["view", str(scenario_file)])  # SDL_VIDEODRIVER=dummy in these tests: no window to show
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "no display" in err and "--screenshot" in err


def test_help_overlay_fits_the_default_window(scenario_file: Path, tmp_path: Path) -> None:
    """At the default size (3 cameras of 112x200, a 420 px BEV) every line of the help lies inside
    the window, the last one ("H: close this help") included; checked on a headless screenshot."""
    import cv2

    from jwmsim.viewer.app import ViewerApp
    from jwmsim.viewer.controls import help_lines
    from jwmsim.viewer.drawing import FONT, help_placement
    from jwmsim.viewer.options import ViewerOptions

    app = ViewerApp(load_scenario(scenario_file), ViewerOptions(render="log_frames", progress=False))
    try:
        app.redraw()
        key(app, "h")
        shot = app.screenshot(tmp_path / "help.png")
        img = np.transpose(pygame.surfarray.array3d(pygame.image.load(str(shot))), (1, 0, 2))
        w, h = app.layout.size
        assert img.shape[:2] == (h, w)
        texts = ["jwmsim view: keys", *help_lines(), "H: close this help"]
        placed = help_placement(texts, (w, h))
        for text, x, y, scale in placed:
            (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
            assert 0 <= x and x + tw <= w and y - th >= 0 and y + base <= h, (text, x, y, w, h)
        text, x, y, scale = placed[-1]  # the last line is drawn: light pixels on the darkened frame
        (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
        assert (img[y - th : y + 1, x : x + tw].max(-1) > 120).sum() > 20
    finally:
        app.close()
