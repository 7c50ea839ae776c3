"""Key bindings of the viewer (one table: the event loop and the help overlay both read it) and the
keyboard driver of the ego.

A binding maps a pygame key (and whether shift is held) to a command name; the commands are
functions of :mod:`jwmsim.viewer.commands`, in its table :data:`~jwmsim.viewer.commands.COMMANDS` by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeyBinding:
    """``keys`` (pygame key names, ``pygame.key.name``) -> ``command``; ``label`` is shown in the help."""

    keys: tuple[str, ...]
    command: str
    label: str
    help: str
    shift: bool = False


# The viewer's keys, in the order the help overlay lists them.
BINDINGS: tuple[KeyBinding, ...] = (
    KeyBinding(("space",), "play_pause", "space", "play / pause"),
    KeyBinding((".",), "step_forward", ".", "one step forward (re-simulated from the recorded timeline)"),
    KeyBinding((",",), "step_back", ",", "one step back (restores the recorded state)"),
    KeyBinding(("page down",), "scrub_forward", "PgDn", "10 steps forward"),
    KeyBinding(("page up",), "scrub_back", "PgUp", "10 steps back"),
    KeyBinding(("home",), "to_start", "Home", "back to t = 0"),
    KeyBinding(("end",), "to_end", "End", "to the end of the recorded timeline"),
    KeyBinding(("timeline",), "scrub", "bar (click)", "click / drag the bar under the HUD: go there"),
    KeyBinding(("]",), "faster", "]", "playback speed x2 (up to 4x)"),
    KeyBinding(("[",), "slower", "[", "playback speed /2 (down to 1/8x)"),
    KeyBinding(
        ("up", "down", "left", "right"), "drive", "arrows", "drive the ego (accelerate, brake, steer)"
    ),
    KeyBinding(("p",), "planner", "P", "hand the ego to the planner (--agent); again: next planner"),
    KeyBinding(("mouse",), "select", "click / drag", "select an actor / drag an inserted actor (BEV)"),
    KeyBinding(("=", "+", "[+]"), "speed_up", "+", "selected actor: start speed +1 m/s"),
    KeyBinding(("-", "[-]"), "speed_down", "-", "selected actor: start speed -1 m/s"),
    KeyBinding(("b",), "cycle_behaviour", "B", "selected actor: next behaviour"),
    KeyBinding(("t",), "cycle_trigger", "T", "selected actor: next trigger type (none, time, distance ...)"),
    KeyBinding(("g",), "cycle_then", "G", "selected actor: next behaviour after the trigger"),
    KeyBinding(("k",), "trigger_less", "K", "selected actor: trigger parameter down"),
    KeyBinding(("l",), "trigger_more", "L", "selected actor: trigger parameter up"),
    KeyBinding(("tab",), "next_asset", "Tab", "next asset of the library"),
    KeyBinding(("a",), "insert_asset", "A", "insert that asset (at the mouse in the BEV, else 20 m ahead)"),
    KeyBinding(("delete", "x"), "delete", "Del / X", "remove the selected actor"),
    KeyBinding(("e",), "keep_time", "E", "edits restart at t = 0 / simulate again to the current time"),
    KeyBinding(("s",), "save", "S", "save the scenario to YAML"),
    KeyBinding(("r",), "reload", "R", "reload the scenario from disk"),
    KeyBinding(("h", "f1"), "help", "H / F1", "this help"),
    KeyBinding(("escape", "q"), "quit", "Esc / Q", "quit"),
)

SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)  # playback rates, x the simulation rate


def command_for_key(key_name: str) -> str | None:
    """The command bound to pygame key name ``key_name`` (None: unbound)."""
    for b in BINDINGS:
        if key_name in b.keys:
            return b.command
    return None


def help_lines() -> list[str]:
    """``label: help`` of every binding, for the help overlay."""
    return [f"{b.label:>12}  {b.help}" for b in BINDINGS]


DRIVE_KEYS = ("up", "down", "left", "right")


@dataclass
class KeyboardDriver:
    """The ego's action from the arrow keys held: normalised ``[accel, steer]`` in [-1, 1].

    Up: ``throttle`` (+1 = +4 m/s^2), down: ``-brake`` (-1 = -8 m/s^2), neither: coasting (0);
    left / right: ``+-steer`` (+1 = 0.6 rad to the left; the simulator limits the steering rate).
    """

    throttle: float = 0.5
    brake: float = 0.6
    steer: float = 0.5

    def __post_init__(self) -> None:
        self.held: set[str] = set()

    def press(self, key_name: str) -> None:
        self.held.add(key_name)

    def release(self, key_name: str) -> None:
        self.held.discard(key_name)

    def action(self) -> np.ndarray:
        """``[2]`` float32 (accel, steer)."""
        accel = (self.throttle if "up" in self.held else 0.0) - (self.brake if "down" in self.held else 0.0)
        steer = (self.steer if "left" in self.held else 0.0) - (self.steer if "right" in self.held else 0.0)
        return np.array([accel, steer], np.float32)
