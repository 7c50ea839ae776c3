"""Errors of ``jwmsim search``: each says what is wrong and how to go on (the CLI prints them and
exits non-zero)."""

from __future__ import annotations

from jwmsim.errors import ConfigError, JwmsimError


class NothingToSearch(ConfigError):
    """The scenario has no jittered parameter: there is no space to search."""


class StudyMismatch(ConfigError):
    """The output folder holds the study of another scenario, agent or objective."""


class SearchBusy(JwmsimError):
    """Another search is writing to the same output folder."""


class SearchFailed(JwmsimError):
    """A trial's planner raised or returned an action the simulator refuses.

    Attributes:
        traceback: the planner's traceback (its own code), when it raised.
    """

    def __init__(self, message: str, hint: str, traceback: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.traceback = traceback


class SearchInterrupted(JwmsimError):
    """Ctrl-C: the finished trials are in the study; running the command again continues it."""

    exit_code = 130


__all__ = ["NothingToSearch", "SearchBusy", "SearchFailed", "SearchInterrupted", "StudyMismatch"]
