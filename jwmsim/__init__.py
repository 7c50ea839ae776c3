"""jwmsim: closed-loop driving simulation on a joint world model (Gaussian skeleton + generator)."""

from jwmsim.errors import CheckpointError, ConfigError, JwmsimError, LogFormatError
from jwmsim.registration import ENV_ID, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_ID", "CheckpointError", "ConfigError", "JwmsimError", "LogFormatError", "__version__"]
