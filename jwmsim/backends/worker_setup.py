"""Setting up a worker process (a local pool's, a Ray worker, a vector environment's) for
simulation tasks."""

from __future__ import annotations

import os
import signal
import threading


def prepare_worker(threads: int) -> None:
    """Run the CPU rasterizer's numba kernels on ``threads`` threads and PyTorch on one (the cores
    are shared among the workers), make ``threads`` the budget of every environment made later in
    this process (:func:`jwmsim.threads.set_process_threads`: ``DriveEnvConfig.threads="auto"``
    then gives it that many), and ignore SIGINT: the caller, not the terminal, stops tasks."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import torch

    from jwmsim.gaussians.backend_cpu import set_threads
    from jwmsim.threads import set_process_threads

    set_threads(threads)
    torch.set_num_threads(1)
    set_process_threads(threads)
