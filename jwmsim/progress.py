"""Progress of long jobs: a live bar on a terminal, plain periodic lines otherwise.

A bar redraws itself with carriage returns, which fills a log file (``nohup ... > run.log``) with
thousands of fragments. :func:`progress_bar` takes tqdm's arguments; when its output is not a
terminal it prints one complete line at most every :data:`LINE_INTERVAL_S` seconds, and a last one
when the job ends.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from tqdm import tqdm

LINE_INTERVAL_S = 30.0  # [s] between plain progress lines when the output is not a terminal


class LineProgress(tqdm):
    """tqdm that writes whole lines (no carriage returns), at most every ``mininterval`` seconds."""

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        text = (msg if msg is not None else self.__str__()).strip()
        if text:
            self.fp.write(text + "\n")
            self.fp.flush()
        return True

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        """As tqdm's, but never forces a line: the next periodic line shows the postfix."""
        super().set_postfix(ordered_dict, refresh=False, **kwargs)


def is_terminal(stream: IO[str] | None) -> bool:
    """True when ``stream`` is an interactive terminal (``JWMSIM_PROGRESS=bar`` forces a bar,
    ``=lines`` plain lines)."""
    forced = os.environ.get("JWMSIM_PROGRESS", "").strip().lower()
    if forced in ("bar", "lines"):
        return forced == "bar"
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm bar on a terminal, else :class:`LineProgress` (same arguments as ``tqdm``)."""
    stream = kwargs.get("file") or sys.stderr
    if is_terminal(stream):
        return tqdm(iterable, **kwargs)
    kwargs.setdefault("mininterval", LINE_INTERVAL_S)
    kwargs.setdefault("ascii", True)
    return LineProgress(iterable, **kwargs)


__all__ = ["LINE_INTERVAL_S", "LineProgress", "is_terminal", "progress_bar"]
