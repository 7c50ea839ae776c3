"""Failure search against random draws: how bad a case each finds on the same budget, and how many
trials the search needs to find one at least as bad as the worst of the random draws.

For each seed, on the same scenario (default: the shipped ``cut_in``) and agent (``idm``):

* **random**: ``budget`` runs of the scenario's own jitter, ``sample(scenario, i, seed)`` for
  ``i = 0 .. budget-1`` (what ``jwmsim replay --runs budget`` runs), through the search's trial
  task (:func:`jwmsim.search.trials.run_trial`, so both measure the same metric and TTC margin);
* **search**: ``jwmsim search`` (:func:`jwmsim.search.search`) with the same budget, TPE (and any
  other ``--samplers``), seeded with the seed, one trial at a time.

Cases are ranked as the search ranks them: lowest PDMS first, ties broken by the smaller TTC
margin. Per seed it records each method's worst case, the trial at which it was found, the trial at
which the search first matched the random draws' worst case, and the first trial with PDMS below
``--hard-below`` (a sub-score failure); over the seeds the mean, standard deviation, min and max.

Run:  nice -n 10 .venv/bin/python benchmarks/bench_search.py [--budget 16] [--seeds 0 1 2 3]
Writes benchmarks/results/bench_search.json (or --out).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe, machine_info, write_report  # benchmarks/machine.py

from jwmsim.backends import BackendOptions, make_backend
from jwmsim.replay import ReplayOptions, prepare_runs
from jwmsim.scenario import sample
from jwmsim.search import SearchOptions, objective_by_name, search
from jwmsim.search.study import STUDY_FILE, STUDY_NAME
from jwmsim.search.trials import TrialTask, run_trial

REPO = Path(__file__).resolve().parents[1]


def random_draws(scenario: str, agent: str, budget: int, seed: int, out: Path) -> list[tuple[float, float]]:
    """``(pdms, ttc margin)`` of runs ``0 .. budget-1`` of the scenario's jitter with ``seed``."""
    loaded_scenario, setup, _, _ = prepare_runs(
        Path(scenario), ReplayOptions(agent=agent, out=out, render="none", workers=1, progress=False)
    )
    tasks = [
        TrialTask(setup, i, sample(loaded_scenario, i, seed).draws, f"random-{seed}") for i in range(budget)
    ]
    with make_backend("local", BackendOptions(workers=1)) as backend:
        outcomes = sorted((o for _, o in backend.map(run_trial, tasks)), key=lambda o: o.number)
    bad = [o for o in outcomes if o.status != "finished"]
    if bad:
        raise RuntimeError(f"random run {bad[0].number} ended {bad[0].status}: {bad[0].error}")
    return [(float(o.metrics["pdms"]), o.margin) for o in outcomes]


def searched(
    scenario: str, agent: str, budget: int, seed: int, sampler: str, out: Path
) -> list[tuple[float, float]]:
    """``(pdms, ttc margin)`` of the trials of a search, in trial order."""
    import optuna
    from optuna.trial import TrialState

    search(
        scenario,
        SearchOptions(
            agent=agent,
            budget=budget,
            out=out,
            sampler=sampler,
            seed=seed,
            top=1,
            video=False,
            progress=False,
        ),
    )
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / STUDY_FILE}")
    done = study.get_trials(states=(TrialState.COMPLETE,))
    return [(float(t.user_attrs["metric"]), float(t.user_attrs["ttc_margin"])) for t in done]


def summarise(cases: list[tuple[float, float]], hard_below: float) -> dict[str, Any]:
    """The worst case (PDMS, then margin), the trial (1-based) that found it, the first hard case."""
    worst_at = min(range(len(cases)), key=lambda i: (cases[i], i))
    hard = next((i + 1 for i, (m, _) in enumerate(cases) if m < hard_below), None)
    return {
        "worst_pdms": cases[worst_at][0],
        "worst_margin": cases[worst_at][1],
        "worst_found_at": worst_at + 1,
        "first_hard_at": hard,
        "pdms": [c[0] for c in cases],
        "ttc_margin": [c[1] for c in cases],
    }


def trials_to_match(cases: list[tuple[float, float]], target: tuple[float, float]) -> int | None:
    """First trial (1-based) whose case is at least as bad as ``target``; None if none is."""
    return next((i + 1 for i, c in enumerate(cases) if c <= target), None)


def spread(values: list[float | int | None]) -> dict[str, Any]:
    """Mean, standard deviation, min, max of the values that are not None, and how many are."""
    got = [float(v) for v in values if v is not None]
    if not got:
        return {"n": 0}
    return {
        "n": len(got),
        "mean": round(statistics.fmean(got), 4),
        "std": round(statistics.stdev(got), 4) if len(got) > 1 else 0.0,
        "min": round(min(got), 4),
        "max": round(max(got), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="cut_in", help="scenario file or library name")
    ap.add_argument("--agent", default="idm")
    ap.add_argument("--budget", type=int, default=16, help="trials per method and seed")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--samplers", nargs="+", default=["tpe"], help="search samplers to compare")
    ap.add_argument("--hard-below", type=float, default=0.5, help="a case with PDMS below this is hard")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "bench_search.json")
    args = ap.parse_args(argv)
    objective_by_name("pdms")
    machine = machine_info()  # before the work: the calibration sees the machine, not the benchmark
    print(describe(machine))
    per_seed: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_search_") as tmp:
        for seed in args.seeds:
            row: dict[str, Any] = {"seed": seed}
            t0 = time.perf_counter()
            rand = random_draws(args.scenario, args.agent, args.budget, seed, Path(tmp) / f"random_{seed}")
            row["random"] = {**summarise(rand, args.hard_below), "wall_s": round(time.perf_counter() - t0, 1)}
            target = min(rand)
            for sampler in args.samplers:
                t0 = time.perf_counter()
                found = searched(
                    args.scenario, args.agent, args.budget, seed, sampler, Path(tmp) / f"{sampler}_{seed}"
                )
                row[sampler] = {
                    **summarise(found, args.hard_below),
                    "trials_to_match_random": trials_to_match(found, target),
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            per_seed.append(row)
            rnd = row["random"]
            line = f"seed {seed}: random worst {rnd['worst_pdms']:.4f} at trial {rnd['worst_found_at']}"
            for sampler in args.samplers:
                r = row[sampler]
                line += (
                    f"; {sampler} worst {r['worst_pdms']:.4f} at trial {r['worst_found_at']}, "
                    f"matched random at {r['trials_to_match_random']}"
                )
            print(line, flush=True)
    methods = ["random", *args.samplers]
    summary: dict[str, Any] = {}
    for method in methods:
        rows = [r[method] for r in per_seed]
        summary[method] = {
            "worst_pdms": spread([r["worst_pdms"] for r in rows]),
            "worst_found_at": spread([r["worst_found_at"] for r in rows]),
            "first_hard_at": spread([r["first_hard_at"] for r in rows]),
            "seeds_with_a_hard_case": sum(r["first_hard_at"] is not None for r in rows),
        }
        if method != "random":
            summary[method]["trials_to_match_random"] = spread([r["trials_to_match_random"] for r in rows])
            summary[method]["seeds_at_least_as_bad_as_random"] = sum(
                (r["worst_pdms"], r["worst_margin"])
                <= (q["random"]["worst_pdms"], q["random"]["worst_margin"])
                for r, q in zip(rows, per_seed, strict=True)
            )
    for method in methods:
        s = summary[method]
        text = (
            f"{method:>7}: worst PDMS {s['worst_pdms']['mean']:.4f} +- {s['worst_pdms']['std']:.4f} "
            f"(found at trial {s['worst_found_at']['mean']:.1f} +- {s['worst_found_at']['std']:.1f}); "
            f"a case below {args.hard_below} in {s['seeds_with_a_hard_case']}/{len(per_seed)} seeds"
        )
        if method != "random":
            m = s["trials_to_match_random"]
            text += (
                f"; as bad as random in {s['seeds_at_least_as_bad_as_random']}/{len(per_seed)} seeds, "
                + (
                    f"matched random's worst after {m['mean']:.1f} +- {m['std']:.1f} trials ({m['n']} seeds)"
                    if m["n"]
                    else "never matched random's worst"
                )
            )
        print(text)
    report = {
        "benchmark": "search",
        "meta": {
            "scenario": args.scenario,
            "agent": args.agent,
            "budget": args.budget,
            "seeds": args.seeds,
            "samplers": args.samplers,
            "objective": "lowest pdms, ties broken by the smallest ttc_margin",
            "hard_below": args.hard_below,
            "random": "the scenario's own jitter draws sample(scenario, i, seed), i < budget",
            "wall_s": round(time.perf_counter() - started, 1),
            "command": "python " + " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        },
        "machine": machine,
        "summary": summary,
        "per_seed": per_seed,
    }
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
