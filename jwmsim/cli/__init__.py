"""The ``jwmsim`` command line (typer). Each sub-command is a function in its own module of this
'package; :mod:`jwmsim.cli.app` puts them on :data:`app`; :func:`main` turns
:class:`~jwmsim.errors.JwmsimError` into a clear message and a non-zero exit code, without a traceback."""

from __future__ import annotations

import sys

from jwmsim.cli.app import app
from jwmsim.errors import JwmsimError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``jwmsim`` console script (usage errors exit 2 through typer)."""
    try:
        app(args=argv, prog_name="jwmsim")
    except JwmsimError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  hint: {err.hint}", file=sys.stderr)
        user_traceback = getattr(err, "traceback", None)
        if user_traceback:  # the user's own code raised (e.g. a planner): its traceback helps them
            print(user_traceback.rstrip(), file=sys.stderr)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


__all__ = ["app", "main"]
