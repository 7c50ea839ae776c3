"""The typer application; sub-command modules are imported at the bottom so they register."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="jwmsim",
    help="Closed-loop driving simulator on a joint world model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Closed-loop driving simulator on a joint world model: Gaussian skeleton renders of recorded
    logs, log replay and scripted traffic, long-tail scenarios, closed-loop metrics."""


# Sub-commands: one module each (keep this list sorted).
from jwmsim.cli import eval_group, export, info, make_log, reconstruct, replay, train, view  # noqa: E402,F401
