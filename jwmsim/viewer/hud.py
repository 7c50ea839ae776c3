"""The HUD's text: time, speed, who drives, the step's metrics, the penalty that just fired and why,
the episode so far, the selected actor's script, frame time and the status line."""

from __future__ import annotations

from dataclasses import dataclass

from jwmsim.scenario.schema import Scenario
from jwmsim.sim.sim_state import SimState
from jwmsim.viewer.drawing import ALERT, DIM, GOOD, TEXT
from jwmsim.viewer.editing import inserted_index

Line = tuple[str, tuple[int, int, int]]


@dataclass(frozen=True)
class HudInfo:
    """What the HUD shows besides the state.

    Attributes:
        title: scenario name and run; driver: ``planner idm`` or ``keyboard``.
        playing / speed: playback state and rate (1.0 = the simulation rate, 10 Hz).
        step / steps: the cursor and the recorded timeline length.
        frame_ms: time of the last frame (simulation step + rendering + drawing) [ms];
        step_ms: of the simulation step and camera rendering alone [ms].
        selected: the selected actor's id; asset: the library asset *insert* adds.
        status: the last message (saved, reloaded, an edit refused ...); status_error: it is an error.
    """

    title: str
    driver: str
    playing: bool
    speed: float
    step: int
    steps: int
    frame_ms: float
    step_ms: float
    selected: str | None
    asset: str
    status: str = ""
    status_error: bool = False


def _script_text(scenario: Scenario, actor_id: str) -> str:
    i = inserted_index(scenario, actor_id)
    spec = (
        scenario.actors[i]
        if i is not None
        else next((o for o in scenario.log_actors.override if o.id == actor_id), None)
    )
    if spec is None:
        return "log replay"
    parts = [spec.behaviour.type if spec.behaviour is not None else "default"]
    if spec.trigger is not None:
        t = spec.trigger.model_dump(mode="json", exclude_defaults=True)
        t.pop("type", None)
        args = ", ".join(f"{k} {v}" for k, v in t.items())
        parts.append(f"-> on {spec.trigger.type}({args}) -> {spec.then.type if spec.then else '?'}")
    return " ".join(parts)


def hud_lines(state: SimState, scenario: Scenario, info: HudInfo) -> list[Line]:
    """The HUD's ``(text, colour)`` lines."""
    rate = 1.0 / state.world.config.dt
    play = "playing" if info.playing else "paused"
    lines: list[Line] = [
        (info.title, GOOD),
        (f"t = {state.time:5.1f} s   step {info.step}/{info.steps - 1}   {play} x{info.speed:g}", TEXT),
        (
            f"ego {state.ego.speed:5.2f} m/s  accel {state.ego.accel:+5.2f}  steer {state.ego.steer:+.2f}",
            TEXT,
        ),
        (f"driver: {info.driver}", TEXT),
    ]
    rec = state.last
    if rec is not None:
        m = rec.metrics
        lines.append(
            ("step: " + "  ".join(f"{k.upper()} {m[k]:.2f}" for k in ("nc", "dac", "ttc", "c", "ep")), TEXT)
        )
        for p in rec.penalties[:3]:
            lines.append((f"PENALTY {p.metric.upper()} = {p.value:.2f}: {p.cause}"[:78], ALERT))
    else:
        lines.append(("step: (start)", DIM))
    acc = state.episode
    if acc.penalties and (rec is None or not rec.penalties):
        p = acc.penalties[-1]
        lines.append(
            (f"last penalty t={p.time:.1f} s {p.metric.upper()} = {p.value:.2f}: {p.cause}"[:78], DIM)
        )
    lines.append(
        (f"episode: NC {acc.nc:.1f}  DAC {acc.dac:.0f}  TTC {acc.ttc:.0f}  C {acc.comfort:.0f}", TEXT)
    )
    if state.reason:
        lines.append((f"ended: {state.reason}", ALERT))
    budget = 1000.0 / (rate * info.speed)
    colour = GOOD if info.frame_ms <= budget else ALERT
    lines.append(
        (f"frame {info.frame_ms:5.1f} ms (sim+render {info.step_ms:5.1f} ms; {budget:.0f} ms budget)", colour)
    )
    if info.selected is not None:
        kind = ""
        if info.selected in state.actors.ids:
            i = state.actors.ids.index(info.selected)
            kind = f" {state.actors.kinds[i]} {state.actors.speed[i]:.1f} m/s"
        lines.append((f"selected {info.selected}{kind}", (255, 230, 0)))
        lines.append(("  " + _script_text(scenario, info.selected)[:74], (255, 230, 0)))
    lines.append((f"insert asset (Tab, A): {info.asset}    help: H", DIM))
    if info.status:
        lines.append((info.status[:80], ALERT if info.status_error else GOOD))
    return lines
