"""The viewer's key commands, in the table :data:`COMMANDS` by name (the bindings table of
:mod:`jwmsim.viewer.controls` names them). Each takes the viewer (:class:`ViewerHandle`: what the
commands use of :class:`jwmsim.viewer.app.ViewerApp`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from jwmsim.errors import JwmsimError
from jwmsim.registry import Registry
from jwmsim.viewer import editing
from jwmsim.viewer.controls import SPEEDS, KeyboardDriver
from jwmsim.viewer.options import ViewerOptions

if TYPE_CHECKING:
    from jwmsim.scenario.schema import Scenario
    from jwmsim.viewer.session import Session

SCRUB = 10  # [steps] of PgUp / PgDn


class ViewerHandle(Protocol):
    """What the key commands read and change of the viewer."""

    session: Session
    options: ViewerOptions
    driver: KeyboardDriver
    playing: bool
    speed: float
    show_help: bool
    running: bool
    manual: bool
    keep_time: bool
    selected: str | None
    mouse: tuple[int, int] | None
    assets: list[str]
    asset: str
    status: str

    @property
    def scenario(self) -> Scenario: ...

    def step(self) -> bool: ...

    def say(self, text: str, error: bool = False) -> None: ...

    def edit(self, make: Callable[[], Scenario], message: str) -> bool: ...

    def _bev_xy(self, pos: tuple[int, int]) -> tuple[float, float] | None: ...


ViewerApp = ViewerHandle  # the name the commands' annotations use

COMMANDS: Registry[Callable[..., None]] = Registry("viewer command")


def _command(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return COMMANDS.register(name)


# --- timeline -----------------------------------------------------------------------------------------
@_command("play_pause")
def play_pause(app: ViewerApp) -> None:
    app.playing = not app.playing and not app.session.done


@_command("step_forward")
def step_forward(app: ViewerApp) -> None:
    app.playing = False
    app.step()


@_command("step_back")
def step_back(app: ViewerApp) -> None:
    app.playing = False
    app.session.seek(app.session.cursor - 1)


@_command("scrub_forward")
def scrub_forward(app: ViewerApp) -> None:
    app.playing = False
    app.session.seek(app.session.cursor + SCRUB)


@_command("scrub_back")
def scrub_back(app: ViewerApp) -> None:
    app.playing = False
    app.session.seek(app.session.cursor - SCRUB)


@_command("to_start")
def to_start(app: ViewerApp) -> None:
    app.playing = False
    app.session.seek(0)


@_command("to_end")
def to_end(app: ViewerApp) -> None:
    app.playing = False
    app.session.seek(len(app.session.timeline) - 1)


@_command("faster")
def faster(app: ViewerApp) -> None:
    app.speed = next((s for s in SPEEDS if s > app.speed), SPEEDS[-1])


@_command("slower")
def slower(app: ViewerApp) -> None:
    app.speed = next((s for s in reversed(SPEEDS) if s < app.speed), SPEEDS[0])


# --- driver -------------------------------------------------------------------------------------------
def _plain_planners() -> list[str]:
    """Registered planners that need no file (``sb3`` needs a policy: give it with --agent)."""
    from jwmsim.planning import planner_class, planner_names

    return [n for n in planner_names() if planner_class(n).path_argument is None]


@_command("planner")
def planner(app: ViewerApp) -> None:
    """Hand the ego to the planner; pressed again, switch to the next registered planner."""
    if not app.manual:
        names = _plain_planners()
        current = app.session.planner.name
        nxt = names[(names.index(current) + 1) % len(names)] if current in names else names[0]
        try:
            app.session.set_planner(nxt)
        except JwmsimError as err:
            app.say(err.message, error=True)
            return
    app.manual = False
    app.driver.held.clear()
    app.say(f"the planner {app.session.planner.name!r} drives")


# --- editing ------------------------------------------------------------------------------------------
def _selected(app: ViewerApp) -> tuple[str, str] | None:
    """``(id, kind)`` of the selected actor, or None (with a status message)."""
    aid = app.selected
    ids = app.session.world.initial_actors.ids
    if aid is None or aid not in ids:
        app.say("select an actor first (click it in the bird's-eye view)", error=True)
        return None
    return aid, app.session.world.initial_actors.kinds[ids.index(aid)]


def _start_speed(app: ViewerApp, aid: str) -> float:
    a = app.session.world.initial_actors
    return float(a.speed[a.ids.index(aid)])


@_command("speed_up")
def speed_up(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        v = _start_speed(app, sel[0])
        app.edit(lambda: editing.change_speed(app.scenario, sel[0], v, +1.0), f"{sel[0]}: {v + 1:.1f} m/s")


@_command("speed_down")
def speed_down(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        v = _start_speed(app, sel[0])
        app.edit(
            lambda: editing.change_speed(app.scenario, sel[0], v, -1.0), f"{sel[0]}: {max(v - 1, 0):.1f} m/s"
        )


@_command("cycle_behaviour")
def cycle_behaviour(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        app.edit(lambda: editing.cycle_behaviour(app.scenario, *sel), f"{sel[0]}: new behaviour")


@_command("cycle_trigger")
def cycle_trigger(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        app.edit(lambda: editing.cycle_trigger(app.scenario, *sel), f"{sel[0]}: new trigger")


@_command("cycle_then")
def cycle_then(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        app.edit(lambda: editing.cycle_then(app.scenario, *sel), f"{sel[0]}: new behaviour after the trigger")


@_command("trigger_less")
def trigger_less(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        app.edit(lambda: editing.adjust_trigger(app.scenario, sel[0], -1.0), f"{sel[0]}: trigger lowered")


@_command("trigger_more")
def trigger_more(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        app.edit(lambda: editing.adjust_trigger(app.scenario, sel[0], +1.0), f"{sel[0]}: trigger raised")


@_command("next_asset")
def next_asset(app: ViewerApp) -> None:
    i = app.assets.index(app.asset) if app.asset in app.assets else -1
    app.asset = app.assets[(i + 1) % len(app.assets)]
    app.say(f"asset to insert: {app.asset}")


@_command("insert_asset")
def insert_asset(app: ViewerApp) -> None:
    at = app._bev_xy(app.mouse) if app.mouse is not None else None
    made: dict[str, str] = {}

    def make():
        scenario, aid = editing.insert_asset(app.scenario, app.session.world, app.asset, at)
        made["id"] = aid
        return scenario

    if app.edit(make, f"inserted {app.asset}"):
        app.selected = made["id"]
        app.say(app.status.replace(f"inserted {app.asset}", f"inserted {made['id']}", 1))


@_command("delete")
def delete(app: ViewerApp) -> None:
    if (sel := _selected(app)) is not None:
        if app.edit(lambda: editing.remove_actor(app.scenario, sel[0]), f"removed {sel[0]}"):
            app.selected = None


# --- files ----------------------------------------------------------------------------------------------
@_command("save")
def save(app: ViewerApp) -> None:
    from jwmsim.scenario.dump import dump_scenario

    target = editing.save_target(app.scenario, app.options)
    try:
        written = dump_scenario(app.scenario, target)
    except JwmsimError as err:
        app.say(err.message, error=True)
        return
    app.session.scenario = written  # same fields; now knows its file (for reload and relative paths)
    app.say(f"saved {target}")


@_command("reload")
def reload(app: ViewerApp) -> None:
    from jwmsim.scenario import load_scenario
    from jwmsim.scenario.loader import source_file

    src = source_file(app.scenario)
    if src is None:
        app.say("this scenario has no file yet: save it first (S)", error=True)
        return
    app.edit(lambda: load_scenario(src), f"reloaded {src}")


@_command("keep_time")
def keep_time(app: ViewerApp) -> None:
    app.keep_time = not app.keep_time
    app.say("edits " + ("simulate again to the current time" if app.keep_time else "restart at t = 0"))


@_command("help")
def toggle_help(app: ViewerApp) -> None:
    app.show_help = not app.show_help


@_command("quit")
def quit_viewer(app: ViewerApp) -> None:
    app.running = False
