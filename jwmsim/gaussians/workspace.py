"""Scratch buffers reused from one render to the next.

A 3-camera render of a 180k-Gaussian scene needs some 40 MB of intermediate arrays (projections,
screen boxes, sort keys, tile lists). Fresh arrays of that size come from ``mmap``, and the first
write to each of their pages is a page fault that the kernel serialises: on a 2-core AVX2 machine
this cost more than the arithmetic (projection 9 ms, of which threads could not share any).
Renders without a gradient take their intermediates from a :class:`Workspace` instead; renders with
one do not (the backward pass keeps them).
"""

from __future__ import annotations

import threading

import numpy as np


class Workspace:
    """Named, growing, uninitialised numpy buffers (contents are garbage until written)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
        """An uninitialised C-contiguous array ``shape`` of ``dtype``, a view of buffer ``name``
        (valid until the next ``get`` of the same name)."""
        dt = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        buf = self._buffers.get(name)
        if buf is None or buf.nbytes < nbytes:
            buf = np.empty(max(nbytes + nbytes // 4, 64), np.uint8)  # grow with some headroom
            self._buffers[name] = buf
        return buf[:nbytes].view(dt).reshape(shape)

    @property
    def nbytes(self) -> int:
        """Bytes held by all buffers."""
        return sum(b.nbytes for b in self._buffers.values())


_LOCAL = threading.local()


def thread_workspace() -> Workspace:
    """This thread's workspace (one per thread: renders in different threads do not share)."""
    ws = getattr(_LOCAL, "workspace", None)
    if ws is None:
        ws = _LOCAL.workspace = Workspace()
    return ws
