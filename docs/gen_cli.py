"""The command-line reference, generated from the typer application (:mod:`jwmsim.cli`).

``python docs/gen_cli.py`` prints the page's Markdown; the docs build calls
:func:`cli_reference_markdown` through ``docs/hooks.py``, so the reference always matches the
installed command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# typer ships its own copy of click: the walk below reads commands and parameters by their
# attributes, not by click's classes.
Command = Any
Parameter = Any


def _is_argument(param: Parameter) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _command_tree() -> Command:
    import typer

    from jwmsim.cli import app

    return typer.main.get_command(app)


def _help_text(command: Command) -> str:
    text = command.help or command.short_help or ""
    return " ".join(text.split())


def _type_text(param: Parameter) -> str:
    if getattr(param, "is_flag", False):
        return "flag"
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice:
        return " \\| ".join(f"`{c}`" for c in desc.choices or ())
    annotation = getattr(desc, "annotation", None)
    names = {str: "text", int: "integer", float: "number", Path: "path"}
    return names.get(annotation, getattr(annotation, "__name__", "text"))


def _default_text(param: Parameter) -> str:
    default = param.default
    if default is None or getattr(param, "is_flag", False) or param.required:
        return "required" if param.required else ""
    if callable(default):
        return ""
    if isinstance(default, (list, tuple)):
        return ", ".join(f"`{d}`" for d in default) if default else ""
    return f"`{default}`"


def _param_row(param: Parameter) -> str:
    if _is_argument(param):
        name = f"`{param.display_name_raw}`"
    else:
        names = list(param.opts) + list(getattr(param, "secondary_opts", []))
        name = ", ".join(f"`{n}`" for n in names)
    help_text = " ".join((getattr(param, "help", None) or "").split()).replace("|", "\\|")
    return f"| {name} | {_type_text(param)} | {_default_text(param)} | {help_text} |"


def _section(command: Command, path: list[str], depth: int) -> list[str]:
    title = " ".join(path)
    out = [f"{'#' * depth} `{title}`", ""]
    if _help_text(command):
        out += [_help_text(command), ""]
    ctx = command.context_class(command, info_name=title)
    usage = command.get_usage(ctx).removeprefix("Usage: ")
    out += ["```text", usage, "```", ""]
    params = [p for p in command.params if p.name != "help"]
    if params:
        out += ["| argument / option | value | default | description |", "|---|---|---|---|"]
        out += [_param_row(p) for p in params]
        out.append("")
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                out += _section(sub, [*path, name], min(depth + 1, 4))
    return out


def cli_reference_markdown() -> str:
    """One section per command and sub-command: what it does, usage, and a table of its options."""
    root = _command_tree()
    lines = _section(root, ["jwmsim"], 2)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(cli_reference_markdown())
