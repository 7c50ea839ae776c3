"""``jwmsim eval recon``: WorldRec side by side with the lidar skeleton and per-scene fitting, on
the real log's held-out frames and on unseen procedural towns at shifted poses (see
:mod:`jwmsim.worldrec.training.evaluate`)."""

from __future__ import annotations

from pathlib import Path

import typer


def recon(
    out: Path = typer.Option(
        Path("runs/eval_recon"), "--out", help="folder for recon.json, recon.md, recon.png"
    ),
    model: Path = typer.Option(
        None, "--model", help="WorldRec weights folder (default: the shipped assets/worldrec)"
    ),
    data: Path = typer.Option(
        None, "--data", help="where the evaluation towns' logs are written (default: $JWMSIM_CACHE/worldrec)"
    ),
    real_log: Path = typer.Option(
        None, "--real-log", help="the real log's dataroot (default: ../shared/data)"
    ),
    no_real_log: bool = typer.Option(False, "--no-real-log", help="skip the real log"),
    seeds: str = typer.Option("900-904", "--seeds", help="evaluation towns, e.g. 900-904 or 900,902"),
    duration: float = typer.Option(4.0, "--duration", help="length of each evaluation town's log [s]"),
    fit_steps: int = typer.Option(1500, "--fit-steps", help="per-scene fitting steps per town (0: no fit)"),
    real_fit_steps: int = typer.Option(
        3000, "--real-fit-steps", help="fitting steps on the real log (0: no fit)"
    ),
    refine: int = typer.Option(
        300, "--refine", help="WorldRec + this many fitting steps on the real log (0: none)"
    ),
    budget: float = typer.Option(
        60.0,
        "--budget",
        help="WorldRec refined within this many seconds on the real log, as scenes are built (0: none)",
    ),
    size: str = typer.Option("90x160", "--size", help="evaluation resolution HEIGHTxWIDTH [px]"),
    no_prune: bool = typer.Option(False, "--no-prune", help="evaluate WorldRec's scenes unpruned"),
) -> None:
    """Score WorldRec, the lidar skeleton and per-scene fitting (PSNR / SSIM, build time, Gaussian
    count) on the real log, in-sample (frames 0-39, which training reads, held-out frames 4, 12, 20,
    28, 36) and out-of-sample (frames 40-59 as a new log no training read, held-out frames 42, 46,
    50, 54, 58) side by side, and on the evaluation towns 900-904 (never trained on) at the logged
    pose and shifted 0-3 m sideways against the oracle. No method reads a held-out frame. Writes a
    JSON report, a Markdown table and a plot to --out."""
    from jwmsim.cli.replay import parse_size
    from jwmsim.errors import ConfigError
    from jwmsim.worldrec.training.data import default_data_root, default_real_log
    from jwmsim.worldrec.training.evaluate import EvalOptions, markdown_table, run
    from jwmsim.worldrec.weights import weights_dir

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file", hint="name a folder for the report")
    for name, value in (
        ("--fit-steps", fit_steps),
        ("--real-fit-steps", real_fit_steps),
        ("--refine", refine),
        ("--budget", budget),
    ):
        if not value >= 0:
            raise ConfigError(f"{name} must be 0 or more, got {value}")
    options = EvalOptions(
        image_hw=parse_size(size),
        seeds=_parse_seeds(seeds),
        duration=duration,
        fit_steps=fit_steps,
        real_fit_steps=real_fit_steps,
        refine_steps=refine,
        budget=budget,
        prune=None if no_prune else EvalOptions().prune,
    )
    real = None
    if not no_real_log:
        real = real_log or default_real_log()
        if not (Path(real) / "v1.0-mini").is_dir() and not any(Path(real).glob("v1.0-*")):
            raise ConfigError(
                f"the real log {real} is not a nuScenes dataroot",
                hint="pass --real-log DATAROOT, or --no-real-log to evaluate on the towns only",
            )
    report = run(
        model or weights_dir(), data or default_data_root(), out / "recon.json", real, options, typer.echo
    )
    typer.echo(markdown_table(report["summary"]))
    typer.echo(f"wrote {out / 'recon.json'}, {out / 'recon.md'} and {out / 'recon.png'}")


def _parse_seeds(text: str) -> tuple[int, ...]:
    from jwmsim.errors import ConfigError

    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError as err:
        raise ConfigError(f"--seeds must look like 900-904 or 900,902, got {text!r}") from err
    if not seeds:
        raise ConfigError("--seeds names no town")
    return tuple(seeds)
