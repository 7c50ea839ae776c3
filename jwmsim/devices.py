"""Where tensors live: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.

On a CUDA device the Gaussian renders use the gsplat backend (``render_backend="auto"``), on the
CPU the project's numba rasterizer.
"""

from __future__ import annotations

import torch

from jwmsim.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N")


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device named by ``device`` (see the module docstring).

    Raises:
        ConfigError: an unknown name, or CUDA asked for where none is available.
    """
    if isinstance(device, torch.device):
        name = str(device)
    else:
        name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}", hint=f"use one of {list(DEVICE_CHOICES)}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r} is not supported", hint=f"use one of {list(DEVICE_CHOICES)}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} asked for, but this torch build sees no CUDA GPU",
                hint="use --device cpu (or auto), or install the CUDA build of torch (see the README)",
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are present",
                hint="use cuda:0 ... cuda:N-1",
            )
    return dev
