"""The default WorldGen sampler's settings with the anchor on: the ``sharp`` solver's end level and
classifier-free guidance, scored by ``jwmsim eval gen``'s harness on the sets of the default check.

Cases (each the shipped teacher, ``sharp`` 2 steps, ``detail`` anchor, one change):

* ``end-0.1`` (the default), ``end-0.15``, ``end-0.2``, ``end-0.3``, ``end-0.35``, ``end-0.5``:
  the level whose ``x0`` is the frame (:func:`jwmsim.worldgen.flow.sharp_levels`), registered here as solvers
  of the pipeline's solver registry;
* ``guidance-1.25``, ``guidance-1.5``, ``guidance-2``: guidance on the skeleton condition (two model
  calls per step);
* ``guidance-1.5-end-0.2``: both;
* ``detail-sigma-2``, ``detail-sigma-2.5``: the ``detail`` anchor splitting colour from detail at a
  Gaussian blur of 2 or 2.5 px instead of the default 3
  (:data:`jwmsim.worldgen.anchoring.DETAIL_SIGMA`);
* ``detail-strength-1``, ``detail-strength-0.6``: the ``detail`` anchor taking all, or 0.6, of the
  generated frame's low frequencies where the skeleton covers the view instead of the default 0.8
  (:data:`jwmsim.worldgen.anchoring.DETAIL_STRENGTH`);
* ``noise-correlation-0``, ``noise-correlation-0.3``: each frame's starting noise independent of
  the previous frame's, or correlated with it at 0.3, instead of the default 0.15
  (``SamplerConfig.noise_correlation``);
* ``anchor-ramp-0.3-0.5``, ``anchor-ramp-0.4-0.6``, ``anchor-ramp-0.5-0.8``: the anchor's coverage
  ramp from 0.3 to 0.5 (the default before), 0.4 to 0.6 or 0.5 to 0.8 instead of the default 0.5 to
  0.7 (:data:`jwmsim.worldgen.anchoring.ANCHOR_LO`, ``ANCHOR_HI``).

Sets: the unseen towns 900, 901, 903, 904 at a constant 2 m shift and the real log's held-out
frames 50-59, lidar and WorldRec skeletons (``--only shift-2m --only real-heldout``, as in
``assets/worldgen_student/eval_results.json``). The JSON keeps the harness's report per case (the
skeleton beside it), so every measure of the default check can be recomputed; the WorldGen page's
table is generated from it.

Run:  flock /tmp/jwmsim-cpu.lock .venv/bin/python benchmarks/bench_worldgen_sampler.py [--root DIR]
[--weights DIR] [--cases NAME ...]
Writes benchmarks/results/bench_worldgen_sampler.json (or --out). About 8 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import describe, machine_info, write_report  # noqa: E402
from jwmsim.worldgen.anchoring import ANCHOR_HI, ANCHOR_LO, DETAIL_SIGMA, DETAIL_STRENGTH  # noqa: E402
from jwmsim.worldgen.flow import SHARP_END  # noqa: E402
from jwmsim.worldgen.pipeline_worldgen import SamplerConfig  # noqa: E402

NAME = "bench_worldgen_sampler"
SETS = ("shift-2m", "real-heldout")
DEFAULT_END = SHARP_END  # 0.1
DEFAULT_NOISE_CORRELATION = SamplerConfig.noise_correlation  # 0.15


@dataclass(frozen=True)
class Case:
    """One sampler setting: the ``sharp`` solver's end level, guidance, the ``detail`` anchor's split
    [px], strength and coverage ramp (``lo`` to ``hi``) and the starting noise's frame-to-frame
    correlation."""

    end: float = DEFAULT_END
    guidance: float = 1.0
    sigma: float = DETAIL_SIGMA
    strength: float = DETAIL_STRENGTH
    lo: float = ANCHOR_LO
    hi: float = ANCHOR_HI
    noise_correlation: float = DEFAULT_NOISE_CORRELATION

    @property
    def default_anchor(self) -> bool:
        """Whether the case's anchor is the default ``detail`` anchor."""
        default = (DETAIL_SIGMA, DETAIL_STRENGTH, ANCHOR_LO, ANCHOR_HI)
        return (self.sigma, self.strength, self.lo, self.hi) == default


CASES: dict[str, Case] = {
    "end-0.1": Case(),
    "end-0.15": Case(end=0.15),
    "end-0.2": Case(end=0.2),
    "end-0.3": Case(end=0.3),
    "end-0.35": Case(end=0.35),
    "end-0.5": Case(end=0.5),
    "guidance-1.25": Case(guidance=1.25),
    "guidance-1.5": Case(guidance=1.5),
    "guidance-2": Case(guidance=2.0),
    "guidance-1.5-end-0.2": Case(end=0.2, guidance=1.5),
    "detail-sigma-2": Case(sigma=2.0),
    "detail-sigma-2.5": Case(sigma=2.5),
    "detail-strength-1": Case(strength=1.0),
    "detail-strength-0.6": Case(strength=0.6),
    "noise-correlation-0": Case(noise_correlation=0.0),
    "noise-correlation-0.3": Case(noise_correlation=0.3),
    "anchor-ramp-0.3-0.5": Case(lo=0.3, hi=0.5),
    "anchor-ramp-0.4-0.6": Case(lo=0.4, hi=0.6),
    "anchor-ramp-0.5-0.8": Case(lo=0.5, hi=0.8),
}


def register_case(name: str, case: Case) -> None:
    """A ``sharp`` solver ending at ``case.end`` and an evaluation generator of the shipped teacher
    with it, ``case.guidance`` and ``case.noise_correlation``, both named ``bench-<name>``; the
    default anchor, or where the case's anchor settings differ from it the ``detail`` anchor with
    them (registered as ``bench-detail-<sigma>-<strength>-<lo>-<hi>``)."""
    end = case.end
    from jwmsim.worldgen.anchoring import ANCHORS, Anchor, detail
    from jwmsim.worldgen.flow import sharp_levels
    from jwmsim.worldgen.pipeline_worldgen import SOLVERS, Solver, WorldGenPipeline
    from jwmsim.worldgen.training.generators import GENERATORS, GeneratorOptions, GeneratorSpec

    solver = f"bench-end-{end}"
    if solver not in SOLVERS.names():
        SOLVERS.add(
            solver,
            Solver(
                SOLVERS.get("sharp").step,
                lambda steps, shift, end=end: [*sharp_levels(steps, end), 0.0],
                f"Euler steps from level 1 down to {end}; the frame is the x0 predicted there",
            ),
        )

    anchor = SamplerConfig().anchor
    if not case.default_anchor:
        anchor = f"bench-detail-{case.sigma}-{case.strength}-{case.lo}-{case.hi}"
        if anchor not in ANCHORS.names():
            what = (
                f"the detail anchor split at {case.sigma} px, strength {case.strength}, "
                f"ramp {case.lo}-{case.hi}"
            )
            ANCHORS.add(anchor, Anchor(detail(case.sigma, case.strength, case.lo, case.hi), what))

    def make(options: GeneratorOptions) -> WorldGenPipeline:
        cfg = SamplerConfig(
            solver=solver, guidance=case.guidance, anchor=anchor, noise_correlation=case.noise_correlation
        )
        return WorldGenPipeline.from_pretrained(options.weights, cfg, options.device)

    label = f"the default sampler, end {end}, guidance {case.guidance}, anchor {anchor}"
    GENERATORS.add(f"bench-{name}", GeneratorSpec(make, label))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=None, help="data root (default $JWMSIM_CACHE/worldgen)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / f"{NAME}.json")
    ap.add_argument("--weights", type=Path, default=None, help="model folder (default: the shipped teacher)")
    ap.add_argument(
        "--cases",
        nargs="+",
        choices=sorted(CASES),
        default=list(CASES),
        help="cases to run (default: all)",
    )
    args = ap.parse_args()
    from jwmsim.worldgen.training.dataset import default_root
    from jwmsim.worldgen.training.evaluate import EvalConfig, run_eval
    from jwmsim.worldgen.training.generators import GeneratorOptions

    machine = machine_info()
    print(describe(machine), flush=True)
    root = args.root or default_root()
    results: dict[str, Any] = {}
    for name in args.cases:
        case = CASES[name]
        register_case(name, case)
        t = time.perf_counter()
        options = GeneratorOptions(weights=args.weights)
        cfg = EvalConfig(root, ("skeleton", f"bench-{name}"), options, only=SETS)
        report = run_eval(cfg, log=lambda _: None)
        results[name] = {
            "end_level": case.end,
            "guidance": case.guidance,
            "detail_sigma": case.sigma,
            "detail_strength": case.strength,
            "anchor_ramp": [case.lo, case.hi],
            "noise_correlation": case.noise_correlation,
            "seconds": round(time.perf_counter() - t, 1),
            "sampler": report["weights"][f"bench-{name}"],
            "towns": {g.removeprefix("bench-"): v for g, v in report["towns"].items()},
            "real_heldout": {g.removeprefix("bench-"): v for g, v in report["real_heldout"].items()},
        }
        print(f"{name}: {results[name]['seconds']} s", flush=True)
    write_report(
        args.out,
        {
            "benchmark": "bench_worldgen_sampler",
            "command": " ".join(["python", "benchmarks/bench_worldgen_sampler.py", *sys.argv[1:]]),
            "machine": machine,
            "sets": list(SETS),
            "root": str(root),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
