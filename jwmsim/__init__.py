"""jwmsim: closed-loop driving simulation on a joint world model (Gaussian skeleton + generator)."""

from jwmsim.errors import CheckpointError, ConfigError, JwmsimError, LogFormatError

__version__ = "0.1.0"

__all__ = ["CheckpointError", "ConfigError", "JwmsimError", "LogFormatError", "__version__"]
