"""The WorldRec network: context images + sparse 3D queries -> K Gaussians per query + a sky map.

Stages (each a method, so that :mod:`jwmsim.worldrec.reconstruct` can fuse a long log window by
window; one window = :meth:`WorldRecModel.forward`):

1. :meth:`~WorldRecModel.encode`: a strided CNN trained from scratch -> features at stride 4.
2. :meth:`~WorldRecModel.embed`: query = learned kind embedding + Fourier(position) -> MLP.
3. :meth:`~WorldRecModel.aggregate`: deformable sampling. Each query predicts ``P`` key points
   around its anchor (the first on it); every key point is projected into every context view
   where the query's owner is present (``uv = K [R|t] x``; actors' points through their box pose
   at the view's time); features and colours are sampled bilinearly; weights are a softmax over
   (views x points) of ``<W q, f + e_time> / sqrt(F) + b_p(q) + log v`` with invalid = ``-inf``
   and ``v = sigmoid((D(uv) - z) / tau + 2)`` (``D``: lidar depth of that view); a query no view
   sees gets zeros. The summed visibility is the query's weight when windows are fused.
4. :meth:`~WorldRecModel.decode`: ``xyz = anchor + tanh(o) * unit``, scale by sigmoid within
   ``scale_range * unit`` (log space), normalised quaternion, opacity logit, colour delta.
5. :meth:`~WorldRecModel.sample_colours`: the visibility- and distance-weighted mean colour of
   the context pixels each Gaussian projects to; colour = sigmoid(logit(that) + delta).
6. :meth:`~WorldRecModel.predict_sky`: a sky map (elevation rows) from pooled features.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from jwmsim.gaussians.scene import GaussianComponent, GaussianScene, SkyModel, logit
from jwmsim.logs.segment import ActorTrack
from jwmsim.worldrec.configuration_worldrec import check_config
from jwmsim.worldrec.inputs import WindowViews
from jwmsim.worldrec.queries import KIND_ACTOR, KIND_ANCHOR, KIND_LIDAR, NUM_KINDS, Tokens, box_pose

FEATURE_STRIDE = 4
OPACITY_BIAS = {KIND_LIDAR: 1.5, KIND_ANCHOR: -3.0, KIND_ACTOR: 1.5}  # initial opacity logit per kind


# --- geometry of one window ------------------------------------------------------------------------
@dataclass(frozen=True)
class OwnerGeometry:
    """Where each owner (world, actors) is in each view of a window.

    Attributes:
        cam_from_owner: ``[V, A + 1, 4, 4]`` float32 (owner 0 = world: the view matrices).
        present: ``[V, A + 1]`` bool: the actor is annotated at the view's time.
    """

    cam_from_owner: torch.Tensor
    present: torch.Tensor

    def to(self, device: torch.device | str) -> OwnerGeometry:
        return OwnerGeometry(self.cam_from_owner.to(device), self.present.to(device))


def owner_geometry(
    views: WindowViews, actor_ids: Sequence[str], tracks: Mapping[str, ActorTrack]
) -> OwnerGeometry:
    """:class:`OwnerGeometry` of ``views`` for the actors ``actor_ids`` (box poses at view times)."""
    v, a = views.num_views, len(actor_ids)
    world_from_owner = np.tile(np.eye(4), (v, a + 1, 1, 1))
    present = np.zeros((v, a + 1), dtype=bool)
    present[:, 0] = True
    uniq, inv = np.unique(np.round(views.times, 4), return_inverse=True)
    for j, aid in enumerate(actor_ids):
        tr = tracks[aid]
        for ti, t in enumerate(uniq):
            if tr.is_present(float(t)):
                sel = inv == ti
                world_from_owner[sel, j + 1] = box_pose(tr, float(t))
                present[sel, j + 1] = True
    viewmats = views.viewmats.detach().cpu().double().numpy()
    cam = np.einsum("vij,vajk->vaik", viewmats, world_from_owner)
    return OwnerGeometry(torch.from_numpy(cam).float(), torch.from_numpy(present))


def transform_points(cam_from_owner: torch.Tensor, owner: torch.Tensor, xyz: torch.Tensor) -> torch.Tensor:
    """Points ``xyz`` ``[N, 3]`` of owners ``owner`` ``[N]`` in every camera: ``[V, N, 3]``.

    World-owned points share one matrix per view (one einsum); actor points gather their owner's
    matrix per view (few points): two kernels instead of one per owner."""
    rot, trans = cam_from_owner[:, :, :3, :3], cam_from_owner[:, :, :3, 3]  # [V, A+1, 3, 3], [V, A+1, 3]
    out = torch.einsum("vij,nj->vni", rot[:, 0], xyz) + trans[:, 0, None]
    act = (owner > 0).nonzero()[:, 0]
    if len(act):
        o = owner[act]
        pa = (rot[:, o] * xyz[act][None, :, None, :]).sum(-1) + trans[:, o]  # [V, Na, 3] (no tiny bmm)
        out = out.index_copy(1, act, pa)
    return out


def bilinear_gather(
    table: torch.Tensor, view: torch.Tensor, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Bilinear samples of ``table`` ``[V, h, w, C]`` at continuous cell coordinates ``x``, ``y``
    ``[S]`` (cell centres at integers, clamped to the border) of views ``view`` ``[S]``: ``[S, C]``,
    differentiable in ``table``, ``x`` and ``y``.

    One ``grid_sample`` call: the views are stacked into one tall image and each sample's row is
    clamped inside its own view first, so that no sample blends two views."""
    nv, h, w, c = table.shape
    tall = table.permute(3, 0, 1, 2).reshape(1, c, nv * h, w)
    xc = x.clamp(0, w - 1)
    yc = y.clamp(0, h - 1) + view.to(y.dtype) * h
    gx = xc / max(w - 1, 1) * 2 - 1
    gy = yc / max(nv * h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], -1).reshape(1, -1, 1, 2).to(table.dtype)
    out = F.grid_sample(tall, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out[0, :, :, 0].T


def fourier(x: torch.Tensor, bands: int, scale: float) -> torch.Tensor:
    """``[N, 3]`` -> ``[N, 3 + 6 * bands]``: ``x / scale`` and sin / cos at wavelengths
    ``scale / 2**k`` [m]."""
    freqs = 2.0 * math.pi * (2.0 ** torch.arange(bands, dtype=x.dtype, device=x.device)) / scale
    ang = x[:, :, None] * freqs  # [N, 3, B]
    return torch.cat([x / scale, torch.sin(ang).flatten(1), torch.cos(ang).flatten(1)], 1)


def _mlp(din: int, dh: int, dout: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(din, dh), nn.GELU(), nn.Linear(dh, dout))


class ImageEncoder(nn.Module):
    """Strided CNN: ``[V, 3, H, W]`` -> ``[V, F, ceil(H/4), ceil(W/4)]`` (stride-8 context added back)."""

    def __init__(self, channels: Sequence[int], feat_dim: int) -> None:
        super().__init__()
        c1, c2, c3 = channels

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(4 if cout % 4 == 0 else 1, cout), nn.GELU()
            )

        self.stem = nn.Sequential(block(5, c1, 2), block(c1, c2, 2))  # RGB + normalised pixel coords
        self.mid = nn.Sequential(block(c2, c2, 1), block(c2, c2, 1))
        self.down = nn.Sequential(block(c2, c3, 2), block(c3, c3, 1))
        self.up = nn.Conv2d(c3, c2, 1)
        self.out = nn.Conv2d(c2, feat_dim, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        v, _, h, w = images.shape
        ys = torch.linspace(-1, 1, h, dtype=images.dtype)[:, None].expand(h, w)
        xs = torch.linspace(-1, 1, w, dtype=images.dtype)[None, :].expand(h, w)
        x = torch.cat([images * 2 - 1, torch.stack([xs, ys])[None].expand(v, 2, h, w)], 1)
        s4 = self.stem(x)
        s4 = s4 + self.mid(s4)
        s8 = self.down(s4)
        s4 = s4 + F.interpolate(self.up(s8), size=s4.shape[-2:], mode="bilinear", align_corners=False)
        return self.out(s4)


@dataclass
class Aggregate:
    """What the views told each query: ``features`` ``[N, F]``, ``rgb`` ``[N, 3]`` (weighted
    colour at its key points), ``mass`` ``[N]`` (summed visibility; 0 = seen by no view)."""

    features: torch.Tensor
    rgb: torch.Tensor
    mass: torch.Tensor


@dataclass
class GaussianBatch:
    """Decoded Gaussians, ``G = N * K``, in their owners' frames.

    Attributes:
        means ``[G, 3]``, quats ``[G, 4]``, log_scales ``[G, 3]``, opacity_logits ``[G]``,
        color_delta ``[G, 3]``: raw parameters; owner ``[G]`` long; query ``[G]`` long (its token).
    """

    means: torch.Tensor
    quats: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    color_delta: torch.Tensor
    owner: torch.Tensor
    query: torch.Tensor


@dataclass
class WorldRecOutput:
    """One window's prediction: ``gaussians``, ``color_logits`` ``[G, 3]``, ``sky_logits``
    ``[3, rows, cols]`` and the ``actor_ids`` of owners ``1..A``."""

    gaussians: GaussianBatch
    color_logits: torch.Tensor
    sky_logits: torch.Tensor
    actor_ids: tuple[str, ...]

    def scene(self, metadata: Mapping[str, str] | None = None) -> GaussianScene:
        """The prediction as a :class:`GaussianScene` (tensors keep their graph: differentiable)."""
        return gaussians_to_scene(
            self.gaussians, self.color_logits, self.sky_logits, self.actor_ids, metadata
        )


def gaussians_to_scene(
    g: GaussianBatch,
    color_logits: torch.Tensor,
    sky_logits: torch.Tensor,
    actor_ids: Sequence[str],
    metadata: Mapping[str, str] | None = None,
) -> GaussianScene:
    """Background (owner 0) in the world frame, one component per actor in its box frame."""

    owner = g.owner
    if len(owner) > 1 and bool((owner[1:] < owner[:-1]).any()):
        order = torch.argsort(owner, stable=True)
    else:
        order = None
    fields = [g.means, g.quats, g.log_scales, g.opacity_logits, color_logits]
    if order is not None:
        fields, owner = [t[order] for t in fields], owner[order]
    counts = torch.bincount(owner, minlength=len(actor_ids) + 1).tolist()
    parts = list(zip(*(torch.split(t, counts) for t in fields), strict=True))
    bg = GaussianComponent(*parts[0])
    actors = {aid: GaussianComponent(*parts[a + 1]) for a, aid in enumerate(actor_ids) if counts[a + 1] > 0}
    return GaussianScene(bg, actors, SkyModel(sky_logits), dict(metadata or {}))


class WorldRecModel(ModelMixin, ConfigMixin):
    """Feed-forward Gaussian reconstruction from sparse 3D queries (see the module docstring).

    Args:
        image_hw: ``(height, width)`` the context images are resized to [px].
        enc_channels: channels of the three encoder stages (strides 2, 4, 8); features at stride 4.
        feat_dim: channels of the image feature map the queries sample [F].
        query_dim: width of a query token [D].
        num_points: key points per query for deformable sampling (the first sits on the anchor).
        gaussians_per_query: K Gaussians decoded per query.
        max_time_steps: context time steps a window may hold (size of the time embedding).
        fourier_bands: frequency bands of the Fourier position encoding.
        fourier_scale: wavelength of the lowest band [m].
        lidar_voxel: base voxel of the lidar-seeded background queries [m] (doubles every
            ``lidar_voxel_range`` metres from the ego).
        lidar_voxel_range: [m].
        max_lidar_queries: cap on lidar-seeded background queries per window.
        anchor_voxel: voxel of the ego-centred anchor grid [m].
        anchor_extent: ``(x_back, x_front, y_half, z_low, z_high)`` of the anchor grid in the ego
            frame [m].
        max_anchor_queries: cap on anchor queries per window.
        actor_voxel: voxel of the actor queries in the box frame [m].
        max_actor_queries: cap per actor.
        offset_scale: key-point and Gaussian offsets, in units of the query's voxel.
        scale_range: ``(lo, hi)`` Gaussian standard deviation, in units of the query's voxel.
        visibility_tau: softness of the depth test ``sigmoid((D - z) / tau)`` [m] at 10 m (grows
            linearly with depth).
        sky_hw: ``(rows, cols)`` of the predicted sky map.
    """

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        image_hw: tuple[int, int] = (90, 160),
        enc_channels: tuple[int, int, int] = (16, 32, 48),
        feat_dim: int = 32,
        query_dim: int = 64,
        num_points: int = 4,
        gaussians_per_query: int = 4,
        max_time_steps: int = 8,
        fourier_bands: int = 6,
        fourier_scale: float = 64.0,
        lidar_voxel: float = 0.3,
        lidar_voxel_range: float = 15.0,
        max_lidar_queries: int = 5000,
        anchor_voxel: float = 3.0,
        anchor_extent: tuple[float, float, float, float, float] = (-30.0, 50.0, 30.0, -1.0, 15.0),
        max_anchor_queries: int = 1500,
        actor_voxel: float = 0.15,
        max_actor_queries: int = 150,
        offset_scale: float = 1.0,
        scale_range: tuple[float, float] = (0.08, 2.5),
        visibility_tau: float = 0.5,
        sky_hw: tuple[int, int] = (8, 16),
    ) -> None:
        super().__init__()
        check_config(dict(locals()))
        d, f, p, k = query_dim, feat_dim, num_points, gaussians_per_query
        self.encoder = ImageEncoder(tuple(enc_channels), f)
        pos_dim = 3 + 6 * fourier_bands
        self.kind_embedding = nn.Embedding(NUM_KINDS, d)
        self.query_mlp = _mlp(pos_dim + 1, d, d)
        self.time_embedding = nn.Embedding(max_time_steps, f)
        self.offsets = nn.Linear(d, 3 * (p - 1))
        self.point_bias = nn.Linear(d, p)
        self.query_proj = nn.Linear(d, f)
        self.query_update = _mlp(d + f + 3 + 1, 2 * d, d)
        self.norm = nn.LayerNorm(d)
        self.head = _mlp(d, 2 * d, k * 14)
        self.sky_head = nn.Linear(f + 3, 3 * sky_hw[0])
        self._init_heads()

    def _init_heads(self) -> None:
        k = self.config.gaussians_per_query
        with torch.no_grad():
            for layer in (self.offsets, self.sky_head):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
            last = self.head[-1]
            last.weight.mul_(0.01)
            bias = torch.zeros(k, 14)
            # spread the K Gaussians of a query on a small pattern around the anchor
            g = torch.Generator().manual_seed(0)
            pattern = torch.randn(k, 3, generator=g)
            pattern = 0.5 * pattern / pattern.norm(dim=1, keepdim=True).clamp_min(1e-6)
            bias[:, 0:3] = torch.atanh(pattern.clamp(-0.9, 0.9) * (1.0 if k > 1 else 0.0))
            bias[:, 6] = 1.0  # quaternion w
            last.bias.copy_(bias.flatten())

    # --- stages ------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``[V, H, W, 3]`` in [0, 1] -> channels-last features ``[V, h, w, F]`` (stride 4)."""
        return self.encoder(images.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).contiguous()

    def embed(self, tokens: Tokens, ref_world_from_ego: np.ndarray) -> torch.Tensor:
        """Query tokens ``[N, D]``: background positions in the reference ego frame, actors' in
        their box frames."""
        pos = tokens.xyz.copy()
        world = tokens.owner == 0
        pos[world] = (pos[world] - ref_world_from_ego[:3, 3]) @ ref_world_from_ego[:3, :3]
        dev = self.device
        pos_t = torch.as_tensor(pos, dtype=torch.float32, device=dev)
        unit = torch.as_tensor(np.log(tokens.unit), dtype=torch.float32, device=dev)[:, None]
        enc = fourier(pos_t, self.config.fourier_bands, self.config.fourier_scale)
        kind = torch.as_tensor(tokens.kind, device=dev)
        return self.kind_embedding(kind) + self.query_mlp(torch.cat([enc, unit], 1))

    def key_points(self, q: torch.Tensor, tokens: Tokens) -> torch.Tensor:
        """``[N, P, 3]`` key points in the owners' frames (the first is the anchor)."""
        n, p = q.shape[0], self.config.num_points
        anchor = torch.as_tensor(tokens.xyz, dtype=torch.float32, device=q.device)
        unit = torch.as_tensor(tokens.unit, dtype=torch.float32, device=q.device)[:, None, None]
        off = torch.tanh(self.offsets(q)).reshape(n, p - 1, 3) * unit * self.config.offset_scale
        return torch.cat([anchor[:, None], anchor[:, None] + off], 1)

    def _pairs(
        self, tokens: Tokens, geo: OwnerGeometry, views: WindowViews
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(view, query) pairs where the anchor is in front of the camera and near the image."""
        h, w = views.image_hw
        dev = geo.cam_from_owner.device
        owner = torch.as_tensor(tokens.owner, device=dev)
        with torch.no_grad():
            xyz = torch.as_tensor(tokens.xyz, dtype=torch.float32, device=dev)
            pc = transform_points(geo.cam_from_owner, owner, xyz)
            z = pc[..., 2]
            zs = z.clamp_min(1e-3)
            u = views.ks[:, None, 0, 0] * pc[..., 0] / zs + views.ks[:, None, 0, 2]
            v = views.ks[:, None, 1, 1] * pc[..., 1] / zs + views.ks[:, None, 1, 2]
            m = 0.05 * w
            ok = (z > 0.3) & (u > -m) & (u < w - 1 + m) & (v > -m) & (v < h - 1 + m) & geo.present[:, owner]
        vi, ni = ok.nonzero(as_tuple=True)
        return vi, ni

    def _project_pairs(
        self, pts: torch.Tensor, vi: torch.Tensor, owner: torch.Tensor, geo: OwnerGeometry, views: WindowViews
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``pts`` ``[M, P, 3]`` (owner frames) in the views ``vi`` ``[M]``: u, v, z ``[M, P]``."""
        mat = geo.cam_from_owner[vi, owner]  # [M, 4, 4]
        pc = (mat[:, None, :3, :3] * pts[:, :, None, :]).sum(-1) + mat[:, None, :3, 3]  # no tiny bmm
        z = pc[..., 2]
        zs = torch.where(z > 1e-3, z, torch.full_like(z, 1e-3))
        k = views.ks[vi]
        u = k[:, None, 0, 0] * pc[..., 0] / zs + k[:, None, 0, 2]
        v = k[:, None, 1, 1] * pc[..., 1] / zs + k[:, None, 1, 2]
        return u, v, z

    def _visibility(
        self,
        depth: torch.Tensor,
        vi: torch.Tensor,
        u: torch.Tensor,
        v: torch.Tensor,
        z: torch.Tensor,
        hw: tuple[int, int],
    ) -> torch.Tensor:
        h, w = hw
        hd, wd = depth.shape[1:]
        with torch.no_grad():
            xi = ((u + 0.5) * wd / w).long().clamp(0, wd - 1)
            yi = ((v + 0.5) * hd / h).long().clamp(0, hd - 1)
            d = depth[vi[:, None].expand_as(xi), yi, xi]
            tau = self.config.visibility_tau * torch.clamp(z / 10.0, min=1.0)
            arg = torch.where(torch.isfinite(d), (d - z) / tau + 2.0, torch.full_like(z, 30.0))
            return torch.sigmoid(arg)

    def aggregate(
        self,
        q: torch.Tensor,
        tokens: Tokens,
        views: WindowViews,
        geo: OwnerGeometry,
        feats: torch.Tensor,
        depth: torch.Tensor,
    ) -> Aggregate:
        """Deformable, visibility-weighted sampling of ``feats`` ``[V, h, w, F]`` (see the module
        docstring) for the queries ``q`` ``[N, D]``."""
        n, p, fdim = q.shape[0], self.config.num_points, feats.shape[-1]
        h, w = views.image_hw
        vi, ni = self._pairs(tokens, geo, views)
        dev = q.device
        out_f = torch.zeros(n, fdim, device=dev)
        out_rgb = torch.zeros(n, 3, device=dev)
        mass = torch.zeros(n, device=dev)
        if len(vi) == 0:
            return Aggregate(out_f + 0 * q.sum(), out_rgb, mass)
        owner = torch.as_tensor(tokens.owner, device=dev)
        kp = self.key_points(q, tokens)[ni]  # [M, P, 3]
        u, v, z = self._project_pairs(kp, vi, owner[ni], geo, views)
        valid = (z > 0.1) & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
        hf, wf = feats.shape[1:3]
        vrep = vi[:, None].expand(-1, p).reshape(-1)
        fx = ((u + 0.5) * wf / w - 0.5).reshape(-1)
        fy = ((v + 0.5) * hf / h - 0.5).reshape(-1)
        sampled = bilinear_gather(feats, vrep, fx, fy).reshape(-1, p, fdim)
        rgb = bilinear_gather(views.images, vrep, u.reshape(-1), v.reshape(-1)).reshape(-1, p, 3)
        vis = self._visibility(depth, vi, u, v, z, (h, w)) * valid
        qp = self.query_proj(q)[ni]  # [M, F]
        temb = self.time_embedding(views.time_index[vi])  # [M, F]
        # <f + e_time, W q>: batched dot products, no [M, P, F] temporaries
        dots = torch.einsum("mpf,mf->mp", sampled, qp) + (temb * qp).sum(-1, keepdim=True)
        logits = dots / math.sqrt(fdim) + self.point_bias(q)[ni] + torch.log(vis.clamp_min(1e-6))
        logits = logits.masked_fill(~valid, -1e9)
        gmax = torch.full((n,), -1e9, device=dev).scatter_reduce(
            0, ni, logits.detach().max(1).values, reduce="amax", include_self=True
        )
        e = torch.exp(logits - gmax[ni][:, None]) * valid  # [M, P]
        den = torch.zeros(n, device=dev).index_add(0, ni, e.sum(1))
        wgt = e / den[ni].clamp_min(1e-12)[:, None]  # [M, P]: softmax over (views x points) of each query
        out_f = out_f.index_add(0, ni, torch.einsum("mp,mpf->mf", wgt, sampled))
        out_rgb = out_rgb.index_add(0, ni, torch.einsum("mp,mpc->mc", wgt, rgb))
        mass = mass.index_add(0, ni, vis.sum(1) / p)
        return Aggregate(out_f, out_rgb, mass)

    def decode(self, q: torch.Tensor, agg: Aggregate, tokens: Tokens) -> GaussianBatch:
        """K Gaussians per query from the query and what it aggregated."""
        cfg = self.config
        n, k = q.shape[0], cfg.gaussians_per_query
        x = torch.cat([q, agg.features, agg.rgb, torch.log1p(agg.mass)[:, None]], 1)
        hq = self.norm(q + self.query_update(x))
        out = self.head(hq).reshape(n, k, 14)
        dev = q.device
        anchor = torch.as_tensor(tokens.xyz, dtype=torch.float32, device=dev)[:, None]
        unit = torch.as_tensor(tokens.unit, dtype=torch.float32, device=dev)[:, None, None]
        means = anchor + torch.tanh(out[..., 0:3]) * unit * cfg.offset_scale
        lo, hi = math.log(cfg.scale_range[0]), math.log(cfg.scale_range[1])
        log_scales = torch.log(unit) + lo + torch.sigmoid(out[..., 3:6]) * (hi - lo)
        quats = F.normalize(out[..., 6:10], dim=-1, eps=1e-6)
        kind = torch.as_tensor(tokens.kind, device=dev)
        bias = torch.tensor([OPACITY_BIAS[i] for i in range(NUM_KINDS)], device=dev)[kind]
        opacity = out[..., 10] + bias[:, None]
        owner = torch.as_tensor(tokens.owner, device=dev)[:, None].expand(n, k).reshape(-1)
        query = torch.arange(n, device=dev)[:, None].expand(n, k).reshape(-1)
        return GaussianBatch(
            means.reshape(-1, 3),
            quats.reshape(-1, 4),
            log_scales.reshape(-1, 3),
            opacity.reshape(-1),
            out[..., 11:14].reshape(-1, 3),
            owner,
            query,
        )

    def sample_colours(
        self,
        g: GaussianBatch,
        tokens: Tokens,
        views: WindowViews,
        geo: OwnerGeometry,
        depth: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per Gaussian the weighted sum of the colours of the context pixels its centre projects
        to, ``[G, 3]``, and the sum of weights ``[G]`` (weight = visibility / depth), over the views
        that see its query's anchor."""
        h, w = views.image_hw
        gn, k = g.means.shape[0], self.config.gaussians_per_query
        dev = g.means.device
        total = torch.zeros(gn, 3, device=dev)
        weight = torch.zeros(gn, device=dev)
        vi, ni = self._pairs(tokens, geo, views)
        if len(vi) == 0:
            return total + 0 * g.means.sum(), weight
        gi = (ni[:, None] * k + torch.arange(k, device=dev)).reshape(-1)
        vi = vi[:, None].expand(-1, k).reshape(-1)
        u, v, z = (t[:, 0] for t in self._project_pairs(g.means[gi][:, None], vi, g.owner[gi], geo, views))
        ok = ((z > 0.3) & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)).detach()
        vis = self._visibility(depth, vi, u[:, None], v[:, None], z[:, None], (h, w))[:, 0]
        wgt = (vis * ok / z.detach().clamp_min(0.5))[:, None]
        rgb = bilinear_gather(views.images, vi, u, v)
        return total.index_add(0, gi, wgt * rgb), weight.index_add(0, gi, wgt[:, 0])

    def predict_sky(self, feats: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Sky map logits ``[3, rows, cols]``: the mean colour of the images' top rows plus a learned
        per-elevation correction from pooled features (constant in azimuth)."""
        rows, cols = self.config.sky_hw
        top = images[:, : max(1, images.shape[1] // 6)].mean((0, 1, 2))  # [3]
        pooled = torch.cat([feats.mean((0, 1, 2)), top])
        base = logit(top.clamp(0.02, 0.98))[:, None]
        rows_logits = base + self.sky_head(pooled).reshape(3, rows)
        return rows_logits[:, :, None].expand(3, rows, cols).contiguous()

    @staticmethod
    def colour_logits(
        g: GaussianBatch, agg_rgb: torch.Tensor, total: torch.Tensor, weight: torch.Tensor
    ) -> torch.Tensor:
        """``logit(sampled mean colour) + delta``; Gaussians no view sees use their query's colour."""
        seen = weight > 1e-8
        mean = torch.where(seen[:, None], total / weight.clamp_min(1e-8)[:, None], agg_rgb[g.query])
        return logit(mean.clamp(0.02, 0.98)) + g.color_delta

    # --- one window --------------------------------------------------------------------------------
    def forward(
        self, views: WindowViews, tokens: Tokens, tracks: Mapping[str, ActorTrack], depth: torch.Tensor
    ) -> WorldRecOutput:
        """Predict the Gaussians of ``tokens`` from one window of context ``views``.

        Args:
            views: context images and cameras (``V`` views).
            tokens: the queries (their ``actor_ids`` must be in ``tracks``).
            tracks: actor tracks (box poses at the view times).
            depth: ``[V, h, w]`` lidar depth maps (:func:`jwmsim.worldrec.queries.depth_maps`).
        """
        views, depth = views.to(self.device), depth.to(self.device)
        feats = self.encode(views.images)
        geo = owner_geometry(views, tokens.actor_ids, tracks).to(self.device)
        q = self.embed(tokens, views.ref_world_from_ego)
        agg = self.aggregate(q, tokens, views, geo, feats, depth)
        g = self.decode(q, agg, tokens)
        total, weight = self.sample_colours(g, tokens, views, geo, depth)
        colours = self.colour_logits(g, agg.rgb, total, weight)
        sky = self.predict_sky(feats, views.images)
        return WorldRecOutput(g, colours, sky, tokens.actor_ids)
