"""WorldGen: a pixel-space flow-matching transformer, causal across frames and joint across cameras.

Per camera image, a small convolutional stem takes the noisy image (3 channels) and, through
*zero-initialised* extra input channels, the skeleton condition (RGB, depth feature, alpha), and
down-samples by 16 to a token grid (112x200 -> 7x13 after padding the width: 91 tokens per camera,
273 per 3-camera frame). Tokens get a Fourier encoding of their camera ray in the ego frame
(camera identity and intrinsics in one), and every block is modulated per frame (adaLN-Zero) by
the noise level and the ego motion since the previous frame. Attention runs over the tokens of all
cameras of a frame jointly and, across frames, under a block mask (one frame per block: full for
bidirectional pretraining, block-causal for teacher forcing and inference); frames are told apart
by a temporal rotary position (their slot). A mirror-image convolutional head with U-Net skips and a
full-resolution skip of the noisy image and (zero-initialised) of the condition predicts the clean
image ``x0``; the flow-matching velocity is ``(x_s - x0) / s`` (x-prediction, which small
pixel-space models learn far better than noise-like targets).

With ``previous_frame`` the stem and the head also take, per pixel and through the same
zero-initialised entry points, the previous clean frame of the same camera (zeros where there is
none): the frame before in a training clip; at inference the last frame in the KV cache, i.e. the
model's own previous output (the past frames concatenated to the input, as in the diffusion world
models DIAMOND and GameNGen). The tokens see the past through attention at 16-pixel resolution;
this path gives the head the past at full resolution, for what the skeleton leaves empty.

At a fresh initialisation the output does not depend on the condition at all (tested); training
opens the condition channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from jwmsim.worldgen.conditioning import padded_hw
from jwmsim.worldgen.configuration_worldgen import COND_CHANNELS, PREVIOUS_CHANNELS, check_config
from jwmsim.worldgen.kv_cache import FrameKV, KVCache


def fourier(x: torch.Tensor, bands: int) -> torch.Tensor:
    """``[..., n]`` -> ``[..., n (1 + 2 bands)]``: x, sin and cos of ``2^b pi x``."""
    freqs = (2.0 ** torch.arange(bands, device=x.device, dtype=x.dtype)) * math.pi
    ang = x.unsqueeze(-1) * freqs  # [..., n, bands]
    return torch.cat([x, ang.sin().flatten(-2), ang.cos().flatten(-2)], dim=-1)


def timestep_embedding(s: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of ``t = 1000 s``: ``[...]`` -> ``[..., dim]``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=s.device, dtype=torch.float32) / half)
    ang = (1000.0 * s.float()).unsqueeze(-1) * freqs
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


def rope_tables(positions: torch.Tensor, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin ``[N, head_dim / 2]`` of the temporal rotary position of ``N`` tokens."""
    inv = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    ang = positions.float().unsqueeze(-1) * inv
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``[B, heads, N, head_dim]`` by the tables ``[N, head_dim / 2]`` (the two halves
    of the head dimension form the pairs)."""
    x1, x2 = x.chunk(2, dim=-1)
    c, s = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


def _rms(norm: nn.RMSNorm, x: torch.Tensor) -> torch.Tensor:
    """``norm`` in ``x``'s dtype (under bf16 autocast the fused kernel wants matching weights)."""
    return F.rms_norm(x, norm.normalized_shape, norm.weight.to(x.dtype), norm.eps)


class ZeroInitConv(nn.Conv2d):
    """A convolution whose weights and bias start at zero (the condition's entry point)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1) -> None:
        super().__init__(cin, cout, k, stride=stride, padding=k // 2)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class Block(nn.Module):
    """Pre-norm transformer block with adaLN-Zero modulation per frame and QK-RMS-norm."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(
        self,
        h: torch.Tensor,  # [B, N, D]
        frame_cond: torch.Tensor,  # [B, F, D]
        tokens_per_frame: int,
        rope: tuple[torch.Tensor, torch.Tensor],  # of the N query tokens
        mask: torch.Tensor | None,  # [N, N_keys] bool, True = attend
        past: tuple[torch.Tensor, torch.Tensor] | None = None,  # cached k, v (un-rotated)
        past_rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        kv_only: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Returns the new ``h`` and this call's un-rotated ``(k, v)`` ``[B, heads, N, head_dim]``
        (``kv_only``: the keys and values alone; ``h`` comes back unchanged)."""
        b, n, d = h.shape
        f = frame_cond.shape[1]
        # per-frame modulation broadcast over the frame's tokens (no [B, N, 6D] copy)
        sh1, sc1, g1, sh2, sc2, g2 = self.modulation(F.silu(frame_cond)).unsqueeze(2).chunk(6, dim=-1)
        hf = h.view(b, f, tokens_per_frame, d)
        x = (self.norm1(hf) * (1 + sc1) + sh1).view(b, n, d)
        qkv = self.qkv(x).view(b, n, 3, self.heads, d // self.heads)
        q = _rms(self.q_norm, qkv[:, :, 0]).transpose(1, 2)
        k = _rms(self.k_norm, qkv[:, :, 1]).transpose(1, 2).contiguous()
        v = qkv[:, :, 2].transpose(1, 2).contiguous()
        new_kv = (k, v)
        if kv_only:
            return h, new_kv
        q, k_rot = apply_rope(q, *rope), apply_rope(k, *rope)
        if past is not None:
            assert past_rope is not None
            k_rot = torch.cat([apply_rope(past[0], *past_rope), k_rot], dim=2)
            v = torch.cat([past[1], v], dim=2)
        att = F.scaled_dot_product_attention(q, k_rot, v, attn_mask=mask)
        hf = hf + g1 * self.proj(att.transpose(1, 2).reshape(b, n, d)).view(b, f, tokens_per_frame, d)
        hf = hf + g2 * self.mlp(self.norm2(hf) * (1 + sc2) + sh2)
        h = hf.view(b, n, d)
        return h, new_kv


class WorldGenModel(ModelMixin, ConfigMixin):
    """See the module docstring.

    Args:
        image_hw: ``(height, width)`` the model was trained at [px] (it runs at any size whose
            padded height and width divide by ``patch``; tokens follow the size).
        patch: total down-sampling of the convolutional stem [px per token side] (16: 112x200 ->
            7x13 tokens per camera after padding the width to 208).
        stem_channels: channels of the head's full-resolution (per-pixel) stage and of the stem's
            stages at strides 2, 4 and 8 (the stride-16 stage has ``dim`` channels); the head
            mirrors them with skips.
        dim: transformer width [D].
        depth: transformer blocks.
        heads: attention heads (``dim`` must divide by it; the head width must be even for RoPE).
        mlp_ratio: hidden width of the feed-forward layers, in units of ``dim``.
        ray_bands: Fourier bands of the per-token camera ray encoding.
        max_frames: frame slots of the temporal rotary position (the longest clip trained on;
            the pipeline's sinks + window + 1 must not exceed it).
        rope_base: base of the temporal rotary frequencies.
        depth_scale: the depth feature is ``1 / (1 + depth / depth_scale)`` (0 where empty) [m].
        motion_scale: ego motion between frames is divided by this before embedding
            (``(dx, dy, dz)`` [m], ``dyaw`` [rad x 10]).
        timestep_shift: ``k`` of the flow-matching timestep shift ``k s / (1 + (k - 1) s)``.
        previous_frame: also take the previous clean frame per pixel (module docstring).
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        image_hw: tuple[int, int] = (112, 200),
        patch: int = 16,
        stem_channels: tuple[int, int, int, int] = (16, 32, 64, 128),
        dim: int = 256,
        depth: int = 6,
        heads: int = 4,
        mlp_ratio: float = 3.0,
        ray_bands: int = 6,
        max_frames: int = 8,
        rope_base: float = 100.0,
        depth_scale: float = 10.0,
        motion_scale: float = 2.0,
        timestep_shift: float = 5.0,
        previous_frame: bool = False,
    ) -> None:
        super().__init__()
        check_config(dict(locals()))
        c0, c1, c2, c3 = stem_channels
        act = nn.SiLU()
        # stem: noisy image + zero-initialised condition -> stride 16 tokens
        self.in_x = nn.Conv2d(3, c1, 3, 2, 1)
        cond_in = COND_CHANNELS + (PREVIOUS_CHANNELS if previous_frame else 0)
        self.in_cond = ZeroInitConv(cond_in, c1, stride=2)
        self.down2 = nn.Sequential(nn.Conv2d(c1, c2, 3, 2, 1), act, nn.Conv2d(c2, c2, 3, padding=1), act)
        self.down3 = nn.Sequential(nn.Conv2d(c2, c3, 3, 2, 1), act)
        self.down4 = nn.Conv2d(c3, dim, 3, 2, 1)
        # embeddings
        self.ray_embed = nn.Linear(3 * (1 + 2 * ray_bands), dim)
        self.time_embed = nn.Sequential(nn.Linear(dim, dim), act, nn.Linear(dim, dim))
        self.motion_embed = nn.Sequential(nn.Linear(4, dim), act, nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.out_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.out_modulation = nn.Linear(dim, 2 * dim)
        nn.init.zeros_(self.out_modulation.weight)
        nn.init.zeros_(self.out_modulation.bias)
        # head: tokens -> full resolution with skips; the full-resolution stage is per pixel (1x1)
        self.up4 = nn.Conv2d(dim, c3, 1)
        self.up3 = nn.Sequential(nn.Conv2d(2 * c3, c2, 3, padding=1), act)
        self.up2 = nn.Sequential(nn.Conv2d(2 * c2, c1, 3, padding=1), act)
        self.up1 = nn.Sequential(nn.Conv2d(2 * c1, c0, 3, padding=1), act)
        self.out_x = nn.Conv2d(c0 + 3, c0, 1)
        self.out_cond = ZeroInitConv(cond_in, c0, k=1)
        self.out_hidden = nn.Sequential(act, nn.Conv2d(c0, c0, 1), act)
        self.out = nn.Conv2d(c0, 3, 1)

    # --- pieces ------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.config.dim // self.config.heads

    def _with_previous(self, cond: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """The condition ``[..., 5, H, W]`` with the previous frame ``[..., 3, H, W]`` appended
        (zeros when None) where the model takes it; unchanged otherwise."""
        if not self.config.previous_frame:
            return cond
        if previous is None:
            previous = cond.new_zeros(*cond.shape[:-3], PREVIOUS_CHANNELS, *cond.shape[-2:])
        elif previous.shape != (*cond.shape[:-3], PREVIOUS_CHANNELS, *cond.shape[-2:]):
            raise ValueError(
                f"previous frames {tuple(previous.shape)} do not match the condition {tuple(cond.shape)}"
            )
        return torch.cat([cond, previous.to(cond.dtype)], dim=-3)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = padded_hw((h, w), self.config.patch)
        return F.pad(x, (0, pw - w, 0, ph - h)) if (ph, pw) != (h, w) else x

    def _encode(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images ``[M, 3, H, W]`` and condition ``[M, 5 (+3), H, W]`` -> tokens ``[M, D, h, w]`` and the
        skips (/2, /4, /8 resolution) of the padded images."""
        f1 = F.silu(self.in_x(self._pad(x)) + self.in_cond(self._pad(cond)))
        f2 = self.down2(f1)
        f3 = self.down3(f2)
        return self.down4(f3), [f1, f2, f3]

    def _decode(
        self, tokens: torch.Tensor, skips: list[torch.Tensor], x: torch.Tensor, cond: torch.Tensor
    ) -> torch.Tensor:
        """Tokens ``[M, D, h, w]`` -> ``x0`` prediction ``[M, 3, H, W]`` (cropped to ``x``'s size)."""
        f1, f2, f3 = skips
        up = self.up4(tokens)
        y = self.up3(torch.cat([F.interpolate(up, size=f3.shape[-2:]), f3], 1))
        y = self.up2(torch.cat([F.interpolate(y, size=f2.shape[-2:]), f2], 1))
        y = self.up1(torch.cat([F.interpolate(y, size=f1.shape[-2:]), f1], 1))
        h, w = x.shape[-2:]
        y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)[..., :h, :w]
        y = self.out_x(torch.cat([y, x], 1)) + self.out_cond(cond)
        return self.out(self.out_hidden(y))

    def _frame_cond(self, levels: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` noise levels and ``[B, F, 4]`` ego motion -> ``[B, F, D]``."""
        scale = self.config.motion_scale
        m = motion.float() / torch.tensor([scale, scale, scale, 0.1 * scale], device=motion.device)
        return self.time_embed(timestep_embedding(levels, self.config.dim)) + self.motion_embed(m)

    def _ray_tokens(self, rays: torch.Tensor) -> torch.Tensor:
        """``[B, C, h, w, 3]`` rays -> ``[B, C h w, D]`` embeddings."""
        emb = self.ray_embed(fourier(rays.float(), self.config.ray_bands))
        return emb.flatten(1, 3)

    def _tokens(self, x: torch.Tensor, cond: torch.Tensor, rays: torch.Tensor) -> tuple:
        """Frames ``[B, F, C, 3, H, W]`` -> tokens ``[B, F L, D]``, skips, grid ``(h, w)``."""
        b, f, c = x.shape[:3]
        tok, skips = self._encode(x.flatten(0, 2), cond.flatten(0, 2))
        gh, gw = tok.shape[-2:]
        if rays.dim() != 5 or rays.shape[-3:-1] != (gh, gw) or rays.shape[-4] != c:
            raise ValueError(
                f"rays must be [B, C={c}, {gh}, {gw}, 3] for this image size, got {tuple(rays.shape)}"
            )
        tok = tok.view(b, f, c, -1, gh * gw).permute(0, 1, 2, 4, 3).reshape(b, f, c * gh * gw, -1)
        ray = self._ray_tokens(rays.expand(b, *rays.shape[-4:]))  # [B, L, D]
        return (tok + ray[:, None]).flatten(1, 2), skips, (gh, gw)

    def _heads(
        self, h: torch.Tensor, frame_cond: torch.Tensor, b: int, f: int, c: int, grid: tuple[int, int]
    ) -> torch.Tensor:
        """Final norm + modulation; ``[B, F L, D]`` -> per image token maps ``[B F C, D, h, w]``."""
        gh, gw = grid
        sh, sc = self.out_modulation(F.silu(frame_cond)).unsqueeze(2).chunk(2, -1)
        h = self.out_norm(h.view(b, f, c * gh * gw, -1)) * (1 + sc) + sh
        return h.view(b, f, c, gh, gw, -1).permute(0, 1, 2, 5, 3, 4).reshape(b * f * c, -1, gh, gw)

    # --- forward passes ----------------------------------------------------------------------
    def forward(
        self,
        x: torch.Tensor,
        levels: torch.Tensor,
        cond: torch.Tensor,
        rays: torch.Tensor,
        motion: torch.Tensor,
        positions: torch.Tensor,
        block_mask: torch.Tensor | None = None,
        out_blocks: torch.Tensor | None = None,
        previous: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict clean frames for a sequence of ``F`` frame blocks.

        Args:
            x: ``[B, F, C, 3, H, W]`` noisy (or clean, at level 0) images in [-1, 1].
            levels: ``[B, F]`` noise level ``s`` of each block.
            cond: ``[B, F, C, 5, H, W]`` skeleton condition (:func:`encode_condition`; zeros = dropped).
            rays: ``[B or 1, C, h, w, 3]`` token rays (:func:`token_rays` at the padded grid).
            motion: ``[B, F, 4]`` ego motion since the previous frame (``dx, dy, dz`` [m], ``dyaw`` [rad]).
            positions: ``[F]`` long temporal slot of each block (``< max_frames``).
            block_mask: ``[F, F]`` bool, True where block i attends to block j (None: all blocks
                attend to all: bidirectional).
            out_blocks: ``[F_out]`` long: the blocks to decode (None: all).
            previous: ``[B, F, C, 3, H, W]`` the clean frame before each block's frame, zeros
                where none (None: none at all); ignored unless the model takes it
                (``previous_frame``).

        Returns:
            ``[B, F_out, C, 3, H, W]`` the ``x0`` prediction.
        """
        b, f, c = x.shape[:3]
        if positions.shape != (f,) or int(positions.max()) >= self.config.max_frames:
            raise ValueError(
                f"positions must be [F={f}] slots < {self.config.max_frames}, got {positions.tolist()}"
            )
        cond = self._with_previous(cond, previous)
        h, skips, grid = self._tokens(x, cond, rays)
        per_frame = h.shape[1] // f
        frame_cond = self._frame_cond(levels, motion)
        rope = rope_tables(
            positions.to(x.device).repeat_interleave(per_frame), self.head_dim, self.config.rope_base
        )
        mask = None
        if block_mask is not None:
            mask = block_mask.to(x.device).repeat_interleave(per_frame, 0).repeat_interleave(per_frame, 1)
        for block in self.blocks:
            h, _ = block(h, frame_cond, per_frame, rope, mask)
        maps = self._heads(h, frame_cond, b, f, c, grid).view(b, f, c, -1, *grid)
        xs = x
        cs = cond
        sk = [s.view(b, f, c, *s.shape[1:]) for s in skips]
        if out_blocks is not None:
            idx = out_blocks.to(x.device)
            maps, xs, cs = maps[:, idx], x[:, idx], cond[:, idx]
            sk = [s[:, idx] for s in sk]
        fo = maps.shape[1]
        out = self._decode(
            maps.flatten(0, 2), [s.flatten(0, 2) for s in sk], xs.flatten(0, 2), cs.flatten(0, 2)
        )
        return out.view(b, fo, c, *out.shape[1:])

    def forward_cached(
        self,
        x: torch.Tensor,
        level: torch.Tensor,
        cond: torch.Tensor,
        rays: torch.Tensor,
        motion: torch.Tensor,
        cache: KVCache,
        write: bool = False,
        decode: bool = True,
    ) -> torch.Tensor | None:
        """One frame against the cached past frames (block-causal inference).

        Args:
            x: ``[B, C, 3, H, W]``; level: ``[B]``; cond: ``[B, C, 5, H, W]``; rays as :meth:`forward`;
            motion: ``[B, 4]``.
            cache: the past frames; the frame takes slot ``cache.num_frames``; its last written
                image is the previous frame of a model that takes it.
            write: append this call's keys and values to the cache (the clean call at level 0),
                and ``x`` as the cache's previous frame.
            decode: predict ``x0``; False (with ``write``) only fills the cache: the last block
                stops at its keys and values and no image is decoded (the same cache, less work).

        Returns:
            ``[B, C, 3, H, W]`` the ``x0`` prediction (None when not ``decode``).
        """
        if not decode and not write:
            raise ValueError("a call that neither decodes nor writes the cache does nothing")
        b, c = x.shape[:2]
        slot = cache.num_frames
        if slot >= self.config.max_frames:
            raise ValueError(f"cache holds {slot} frames; the model has {self.config.max_frames} slots")
        cond = self._with_previous(cond, cache.previous)
        h, skips, grid = self._tokens(x[:, None], cond[:, None], rays)
        n = h.shape[1]
        frame_cond = self._frame_cond(level[:, None], motion[:, None])
        dev = x.device
        rope = rope_tables(torch.full((n,), slot, device=dev), self.head_dim, self.config.rope_base)
        past_rope = None
        if slot:
            past_pos = torch.arange(slot, device=dev).repeat_interleave(n)
            past_rope = rope_tables(past_pos, self.head_dim, self.config.rope_base)
        written: list[tuple[torch.Tensor, torch.Tensor]] = []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            kv_only = not decode and i == last
            h, kv = block(h, frame_cond, n, rope, None, cache.layer(i), past_rope, kv_only=kv_only)
            written.append(kv)
        if write:
            frame: FrameKV = tuple((k.detach(), v.detach()) for k, v in written)
            cache.append(frame, x if self.config.previous_frame else None)
        if not decode:
            return None
        maps = self._heads(h, frame_cond, b, 1, c, grid)
        return self._decode(maps, skips, x.flatten(0, 1), cond.flatten(0, 1)).view(b, c, 3, *x.shape[-2:])


def with_previous_frame(model: WorldGenModel) -> WorldGenModel:
    """A copy of ``model`` that also takes the previous frame, with its weights and zero weights
    on the new input channels: the same outputs as ``model`` until training opens them (tested).
    A model that already takes it is returned as it is."""
    if model.config.previous_frame:
        return model
    grown = WorldGenModel.from_config(model.config, previous_frame=True)
    state = model.state_dict()
    for name in ("in_cond.weight", "out_cond.weight"):
        w = state[name]
        extra = w.new_zeros(w.shape[0], PREVIOUS_CHANNELS, *w.shape[2:])
        state[name] = torch.cat([w, extra], dim=1)
    grown.load_state_dict(state)
    return grown.to(next(model.parameters()).device).train(model.training)


def previous_frames(frames: torch.Tensor) -> torch.Tensor:
    """``[B, F, ...]`` consecutive clean frames -> the frame before each, ``[B, F, ...]`` (zeros
    before the first)."""
    return torch.cat([torch.zeros_like(frames[:, :1]), frames[:, :-1]], dim=1)


def causal_block_mask(frames: int) -> torch.Tensor:
    """``[F, F]`` bool: block i attends to blocks j <= i."""
    return torch.ones(frames, frames, dtype=torch.bool).tril()


def teacher_forcing_mask(frames: int) -> torch.Tensor:
    """``[2F, 2F]`` bool for ``F`` clean blocks followed by their ``F`` noisy copies: clean block b
    attends to clean blocks <= b; noisy block b attends to clean blocks < b and to itself."""
    m = torch.zeros(2 * frames, 2 * frames, dtype=torch.bool)
    m[:frames, :frames] = causal_block_mask(frames)
    m[frames:, :frames] = causal_block_mask(frames).tril(-1)
    m[frames:, frames:] = torch.eye(frames, dtype=torch.bool)
    return m
