"""User-facing errors: each says what is wrong, where, and how to fix it.

The command line prints these without a traceback and exits non-zero (``exit_code``); library users
catch :class:`JwmsimError`.
"""

from __future__ import annotations


class JwmsimError(Exception):
    """Base class of every error jwmsim reports to a user.

    Args:
        message: what is wrong and where (a path, a field).
        hint: how to fix it.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


class LogFormatError(JwmsimError):
    """A log (nuScenes dataroot, table, image, map) is missing or malformed."""

    exit_code = 2


class ConfigError(JwmsimError):
    """A configuration, scenario file or command-line value is invalid."""

    exit_code = 2


class CheckpointError(JwmsimError):
    """A saved scene or model checkpoint is missing, corrupt or does not match."""

    exit_code = 2


class SceneMismatchError(CheckpointError):
    """A Gaussian scene was built from another log than the one it is asked to render."""
