"""The typer application: every sub-command is a plain function in a module of its own
(``jwmsim/cli/<name>.py``), and this module alone puts them on the command line. The command modules
import nothing from here, so the command line has one visible table of contents: the lists below."""

from __future__ import annotations

import inspect
import re

import typer
import typer.core

from jwmsim.cli import (
    eval_closed_loop,
    eval_gen,
    eval_recon,
    export,
    info,
    make_log,
    reconstruct,
    replay,
    search,
    train,
    view,
)

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


# Top-level commands (keep sorted).
app.command("export")(export.export_command)
app.command("info")(info.info)
app.command("make-dataset")(make_log.make_dataset_command)
app.command("make-log")(make_log.make_log)
app.command("reconstruct")(reconstruct.reconstruct)
app.command("replay")(replay.replay_command)
app.command("search")(search.search_command)
app.command("view")(view.view_command)

eval_app = typer.Typer(
    help="Evaluate the models and planners: reconstruction, generation, closed-loop driving.",
    no_args_is_help=True,
)
eval_app.command("closed-loop")(eval_closed_loop.closed_loop_command)
eval_app.command("gen")(eval_gen.eval_gen)
eval_app.command("recon")(eval_recon.recon)
app.add_typer(eval_app, name="eval")

train_app = typer.Typer(help="Train the project's networks.", no_args_is_help=True)
train_app.command("worldgen")(train.worldgen)
train_app.command("worldrec")(train.worldrec)
app.add_typer(train_app, name="train")


def _reflow(text: str | None) -> str | None:
    """Help text with each paragraph on one line: the terminal wraps it, not the source code."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(re.sub(r"\s*\n\s*", " ", p).strip() for p in paragraphs)


def _tidy_help(group: typer.Typer) -> None:
    for command in group.registered_commands:
        command.help = _reflow(command.help or inspect.getdoc(command.callback))
    for sub in group.registered_groups:
        _tidy_help(sub.typer_instance)


_tidy_help(app)

# A flag takes no value, so its help shows no value type (typer would print "<bool>").
_display_type_rich = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = lambda self, ctx: (
    None if self.is_flag else _display_type_rich(self, ctx)
)
