"""The KV cache of WorldGen's causal inference: permanent sink frames plus a sliding window.

Each cached frame holds, per transformer block, the keys and values of its clean tokens (written
by the pipeline's extra call at noise level 0), *before* the temporal rotary position is applied:
positions are assigned by slot when read (sinks first, then the window, oldest first; the frame
being generated takes the next slot), as StreamingLLM does, so that a 600-frame rollout only
ever uses the slots ``0 .. sinks + window`` seen in training. Memory is bounded by
``sinks + window`` frames.

The cache also keeps the last frame written as an image (``previous``, the model's own clean
output once generation runs), for a model that takes the previous frame per pixel.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import torch

from jwmsim.errors import ConfigError

FrameKV = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per block: (k, v) [B, heads, L, head_dim]


@dataclass(frozen=True)
class CacheSnapshot:
    """An immutable copy of a :class:`KVCache`'s frames (tensors are never written in place)."""

    sinks: tuple[FrameKV, ...]
    window: tuple[FrameKV, ...]
    written: int
    previous: torch.Tensor | None = None


class KVCache:
    """Keys and values of past frames.

    Args:
        num_sinks: the first frames written stay for good (attention sinks).
        window: the most recent frames kept besides the sinks.
    """

    def __init__(self, num_sinks: int, window: int) -> None:
        if num_sinks < 0 or window < 1:
            raise ConfigError(f"KV cache needs sinks >= 0 and window >= 1, got {num_sinks} and {window}")
        self.num_sinks = num_sinks
        self.window = window
        self._sinks: list[FrameKV] = []
        self._recent: deque[FrameKV] = deque(maxlen=window)
        self.written = 0  # frames appended over the cache's life
        self.previous: torch.Tensor | None = None  # [B, C, 3, H, W] the last frame written

    @property
    def num_frames(self) -> int:
        """Frames held now (at most ``num_sinks + window``)."""
        return len(self._sinks) + len(self._recent)

    def frames(self) -> list[FrameKV]:
        """Held frames in slot order (sinks, then the window, oldest first)."""
        return [*self._sinks, *self._recent]

    def layer(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Keys and values of block ``index`` over all held frames, ``[B, heads, N, head_dim]``
        each (None when empty)."""
        frames = self.frames()
        if not frames:
            return None
        if len(frames) == 1:
            return frames[0][index]
        return (
            torch.cat([f[index][0] for f in frames], dim=2),
            torch.cat([f[index][1] for f in frames], dim=2),
        )

    def append(self, frame: FrameKV, image: torch.Tensor | None = None) -> None:
        """Add a frame (it becomes a sink while there are fewer than ``num_sinks``); ``image``
        ``[B, C, 3, H, W]`` in [-1, 1], the frame itself, becomes :attr:`previous`."""
        if len(self._sinks) < self.num_sinks:
            self._sinks.append(frame)
        else:
            self._recent.append(frame)
        self.written += 1
        self.previous = None if image is None else image.detach()

    def clear(self) -> None:
        self._sinks = []
        self._recent.clear()
        self.written = 0
        self.previous = None

    def nbytes(self) -> int:
        """Bytes held by the cached tensors (keys, values and the previous frame)."""
        held = sum(t.numel() * t.element_size() for f in self.frames() for kv in f for t in kv)
        image = self.previous
        return held + (0 if image is None else image.numel() * image.element_size())

    def snapshot(self) -> CacheSnapshot:
        return CacheSnapshot(tuple(self._sinks), tuple(self._recent), self.written, self.previous)

    def restore(self, snap: CacheSnapshot) -> None:
        self._sinks = list(snap.sinks)
        self._recent = deque(snap.window, maxlen=self.window)
        self.written = snap.written
        self.previous = snap.previous
