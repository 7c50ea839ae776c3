"""How an exported image was made: render path, scene source, digests of the Gaussian scene and of
any model weights, scenario, run and jitter draws.

Every exported scene has one provenance record (its images share how they were made); the
``sample_data`` rows of its images carry the record's id in an extra key ``"provenance"`` (the
devkit keeps unknown keys), and ``provenance.json`` at the dataroot maps ids to records.

A render path can describe itself: when the object a render path's ``make`` returns has a
``provenance() -> dict[str, str]`` method (a generator reports its checkpoint and weights digest
there), its entries are added to the record under ``render_path_info``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import torch

from jwmsim.gaussians.scene import GaussianScene


def tensor_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 (first 16 hex digits) of named tensors: names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


def scene_digest(scene: GaussianScene) -> str:
    """Digest of every Gaussian of a scene (background, actor components, sky)."""
    parts: dict[str, torch.Tensor] = {}
    for key, value in scene.background.tensors().items():
        parts[f"background.{key}"] = value
    for aid, comp in scene.actors.items():
        for key, value in comp.tensors().items():
            parts[f"actors.{aid}.{key}"] = value
    parts["sky.color_logits"] = scene.sky.color_logits
    return tensor_digest(parts)


def render_provenance(render: str, scene_source: str, renderer: Any, scene_digest_: str | None) -> dict:
    """The part of a provenance record that says how the images were rendered."""
    scene = getattr(renderer, "scene", None)
    record: dict[str, Any] = {"render_path": render, "scene_source": scene_source}
    if isinstance(scene, GaussianScene):
        meta = dict(scene.metadata)
        record["gaussian_scene"] = {
            "digest": scene_digest_,
            "gaussians": int(scene.num_gaussians),
            **{k: meta[k] for k in ("method", "method_version", "log", "log_digest") if k in meta},
        }
    describe = getattr(renderer, "provenance", None)
    if callable(describe):
        record["render_path_info"] = {str(k): str(v) for k, v in dict(describe()).items()}
    return record
