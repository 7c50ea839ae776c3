"""``jwmsim eval ...``: the evaluation commands, one module each (``eval_<name>.py``), registered on
:data:`eval_app` by importing them at the bottom of this module."""

from __future__ import annotations

import typer

from jwmsim.cli.app import app

eval_app = typer.Typer(
    help="Evaluate the models and planners: reconstruction, generation, closed-loop driving.",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")

# Evaluation sub-commands: one module each (keep this list sorted; each adds itself to eval_app).
from jwmsim.cli import eval_closed_loop, eval_gen, eval_recon  # noqa: E402,F401
