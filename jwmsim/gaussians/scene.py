"""The Gaussian scene ("skeleton"): background Gaussians, one component per actor in its box frame,
and a sky model; composed into one world-frame set at render time from actor poses.

Parameters are stored *raw* (as optimised): log-scales, opacity logits and colour logits; the
activated values are ``exp``, ``sigmoid`` and ``sigmoid``. Quaternions are scalar-first
``(w, x, y, z)`` and need not be normalised. See :mod:`jwmsim.geometry` for frames.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from jwmsim.checkpoints import save_safetensors_atomic
from jwmsim.errors import CheckpointError, ConfigError
from jwmsim.geometry import SE3

FORMAT_NAME = "jwmsim.gaussian_scene"
FORMAT_VERSION = "1"
_FIELDS = ("means", "quats", "log_scales", "opacity_logits", "color_logits")


def logit(p: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Inverse of ``sigmoid``, with ``p`` clamped to ``[eps, 1 - eps]``."""
    p = p.clamp(eps, 1.0 - eps)
    return torch.log(p) - torch.log1p(-p)


def quat_multiply(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q1 * q2`` of ``[..., 4]`` scalar-first quaternions (rotation q2, then q1)."""
    w1, x1, y1, z1 = q1.unbind(-1)
    w2, x2, y2, z2 = q2.unbind(-1)
    return torch.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        -1,
    )


def rotations_to_quats(rotations: np.ndarray) -> np.ndarray:
    """``[A, 3, 3]`` rotation matrices -> ``[A, 4]`` unit quaternions ``(w, x, y, z)``, ``w >= 0``
    (Shepperd's method, vectorised: no per-pose Python call)."""
    r = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
    r00, r11, r22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    trace = r00 + r11 + r22
    cands = np.stack(
        [
            np.stack(
                [1 + trace, r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], 1
            ),
            np.stack(
                [
                    r[:, 2, 1] - r[:, 1, 2],
                    1 + r00 - r11 - r22,
                    r[:, 0, 1] + r[:, 1, 0],
                    r[:, 0, 2] + r[:, 2, 0],
                ],
                1,
            ),
            np.stack(
                [
                    r[:, 0, 2] - r[:, 2, 0],
                    r[:, 0, 1] + r[:, 1, 0],
                    1 + r11 - r00 - r22,
                    r[:, 1, 2] + r[:, 2, 1],
                ],
                1,
            ),
            np.stack(
                [
                    r[:, 1, 0] - r[:, 0, 1],
                    r[:, 0, 2] + r[:, 2, 0],
                    r[:, 1, 2] + r[:, 2, 1],
                    1 + r22 - r00 - r11,
                ],
                1,
            ),
        ],
        1,
    )  # [A, 4 cases, 4]: case c is 4 q_c q (numerically best where its diagonal term is largest)
    best = np.argmax(np.stack([trace, r00, r11, r22], 1), axis=1)
    q = cands[np.arange(len(r)), best]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)


def place_gaussians(
    means: torch.Tensor,
    quats: torch.Tensor,
    owner: torch.Tensor,
    rotations: torch.Tensor,
    translations: torch.Tensor,
    pose_quats: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Move Gaussians of several actors to their poses at once (differentiable).

    Args:
        means ``[N, 3]``, quats ``[N, 4]``: in their box frames; owner ``[N]`` long: actor index.
        rotations ``[A, 3, 3]``, translations ``[A, 3]``, pose_quats ``[A, 4]``: ``world_from_box``.

    Returns:
        World means ``[N, 3]`` and quaternions ``[N, 4]``.
    """
    rot = rotations.to(means.dtype)[owner]
    world = (rot @ means[..., None])[..., 0] + translations.to(means.dtype)[owner]
    return world, quat_multiply(pose_quats.to(quats.dtype)[owner], quats)


@dataclass(frozen=True)
class GaussianComponent:
    """A set of N 3D Gaussians in one frame (world for the background, box frame for an actor).

    Attributes:
        means: ``[N, 3]`` centres [m].
        quats: ``[N, 4]`` orientations ``(w, x, y, z)``, any non-zero norm.
        log_scales: ``[N, 3]`` log of the standard deviations along the local axes [log m].
        opacity_logits: ``[N]``; opacity = sigmoid.
        color_logits: ``[N, 3]``; RGB in [0, 1] = sigmoid.
    """

    means: torch.Tensor
    quats: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    color_logits: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
            "color_logits": (n, 3),
        }
        for name, shape in expected.items():
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor):
                raise ValueError(f"GaussianComponent.{name} must be a torch.Tensor, got {type(t).__name__}")
            if tuple(t.shape) != shape or n < 0:
                raise ValueError(f"GaussianComponent.{name} has shape {tuple(t.shape)}, expected {shape}")
            if not t.is_floating_point():
                raise ValueError(f"GaussianComponent.{name} must be floating point, got {t.dtype}")
            if t.device != self.means.device:
                raise ValueError(f"GaussianComponent.{name} is on {t.device}, means on {self.means.device}")

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def from_values(
        cls,
        means: torch.Tensor,
        scales: torch.Tensor,
        opacities: torch.Tensor,
        colors: torch.Tensor,
        quats: torch.Tensor | None = None,
    ) -> GaussianComponent:
        """From activated values: ``scales`` [m] ``[N, 3]`` (> 0), ``opacities`` ``[N]`` and
        ``colors`` ``[N, 3]`` in [0, 1]; identity orientation when ``quats`` is None."""
        means = torch.as_tensor(means, dtype=torch.float32)
        if quats is None:
            quats = torch.zeros(means.shape[0], 4, dtype=means.dtype, device=means.device)
            quats[:, 0] = 1.0
        return cls(
            means=means,
            quats=torch.as_tensor(quats, dtype=means.dtype),
            log_scales=torch.log(torch.as_tensor(scales, dtype=means.dtype).clamp_min(1e-8)),
            opacity_logits=logit(torch.as_tensor(opacities, dtype=means.dtype)),
            color_logits=logit(torch.as_tensor(colors, dtype=means.dtype)),
        )

    @classmethod
    def empty(
        cls, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> GaussianComponent:
        z = torch.zeros
        return cls(
            z(0, 3, dtype=dtype, device=device),
            z(0, 4, dtype=dtype, device=device),
            z(0, 3, dtype=dtype, device=device),
            z(0, dtype=dtype, device=device),
            z(0, 3, dtype=dtype, device=device),
        )

    @classmethod
    def concat(cls, parts: list[GaussianComponent]) -> GaussianComponent:
        """All Gaussians of ``parts`` in one component (they must share a frame)."""
        if not parts:
            return cls.empty()
        return cls(**{f: torch.cat([getattr(p, f) for p in parts], 0) for f in _FIELDS})

    # --- accessors ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.means.shape[0])

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def scales(self) -> torch.Tensor:
        """``[N, 3]`` standard deviations [m]."""
        return torch.exp(self.log_scales)

    @property
    def opacities(self) -> torch.Tensor:
        """``[N]`` opacities in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def colors(self) -> torch.Tensor:
        """``[N, 3]`` RGB in (0, 1)."""
        return torch.sigmoid(self.color_logits)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f: getattr(self, f) for f in _FIELDS}

    # --- transforms ---------------------------------------------------------------------------
    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> GaussianComponent:
        return GaussianComponent(**{f: t.to(device=device, dtype=dtype) for f, t in self.tensors().items()})

    def detach(self) -> GaussianComponent:
        return GaussianComponent(**{f: t.detach() for f, t in self.tensors().items()})

    def select(self, index: torch.Tensor) -> GaussianComponent:
        """The Gaussians picked by a bool mask or an index tensor ``[N]``."""
        return GaussianComponent(**{f: t[index] for f, t in self.tensors().items()})

    def transformed(self, parent_from_self: SE3) -> GaussianComponent:
        """The same Gaussians expressed in the parent frame (differentiable in the parameters)."""
        dtype, dev = self.means.dtype, self.device
        rot = torch.as_tensor(np.array(parent_from_self.rotation), dtype=dtype, device=dev)
        trans = torch.as_tensor(np.array(parent_from_self.translation), dtype=dtype, device=dev)
        q = torch.as_tensor(parent_from_self.quat, dtype=dtype, device=dev)
        return replace(
            self, means=self.means @ rot.T + trans, quats=quat_multiply(q.expand_as(self.quats), self.quats)
        )


@dataclass(frozen=True)
class SkyModel:
    """Sky colour by world view direction: an equirectangular map, bilinearly interpolated.

    Attributes:
        color_logits: ``[3, H_el, W_az]``; rows go from elevation +90 deg (row 0) to -90 deg,
            columns from azimuth -180 deg to +180 deg (about world +z, from +x towards +y);
            colour = sigmoid of the logits, bilinearly interpolated between texels.
    """

    color_logits: torch.Tensor

    def __post_init__(self) -> None:
        t = self.color_logits
        if not isinstance(t, torch.Tensor) or t.ndim != 3 or t.shape[0] != 3 or min(t.shape[1:]) < 1:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"SkyModel.color_logits must be [3, H, W], got {shape}")

    @classmethod
    def gradient(
        cls,
        zenith: tuple[float, float, float] = (0.45, 0.62, 0.85),
        horizon: tuple[float, float, float] = (0.8, 0.85, 0.9),
        ground: tuple[float, float, float] = (0.35, 0.35, 0.35),
        size_hw: tuple[int, int] = (8, 16),
    ) -> SkyModel:
        """A vertical gradient zenith -> horizon -> ground colour, constant in azimuth."""
        h, w = size_hw
        el = torch.linspace(1.0, -1.0, h)[:, None]  # +1 zenith, -1 nadir
        up = torch.tensor(zenith)[:, None]
        hor = torch.tensor(horizon)[:, None]
        gnd = torch.tensor(ground)[:, None]
        col = torch.where(el.T >= 0, hor + (up - hor) * el.T, hor + (gnd - hor) * (-el.T))  # [3, h]
        return cls(logit(col[:, :, None].expand(3, h, w).contiguous()))

    @property
    def device(self) -> torch.device:
        return self.color_logits.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> SkyModel:
        return SkyModel(self.color_logits.to(device=device, dtype=dtype))

    def colors(self, directions: torch.Tensor) -> torch.Tensor:
        """RGB ``[..., 3]`` in (0, 1) for world-frame view directions ``[..., 3]`` (any norm): the
        map's colours (sigmoid of the logits), bilinearly interpolated."""
        dx, dy, dz = directions.unbind(-1)
        az = torch.atan2(dy, dx)  # [-pi, pi]
        el = torch.atan2(dz, torch.hypot(dx, dy))  # [-pi/2, pi/2]
        tex = torch.sigmoid(self.color_logits)
        # wrap azimuth: pad one column on each side so bilinear sampling is seamless at +-180 deg
        tex = torch.cat([tex[:, :, -1:], tex, tex[:, :, :1]], dim=2)
        w = self.color_logits.shape[2]
        gx = (az / math.pi) * (w / (w + 2))  # columns of the padded texture, align_corners=False
        gy = -el / (math.pi / 2)
        grid = torch.stack([gx, gy], -1).reshape(1, -1, 1, 2).to(tex.dtype)
        out = torch.nn.functional.grid_sample(
            tex[None], grid, mode="bilinear", padding_mode="border", align_corners=False
        )  # [1, 3, P, 1]
        return out[0, :, :, 0].T.reshape(*directions.shape[:-1], 3)


@dataclass(frozen=True)
class GaussianScene:
    """A reconstructed scene: what :func:`jwmsim.gaussians.render.render` draws.

    Attributes:
        background: static Gaussians in the world frame.
        actors: Gaussians of each actor in its box frame, by actor (instance) id.
        sky: colour of rays that the Gaussians do not cover.
        metadata: free-form strings saved with the scene (source log, method, ...).
    """

    background: GaussianComponent
    actors: Mapping[str, GaussianComponent] = field(default_factory=dict)
    sky: SkyModel = field(default_factory=SkyModel.gradient)
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actors", dict(self.actors))
        object.__setattr__(self, "metadata", {str(k): str(v) for k, v in self.metadata.items()})
        for aid, comp in self.actors.items():
            if not isinstance(comp, GaussianComponent):
                raise ValueError(f"actor {aid!r} must be a GaussianComponent, got {type(comp).__name__}")

    @property
    def device(self) -> torch.device:
        return self.background.device

    @property
    def num_gaussians(self) -> int:
        return len(self.background) + sum(len(c) for c in self.actors.values())

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> GaussianScene:
        return GaussianScene(
            self.background.to(device, dtype),
            {k: c.to(device, dtype) for k, c in self.actors.items()},
            self.sky.to(device, dtype),
            self.metadata,
        )

    def with_actor(self, actor_id: str, component: GaussianComponent) -> GaussianScene:
        """A copy with ``actor_id`` added (or replaced) by ``component`` (in its box frame)."""
        return replace(self, actors={**self.actors, actor_id: component.to(self.device)})

    def without_actor(self, actor_id: str) -> GaussianScene:
        return replace(self, actors={k: c for k, c in self.actors.items() if k != actor_id})

    def compose(
        self,
        actor_poses: Mapping[str, SE3],
        extra_actors: Mapping[str, GaussianComponent] | None = None,
    ) -> GaussianComponent:
        """All Gaussians in the world frame: the background plus every actor of ``actor_poses``
        placed at its ``world_from_box`` pose. Actors of the scene missing from ``actor_poses`` are
        not drawn; an id that is neither in the scene nor in ``extra_actors`` is an error."""
        extra = dict(extra_actors or {})
        comps, poses = [], []
        for aid, pose in actor_poses.items():
            comp = self.actors.get(aid, extra.get(aid))
            if comp is None:
                raise ConfigError(
                    f"actor {aid!r} has a pose but no Gaussians; the scene has actors "
                    f"{sorted(self.actors)[:10]}{' ...' if len(self.actors) > 10 else ''}",
                    hint="insert it with scene.with_actor(id, component) or pass extra_actors={id: asset}",
                )
            if len(comp):
                comps.append(comp.to(self.device))
                poses.append(pose)
        if not comps:
            return self.background
        actors = GaussianComponent.concat(comps)
        dev, dt = self.device, self.background.means.dtype
        rot = np.stack([p.rotation for p in poses])
        owner = torch.repeat_interleave(
            torch.arange(len(comps), device=dev), torch.tensor([len(c) for c in comps], device=dev)
        )
        means, quats = place_gaussians(
            actors.means,
            actors.quats,
            owner,
            torch.as_tensor(rot, dtype=dt, device=dev),
            torch.as_tensor(np.stack([p.translation for p in poses]), dtype=dt, device=dev),
            torch.as_tensor(rotations_to_quats(rot), dtype=dt, device=dev),
        )
        return GaussianComponent.concat([self.background, replace(actors, means=means, quats=quats)])

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the scene as one safetensors file (atomically: temp file, then rename)."""
        path = Path(path)
        ids = list(self.actors)
        tensors = {f"background.{k}": v for k, v in self.background.tensors().items()}
        for i, aid in enumerate(ids):
            tensors.update({f"actors.{i}.{k}": v for k, v in self.actors[aid].tensors().items()})
        tensors["sky.color_logits"] = self.sky.color_logits
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "actor_ids": json.dumps(ids),
            "metadata": json.dumps(dict(self.metadata)),
        }
        return save_safetensors_atomic(tensors, path, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: torch.device | str = "cpu") -> GaussianScene:
        """Read a scene written by :meth:`save`; a missing, corrupt or mismatched file raises
        :class:`~jwmsim.errors.CheckpointError`."""
        path = Path(path)
        hint = "re-create it with `jwmsim reconstruct LOG --out scene.safetensors`"
        if not path.is_file():
            raise CheckpointError(f"Gaussian scene file {path} does not exist", hint=hint)
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
        except Exception as err:  # safetensors raises several types for corrupt headers/bodies
            raise CheckpointError(f"{path} is not a readable safetensors file ({err})", hint=hint) from err
        if meta.get("format") != FORMAT_NAME:
            raise CheckpointError(
                f"{path} is not a jwmsim Gaussian scene (format={meta.get('format')!r})",
                hint="pass a file written by GaussianScene.save / `jwmsim reconstruct`",
            )
        if meta.get("version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path} has scene format version {meta.get('version')!r}; "
                f"this jwmsim reads {FORMAT_VERSION}",
                hint=hint,
            )
        try:
            ids = json.loads(meta["actor_ids"])
            user_meta = json.loads(meta.get("metadata", "{}"))
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ValueError("actor_ids is not a list of strings")

            def component(prefix: str) -> GaussianComponent:
                return GaussianComponent(**{k: tensors.pop(f"{prefix}.{k}") for k in _FIELDS})

            background = component("background")
            actors = {aid: component(f"actors.{i}") for i, aid in enumerate(ids)}
            sky = SkyModel(tensors.pop("sky.color_logits"))
        except (KeyError, ValueError, json.JSONDecodeError) as err:
            raise CheckpointError(
                f"{path} is an incomplete or mismatched Gaussian scene: {err}", hint=hint
            ) from err
        if tensors:
            raise CheckpointError(f"{path} has unexpected tensors {sorted(tensors)[:5]}", hint=hint)
        scene = cls(background, actors, sky, user_meta)
        bad = [name for name, t in _all_tensors(scene) if not bool(torch.isfinite(t).all())]
        if bad:
            raise CheckpointError(f"{path} holds non-finite values in {bad[:5]}", hint=hint)
        return scene.to(device)


def _all_tensors(scene: GaussianScene) -> list[tuple[str, torch.Tensor]]:
    out = [(f"background.{k}", v) for k, v in scene.background.tensors().items()]
    for aid, comp in scene.actors.items():
        out += [(f"actor {aid}.{k}", v) for k, v in comp.tensors().items()]
    out.append(("sky.color_logits", scene.sky.color_logits))
    return out


def random_component(
    n: int,
    center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    extent: tuple[float, float, float] = (1.0, 1.0, 1.0),
    scale_range: tuple[float, float] = (0.02, 0.2),
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> GaussianComponent:
    """``n`` random Gaussians uniformly in a box (``center`` +- ``extent``) [m], for tests and
    benchmarks; scales log-uniform in ``scale_range`` [m], random orientation and colour."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * torch.tensor(
        extent
    ) + torch.tensor(center)
    lo, hi = np.log(scale_range[0]), np.log(scale_range[1])
    return GaussianComponent(
        means=means.to(dtype),
        quats=torch.randn(n, 4, generator=g, dtype=torch.float64).to(dtype),
        log_scales=(lo + (hi - lo) * torch.rand(n, 3, generator=g, dtype=torch.float64)).to(dtype),
        opacity_logits=(torch.randn(n, generator=g, dtype=torch.float64) + 0.5).to(dtype),
        color_logits=torch.randn(n, 3, generator=g, dtype=torch.float64).to(dtype),
    )
