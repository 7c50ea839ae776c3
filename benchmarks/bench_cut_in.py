"""Is the cut-in survivable comfortably? The time gap and time-to-collision at the moment the cutter
enters the ego's lane, over the scenario's jittered draws, and what each planner makes of them.

The moment of the cut-in is the first step after the cutter's trigger at which its centre is
within half a lane (1.75 m) of the ego's heading line. There, with ``gap`` the bumper-to-bumper
distance along the ego's heading [m]:

* time gap [s] = ``gap / v_ego`` (Euro NCAP and UN R157 state cut-in severity by it);
* TTC [s] = ``gap / (v_ego - v_cutter)`` when the ego closes in, else infinite;
* the deceleration that matches speeds within the gap [m/s^2] = ``(v_ego - v_cutter)^2 / (2 gap)``.

UN R157 (ALKS) requires a system to avoid a cut-in whose TTC at a 10-20 km/h speed difference is
at least 0.48-0.71 s; draws above that are within what a careful driver is expected to handle.
Each planner's runs report episode comfort C, at-fault collisions and the strongest braking.

    .venv/bin/python benchmarks/bench_cut_in.py [--runs 20] [--agents idm pdm_closed]

writes ``benchmarks/results/cut_in_gaps.json`` (machine and calibration included).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from jwmsim.machine import describe, machine_info
from jwmsim.replay_run import RunSetup, load_for_runs, run_one

REPO = Path(__file__).resolve().parents[1]
HALF_LANE = 1.75  # [m]


class CutInProbe:
    """``on_step`` hook: records the cut-in moment and the ego's strongest braking."""

    def __init__(self, actor: str = "cutter") -> None:
        self.actor = actor
        self.moment: dict[str, float] | None = None
        self.min_accel = math.inf

    def __call__(self, state) -> None:  # SimState
        ego, actors = state.ego, state.actors
        self.min_accel = min(self.min_accel, float(ego.accel))
        if self.moment is not None or self.actor not in actors.ids:
            return
        i = actors.index(self.actor)
        if math.isnan(float(actors.triggered_at[i])):
            return
        c, s = math.cos(ego.yaw), math.sin(ego.yaw)
        dx, dy = float(actors.x[i]) - ego.x, float(actors.y[i]) - ego.y
        ahead, lateral = c * dx + s * dy, -s * dx + c * dy
        if abs(lateral) > HALF_LANE:
            return
        limits = state.world.config.vehicle
        gap = ahead - 0.5 * (limits.length + float(actors.length[i]))
        v_ego, v_cut = float(ego.speed), float(actors.speed[i])
        closing = v_ego - v_cut
        self.moment = {
            "time": float(state.time),
            "gap_m": gap,
            "time_gap_s": gap / max(v_ego, 1e-6),
            "ttc_s": gap / closing if closing > 1e-6 else None,  # None: not closing in
            "closing_speed_mps": closing,
            "decel_to_match_mps2": closing**2 / (2 * max(gap, 1e-3)) if closing > 0 else 0.0,
        }


def measure(agent: str, runs: int, out: Path) -> list[dict[str, float | str | None]]:
    setup = RunSetup(
        scenario_path=REPO / "scenarios" / "cut_in.yaml",
        agent=agent,
        out=out / agent,
        render="none",
        scene="lidar",
        force_scene=False,
        cameras=(),
        image_size=(64, 112),
        render_backend="auto",
        device="cpu",
    )
    loaded = load_for_runs(setup)
    rows = []
    for k in range(runs):
        probe = CutInProbe()
        res = run_one(loaded, k, on_step=probe)
        rows.append(
            {
                "run": k,
                "status": res.status,
                **(probe.moment or {}),
                "c": res.metrics.get("c"),
                "collision": res.metrics.get("collision"),
                "min_accel_mps2": probe.min_accel,
            }
        )
    return rows


def summary(rows: list[dict]) -> dict[str, object]:
    cut = [r for r in rows if "time_gap_s" in r]

    def span(key: str) -> list[float]:
        vals = [float(r[key]) for r in cut if r.get(key) is not None]
        return [round(min(vals), 2), round(max(vals), 2)] if vals else []

    return {
        "runs": len(rows),
        "cut_in_seen": len(cut),
        "time_gap_s": span("time_gap_s"),
        "ttc_s": span("ttc_s"),
        "closing_speed_mps": span("closing_speed_mps"),
        "decel_to_match_mps2": span("decel_to_match_mps2"),
        "comfortable_runs": sum(1 for r in rows if r["c"] == 1.0),
        "collisions": sum(1 for r in rows if r["collision"] == 1.0),
        "strongest_braking_mps2": round(min(float(r["min_accel_mps2"]) for r in rows), 2),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--agents", nargs="+", default=["idm", "pdm_closed"])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cut_in_gaps.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        per_agent = {a: measure(a, args.runs, Path(tmp)) for a in args.agents}
    result = {
        "command": "python benchmarks/bench_cut_in.py " + " ".join(argv or []),
        "machine": describe(machine_info()),
        "un_r157_min_ttc_s": {"10 km/h": 0.48, "20 km/h": 0.71},
        "summary": {a: summary(r) for a, r in per_agent.items()},
        "runs": per_agent,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for agent, s in result["summary"].items():
        print(agent, json.dumps(s))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
