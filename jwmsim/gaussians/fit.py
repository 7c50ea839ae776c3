"""Per-scene fitting: 3DGS-style optimisation of a :class:`GaussianScene` from a :class:`LogSegment`.

Recipe (Kerbl et al. 2023, reduced to a CPU budget): background Gaussians initialised from lidar
points coloured by the cameras (random points in front of the cameras where a log has no lidar),
one component per annotated actor initialised in its box frame and moved by its track, a learned
sky map; loss ``(1 - l) L1 + l D-SSIM`` on one camera image per step, Adam; every
``densify_every`` steps the background Gaussians with the largest accumulated position gradients
are cloned (small) or split (large), and transparent or oversized ones are pruned. Every
``holdout_every``-th time step of the log is held out for evaluation (all its cameras).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from scipy.spatial import cKDTree

from jwmsim.errors import ConfigError
from jwmsim.gaussians.image_metrics import psnr, ssim
from jwmsim.gaussians.lidar_colours import colour_points
from jwmsim.gaussians.projection import quat_to_rotmat
from jwmsim.gaussians.render import render_gaussians
from jwmsim.gaussians.scene import (
    GaussianComponent,
    GaussianScene,
    SkyModel,
    logit,
    place_gaussians,
    rotations_to_quats,
)
from jwmsim.geometry import quat_to_matrix
from jwmsim.logs.segment import LogSegment, category_kind
from jwmsim.progress import progress_bar

MIN_LIDAR_INIT_POINTS = 100  # fewer lidar points in view than this: start from random points


@dataclass(frozen=True)
class FitConfig:
    """Settings of :func:`fit_scene` (units in comments)."""

    steps: int = 1500  # optimisation steps (one camera image each)
    image_hw: tuple[int, int] = (90, 160)  # fitting / evaluation resolution [px]
    cameras: tuple[str, ...] | None = None  # None: every camera of the log
    holdout_every: int = 8  # every n-th time index is held out (0: none)
    frame_stride: int = 1  # use every n-th frame of each camera
    init_points: int = 40_000  # background Gaussians at the start
    max_gaussians: int = 120_000  # densification stops here (background)
    actor_gaussians: tuple[int, int] = (100, 1500)  # per actor, scaled with its box surface
    densify_every: int = 100  # [steps]
    densify_from: int = 200  # [steps]
    densify_until_frac: float = 0.7  # fraction of the schedule (of ``steps``, or of ``time_budget``)
    densify_frac: float = 0.05  # fraction of the Gaussians cloned / split per densification
    min_opacity: float = 0.01  # pruned below
    ssim_weight: float = 0.2  # D-SSIM weight in the loss
    lr_means: float = 1.6e-4  # x scene extent [m], decayed exponentially to lr_means_final
    lr_means_final: float = 1.6e-6  # [m] x scene extent, at the last step (3DGS: 1 %)
    lr_log_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacity: float = 5e-2
    lr_color: float = 1e-2
    lr_sky: float = 1e-2
    lidar_sweeps: int = 12  # sweeps used to initialise (evenly spread)
    seed: int = 0
    torch_threads: int = 1  # PyTorch threads while fitting (small tensors; the rasterizer uses numba's)
    max_eval_views: int = 48  # held-out views evaluated at most (evenly spread)
    device: str = "cpu"  # "cpu", "cuda" or "cuda:N" (gsplat renders on CUDA); "auto": CUDA when present
    time_budget: float | None = None  # [s] of the whole fit (loading included); ``steps`` is then a cap
    evaluate: bool = True  # score the held-out views at the end (off: the caller scores them)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"FitConfig.steps must be >= 1, got {self.steps}")
        if min(self.image_hw) < 8:
            raise ConfigError(f"FitConfig.image_hw must be at least 8x8 px, got {self.image_hw}")
        if self.holdout_every == 1:
            raise ConfigError("FitConfig.holdout_every=1 would hold out every frame", hint="use 0 or >= 2")
        if not 0 <= self.ssim_weight <= 1:
            raise ConfigError(f"FitConfig.ssim_weight must be in [0, 1], got {self.ssim_weight}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ConfigError(
                f"FitConfig.time_budget must be positive seconds, got {self.time_budget}",
                hint="leave it None for a fixed number of steps",
            )


@dataclass(frozen=True)
class FitReport:
    """What :func:`fit_scene` measured; ``psnr`` / ``ssim`` on held-out views at ``image_hw``."""

    log: str
    steps: int  # steps done (fewer than config.steps when the time budget ran out)
    fit_seconds: float
    num_gaussians: int
    num_actors: int
    train_views: int
    heldout_views: int
    heldout_psnr: float
    heldout_ssim: float
    heldout_psnr_covered: float  # on pixels with alpha > 0.5
    train_psnr: float
    init: str  # "lidar", "random" (no usable lidar: see init_reason) or "scene" (init_scene)
    init_reason: str = ""  # why the fit started the way it did, in words (shown by reconstruct)
    config: dict[str, object] = field(default_factory=dict)
    stopped: str = "steps"  # "steps" (all done) or "budget" (config.time_budget ran out)
    loop_seconds: float = 0.0  # [s] of the optimisation loop alone

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _View:
    camera: str
    index: int  # frame index of the camera
    time: float
    viewmat: torch.Tensor  # [4, 4] float64 camera_from_world
    k: torch.Tensor  # [3, 3] float64 at image_hw
    world_from_cam: np.ndarray  # [4, 4]


def _views(log: LogSegment, cfg: FitConfig) -> tuple[list[_View], list[_View]]:
    h, w = cfg.image_hw
    cams = list(cfg.cameras) if cfg.cameras else log.camera_names
    missing = [c for c in cams if c not in log.cameras]
    if missing:
        raise ConfigError(
            f"cameras {missing} are not in log {log.name}", hint=f"the log has {log.camera_names}"
        )
    train, held = [], []
    for cam in cams:
        k = torch.from_numpy(log.intrinsics(cam, (h, w)).matrix)
        for i, frame in enumerate(log.frames[cam]):
            if i % cfg.frame_stride:
                continue
            pose = frame.world_from_cam(log.cameras[cam])
            view = _View(cam, i, frame.time, torch.from_numpy(pose.inverse().matrix), k, pose.matrix)
            is_held = (
                cfg.holdout_every > 0
                and (i // cfg.frame_stride) % cfg.holdout_every == cfg.holdout_every // 2
            )
            (held if is_held else train).append(view)
    if not train:
        raise ConfigError(f"log {log.name} has no training frames with these settings")
    return train, held


@dataclass(frozen=True)
class _LidarInit:
    """Coloured lidar points: background in the world frame, actors in their box frames."""

    points: np.ndarray  # [P, 3] world [m]
    colors: np.ndarray  # [P, 3] in [0, 1]
    actor_points: dict[str, tuple[np.ndarray, np.ndarray]]  # id -> (box-frame points, colours)


def _lidar_init(log: LogSegment, cfg: FitConfig, rng: np.random.Generator) -> _LidarInit | None:
    """Points of lidar sweeps that some camera sees, coloured by that camera's image; points in an
    actor's box go to that actor (in its box frame), the rest to the background."""
    if not log.lidar:
        return None
    h, w = cfg.image_hw
    cams = list(cfg.cameras) if cfg.cameras else log.camera_names
    picks = np.unique(
        np.linspace(0, len(log.lidar) - 1, min(cfg.lidar_sweeps, len(log.lidar))).round().astype(int)
    )
    pts_all, col_all = [], []
    actor_parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for si in picks:
        sweep = log.lidar[si]
        world = sweep.points_world()
        colors, seen = colour_points(log, world, sweep.time, cams, (h, w))
        world, colors = world[seen], colors[seen]
        background = np.ones(len(world), dtype=bool)
        for aid, tr in log.tracks.items():
            if not tr.is_present(sweep.time):
                continue
            local = tr.pose_at(sweep.time).inverse().apply(world)
            half = np.array([tr.size_wlh[1], tr.size_wlh[0], tr.size_wlh[2]]) / 2
            background &= ~np.all(np.abs(local) <= half + 0.3, axis=1)  # margin: boxes are loose
            inside = np.all(np.abs(local) <= half, axis=1)
            if inside.any() and category_kind(tr.category) != "static":
                actor_parts.setdefault(aid, []).append((local[inside], colors[inside]))
        pts_all.append(world[background])
        col_all.append(colors[background])
    pts, cols = np.concatenate(pts_all), np.concatenate(col_all)
    if len(pts) < MIN_LIDAR_INIT_POINTS:
        return None
    if len(pts) > cfg.init_points:
        sel = rng.choice(len(pts), cfg.init_points, replace=False)
        pts, cols = pts[sel], cols[sel]
    actors = {
        aid: (np.concatenate([p for p, _ in parts]), np.concatenate([c for _, c in parts]))
        for aid, parts in actor_parts.items()
    }
    return _LidarInit(pts, cols, actors)


def random_init_reason(log: LogSegment) -> str:
    """Why a fit of ``log`` starts from random points instead of lidar (recorded on the scene as
    ``metadata["init_reason"]`` and in :class:`FitReport`)."""
    if not log.lidar:
        return "random points along the camera rays: the log has no lidar sweeps"
    return (
        f"random points along the camera rays: fewer than {MIN_LIDAR_INIT_POINTS} points of the "
        f"log's {len(log.lidar)} lidar sweeps fall inside a camera view"
    )


def _random_init(train: list[_View], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points along random camera rays at 2-40 m (no lidar): a blurry start the optimiser shapes."""
    pick = rng.integers(0, len(train), n)
    k = np.stack([v.k.numpy() for v in train])  # [T, 3, 3]
    world_from_cam = np.stack([v.world_from_cam for v in train])  # [T, 4, 4]
    size = 2 * k[pick][:, [0, 1], [2, 2]] + 1  # image width, height from the principal point
    pix = np.concatenate([rng.uniform(0, 1, (n, 2)) * size, np.ones((n, 1))], 1)
    rays = np.einsum("nij,nj->ni", np.linalg.inv(k)[pick], pix)
    p_cam = rays * rng.uniform(2.0, 40.0, (n, 1))
    pts = np.einsum("nij,nj->ni", world_from_cam[pick, :3, :3], p_cam) + world_from_cam[pick, :3, 3]
    return pts, np.full((n, 3), 0.5)


def _component_from_points(pts: np.ndarray, cols: np.ndarray, opacity: float = 0.3) -> GaussianComponent:
    n = len(pts)
    k = min(4, n)
    dist, _ = cKDTree(pts).query(pts, k=k)
    spacing = np.sqrt(np.mean(np.asarray(dist)[:, 1:] ** 2, axis=1)) if k > 1 else np.full(n, 0.1)
    scales = np.clip(spacing, 0.01, 2.0)[:, None].repeat(3, 1)
    return GaussianComponent.from_values(
        torch.as_tensor(pts, dtype=torch.float32),
        torch.as_tensor(scales, dtype=torch.float32),
        torch.full((n,), opacity),
        torch.as_tensor(np.clip(cols, 0.02, 0.98), dtype=torch.float32),
        quats=torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
    )


def _actor_init(
    log: LogSegment,
    cfg: FitConfig,
    rng: np.random.Generator,
    lidar_points: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, GaussianComponent]:
    """Gaussians of each (non-static) actor in its box frame: its coloured lidar points where it
    has some, topped up with grey points on the box surface."""
    out = {}
    lo, hi = cfg.actor_gaussians
    for aid, tr in log.tracks.items():
        if category_kind(tr.category) == "static":
            continue
        w, length, h = tr.size_wlh
        area = 2 * (w * length + w * h + length * h)
        n = int(np.clip(area * 8, lo, hi))
        lp, lc = (lidar_points or {}).get(aid, (np.zeros((0, 3)), np.zeros((0, 3))))
        if len(lp) > n // 2:
            sel = rng.choice(len(lp), n // 2, replace=False)
            lp, lc = lp[sel], lc[sel]
        m = n - len(lp)
        half = np.array([length, w, h]) / 2
        shell = rng.uniform(-1, 1, (m, 3))
        axis = rng.integers(0, 3, m)
        shell[np.arange(m), axis] = np.sign(shell[np.arange(m), axis])
        pts = np.concatenate([lp, shell * half * 0.9])
        cols = np.concatenate([lc, np.full((m, 3), 0.4)])
        out[aid] = _component_from_points(pts, cols, opacity=0.5)
    return out


@dataclass(frozen=True)
class _ActorPoses:
    """Poses of every fitted actor at one view's time: ``present`` ``[A]`` bool, ``rot``
    ``[A, 3, 3]``, ``trans`` ``[A, 3]``, ``quat`` ``[A, 4]`` (identity where absent)."""

    present: torch.Tensor
    rot: torch.Tensor
    trans: torch.Tensor
    quat: torch.Tensor


def _slerp(q0: np.ndarray, q1: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Shortest-path spherical interpolation of ``[M, 4]`` unit quaternions by ``alpha`` ``[M]``."""
    dot = np.sum(q0 * q1, axis=1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    near = sin < 1e-6
    w0 = np.where(near, 1 - alpha, np.sin((1 - alpha) * theta) / np.where(near, 1, sin))
    w1 = np.where(near, alpha, np.sin(alpha * theta) / np.where(near, 1, sin))
    q = w0[:, None] * q0 + w1[:, None] * q1
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _actor_poses(log: LogSegment, actor_ids: list[str], times: np.ndarray) -> list[_ActorPoses]:
    """Poses of every actor at every time (as :meth:`ActorTrack.pose_at`: linear + slerp, held at
    the ends; absent outside the annotated span), vectorised over times."""
    n_t, n_a = len(times), len(actor_ids)
    rot = np.tile(np.eye(3), (n_t, n_a, 1, 1))
    trans = np.zeros((n_t, n_a, 3))
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (n_t, n_a, 1))
    present = np.zeros((n_t, n_a), dtype=bool)
    for j, aid in enumerate(actor_ids):
        tr = log.tracks.get(aid)
        if tr is None:
            continue
        kt = np.asarray(tr.times)
        kq = rotations_to_quats(np.stack([p.rotation for p in tr.poses]))
        kx = np.stack([p.translation for p in tr.poses])
        present[:, j] = (times >= kt[0] - 1e-6) & (times <= kt[-1] + 1e-6)
        i1 = np.clip(np.searchsorted(kt, times, side="right"), 1, max(len(kt) - 1, 1))
        i0 = i1 - 1 if len(kt) > 1 else np.zeros_like(i1)
        i1 = np.minimum(i1, len(kt) - 1)
        span = np.where(kt[i1] > kt[i0], kt[i1] - kt[i0], 1.0)
        alpha = np.clip((times - kt[i0]) / span, 0.0, 1.0)
        q = _slerp(kq[i0], kq[i1], alpha)
        quat[:, j] = q
        rot[:, j] = quat_to_matrix(q)
        trans[:, j] = (1 - alpha)[:, None] * kx[i0] + alpha[:, None] * kx[i1]
    f = torch.float32
    return [
        _ActorPoses(
            torch.from_numpy(present[i]),
            torch.as_tensor(rot[i], dtype=f),
            torch.as_tensor(trans[i], dtype=f),
            torch.as_tensor(quat[i], dtype=f),
        )
        for i in range(n_t)
    ]


class _Params:
    """The optimised tensors (leaves): background, all actors packed in one component with an
    ``owner`` index, and the sky; plus the optimiser over them."""

    def __init__(self, scene: GaussianScene, cfg: FitConfig, extent: float) -> None:
        self.cfg, self.extent = cfg, extent
        self.actor_ids = list(scene.actors)
        comps = [scene.actors[a] for a in self.actor_ids]
        self.owner = torch.repeat_interleave(
            torch.arange(len(comps)), torch.tensor([len(c) for c in comps], dtype=torch.long)
        ).to(scene.device)
        self.parts: dict[str, dict[str, torch.Tensor]] = {}
        self._set("bg", scene.background)
        self._set("actors", GaussianComponent.concat(comps) if comps else GaussianComponent.empty())
        self.sky = scene.sky.color_logits.detach().clone().float().requires_grad_(True)
        self.reset_optimizer()

    def _set(self, key: str, comp: GaussianComponent) -> None:
        self.parts[key] = {
            k: v.detach().clone().float().requires_grad_(True) for k, v in comp.tensors().items()
        }

    def component(self, key: str) -> GaussianComponent:
        return GaussianComponent(**self.parts[key])

    def reset_optimizer(self) -> None:
        cfg = self.cfg
        lrs = {
            "means": cfg.lr_means * self.extent,
            "quats": cfg.lr_quats,
            "log_scales": cfg.lr_log_scales,
            "opacity_logits": cfg.lr_opacity,
            "color_logits": cfg.lr_color,
        }
        groups = [{"params": [p[name] for p in self.parts.values()], "lr": lr} for name, lr in lrs.items()]
        groups.append({"params": [self.sky], "lr": cfg.lr_sky})
        self.optimizer = torch.optim.Adam(groups, eps=1e-15, foreach=True)

    def world(self, poses: _ActorPoses) -> GaussianComponent:
        """Background plus the actors present in ``poses``, in the world frame (differentiable)."""
        bg, act = self.component("bg"), self.component("actors")
        sel = poses.present[self.owner].nonzero()[:, 0]
        if len(sel) == 0:
            return bg
        act = act.select(sel)
        means, quats = place_gaussians(
            act.means, act.quats, self.owner[sel], poses.rot, poses.trans, poses.quat
        )
        return GaussianComponent.concat([bg, replace(act, means=means, quats=quats)])

    def scene(self, metadata: dict[str, str]) -> GaussianScene:
        act = self.component("actors").detach()
        actors = {aid: act.select(self.owner == j) for j, aid in enumerate(self.actor_ids)}
        return GaussianScene(
            self.component("bg").detach(), actors, SkyModel(self.sky.detach().clone()), metadata
        )


def _densify_and_prune(params: _Params, grad_acc: torch.Tensor, count: torch.Tensor, cfg: FitConfig) -> None:
    """Clone / split the background Gaussians with the largest mean position gradient, prune
    transparent ones (actors: prune only)."""
    bg = params.component("bg").detach()
    n = len(bg)
    avg = grad_acc / count.clamp_min(1)
    room = max(0, cfg.max_gaussians - n)
    k = min(int(cfg.densify_frac * n), room)
    grow = torch.zeros(n, dtype=torch.bool, device=bg.device)
    if k > 0:
        grow[torch.topk(avg, k).indices] = True
        grow &= avg > 0
    big = bg.scales.max(1).values > 0.01 * params.extent
    split, clone = grow & big, grow & ~big
    parts = [bg.select(~split)]
    if clone.any():
        parts.append(bg.select(clone))
    if split.any():
        s = bg.select(split)
        rot = quat_to_rotmat(s.quats)
        for _ in range(2):
            offset = (rot @ (torch.randn_like(s.means) * s.scales)[..., None])[..., 0]
            parts.append(
                GaussianComponent(
                    s.means + offset, s.quats, s.log_scales - math.log(1.6), s.opacity_logits, s.color_logits
                )
            )
    new_bg = GaussianComponent.concat(parts)
    keep = (new_bg.opacities > cfg.min_opacity) & (new_bg.scales.max(1).values < 0.2 * params.extent)
    params._set("bg", new_bg.select(keep))
    act = params.component("actors").detach()
    alive = act.opacities > cfg.min_opacity
    # keep a few Gaussians per actor even if all faded, so that no actor loses its component
    counts = torch.bincount(params.owner[alive], minlength=len(params.actor_ids))
    alive |= counts[params.owner] < 10
    params._set("actors", act.select(alive))
    params.owner = params.owner[alive]
    params.reset_optimizer()


def _render_view(
    source: _Params | GaussianScene,
    log: LogSegment,
    view: _View,
    cfg: FitConfig,
    poses: _ActorPoses | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB ``[H, W, 3]`` and alpha ``[H, W]`` of one view (actors at their poses at its time)."""
    if isinstance(source, GaussianScene):
        at_t = log.actors_at(view.time)
        world, sky = source.compose({a: p for a, p in at_t.items() if a in source.actors}), source.sky
    else:
        assert poses is not None
        world, sky = source.world(poses), SkyModel(source.sky)
    dev = world.device
    out = render_gaussians(world, sky, view.viewmat[None].to(dev), view.k[None].to(dev), cfg.image_hw)
    return out.rgb[0], out.alpha[0]


def _evaluate(
    scene: GaussianScene,
    log: LogSegment,
    views: list[_View],
    cfg: FitConfig,
    images: dict[tuple[str, int], torch.Tensor],
) -> tuple[float, float, float]:
    """Mean PSNR [dB], SSIM (7x7 uniform) and PSNR on covered pixels over ``views``."""
    ps, ss, pc = [], [], []
    with torch.no_grad():
        for v in views:
            rgb, alpha = _render_view(scene, log, v, cfg)
            gt = _as_float(images[(v.camera, v.index)]).to(rgb.device)
            rgb = rgb.clamp(0, 1).float()
            ps.append(psnr(rgb, gt))
            ss.append(float(ssim(rgb, gt)))
            pc.append(psnr(rgb, gt, mask=alpha > 0.5))
    finite = [p for p in pc if math.isfinite(p)]
    return float(np.mean(ps)), float(np.mean(ss)), float(np.mean(finite)) if finite else float("nan")


def _load_images(
    log: LogSegment, views: list[_View], cfg: FitConfig, progress: bool
) -> dict[tuple[str, int], torch.Tensor]:
    out = {}
    for v in progress_bar(views, desc="loading images", unit="img", leave=False, disable=not progress):
        out[(v.camera, v.index)] = torch.from_numpy(
            log.image(v.camera, v.index, cfg.image_hw)
        )  # uint8: 4x less memory
    return out


def _as_float(image: torch.Tensor) -> torch.Tensor:
    """``[H, W, 3]`` uint8 -> float32 in [0, 1]."""
    return image.float() / 255.0


def _fit_progress(name: str, config: FitConfig, progress: bool):  # noqa: ANN202 (tqdm)
    """The fit's progress bar: steps of ``config.steps``, or with a time budget the budget's seconds
    (the step cap is then far away, and a bar over it would show hours left)."""
    if config.time_budget is None:
        return progress_bar(total=config.steps, desc=f"fitting {name}", unit="step", disable=not progress)
    return progress_bar(
        total=config.time_budget,  # not rounded: the bar counts up to it exactly
        desc=f"fitting {name} ({config.time_budget:.0f} s budget)",
        unit="s",
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}",
        disable=not progress,
    )


def schedule_progress(step: int, elapsed: float, config: FitConfig) -> float:
    """How far the fit's schedule is, in [0, 1], at ``step`` (1-based) after ``elapsed`` seconds:
    the fraction of ``steps`` done or, with a time budget, of the budget spent, whichever is
    further. The means' learning rate decays along it and densification stops at
    ``densify_until_frac`` of it."""
    frac = (step - 1) / max(1, config.steps - 1)
    if config.time_budget is not None:
        frac = max(frac, elapsed / config.time_budget)
    return min(1.0, frac)


def fit_scene(
    log: LogSegment,
    config: FitConfig = FitConfig(),
    progress: bool = True,
    init_scene: GaussianScene | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[GaussianScene, FitReport]:
    """Optimise a Gaussian scene of ``log`` (see the module docstring).

    Args:
        log: the recorded drive (images are read lazily, resized to ``config.image_hw``).
        config: budgets and learning rates.
        progress: show tqdm progress bars.
        init_scene: start from this scene (e.g. a WorldRec prediction) instead of lidar points.
        on_step: called as ``on_step(step, loss)`` after every step.

    Returns:
        The fitted scene (float32, CPU) and a :class:`FitReport` with held-out PSNR / SSIM.
    """
    threads_before = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    try:
        return _fit(log, config, progress, init_scene, on_step)
    finally:
        torch.set_num_threads(threads_before)


def _fit(
    log: LogSegment,
    config: FitConfig,
    progress: bool,
    init_scene: GaussianScene | None,
    on_step: Callable[[int, float], None] | None,
) -> tuple[GaussianScene, FitReport]:
    from jwmsim.devices import resolve_device

    t_start = time.perf_counter()
    dev = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train, held = _views(log, config)
    if len(held) > config.max_eval_views:
        held = [held[i] for i in np.linspace(0, len(held) - 1, config.max_eval_views).round().astype(int)]
    images = _load_images(log, train + held, config, progress)
    if init_scene is not None:
        scene0, init = init_scene.to("cpu", torch.float32), "scene"
        init_reason = "the given scene"
    else:
        lidar = _lidar_init(log, config, rng)
        if lidar is not None:
            pts, cols, actor_points, init = lidar.points, lidar.colors, lidar.actor_points, "lidar"
            init_reason = f"lidar points coloured by the cameras ({len(pts)} points)"
        else:
            (pts, cols), actor_points, init = _random_init(train, config.init_points, rng), None, "random"
            init_reason = random_init_reason(log)
        upper = torch.stack(
            [
                _as_float(images[(v.camera, v.index)][: config.image_hw[0] // 4])
                for v in train[:: max(1, len(train) // 20)]
            ]
        )
        sky_rgb = upper.reshape(-1, 3).median(0).values.clamp(0.05, 0.95)
        sky = SkyModel(logit(sky_rgb)[:, None, None].expand(3, 8, 16).contiguous().float())
        actors = _actor_init(log, config, rng, actor_points)
        scene0 = GaussianScene(_component_from_points(pts, cols), actors, sky)
    cam_centres = np.stack([v.world_from_cam[:3, 3] for v in train])
    extent = float(max(10.0, 1.1 * np.linalg.norm(cam_centres - cam_centres.mean(0), axis=1).max() + 20.0))
    params = _Params(scene0.to(dev), config, extent)
    train_poses = [
        _ActorPoses(*(t.to(dev) for t in (p.present, p.rot, p.trans, p.quat)))
        for p in _actor_poses(log, params.actor_ids, np.array([v.time for v in train]))
    ]
    n_bg = len(params.parts["bg"]["means"])
    grad_acc, grad_cnt = torch.zeros(n_bg, device=dev), torch.zeros(n_bg, device=dev)
    bar = _fit_progress(log.name, config, progress)
    loss_ema = None
    t_loop = time.perf_counter()
    steps_done, stopped = 0, "steps"
    for step in range(1, config.steps + 1):
        elapsed = time.perf_counter() - t_start  # the budget covers loading and initialising too
        if config.time_budget is not None:
            bar.update(min(elapsed, config.time_budget) - bar.n)  # the bar counts budget seconds
            if elapsed >= config.time_budget:
                stopped = "budget"
                break
        else:
            bar.update(1)
        vi = int(rng.integers(len(train)))
        view = train[vi]
        gt = _as_float(images[(view.camera, view.index)]).to(dev)
        rgb, _ = _render_view(params, log, view, config, train_poses[vi])
        l1 = (rgb - gt).abs().mean()
        loss = (1 - config.ssim_weight) * l1
        if config.ssim_weight > 0:
            loss = loss + config.ssim_weight * (1 - ssim(rgb, gt, window="gaussian", size=11))
        params.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        frac = schedule_progress(step, elapsed, config)
        lr_means = config.lr_means * (config.lr_means_final / config.lr_means) ** frac
        params.optimizer.param_groups[0]["lr"] = lr_means * extent  # group 0 holds the means
        params.optimizer.step()
        with torch.no_grad():
            means_grad = params.parts["bg"]["means"].grad
            # densification stops at densify_until_frac of the schedule, so that the last part of
            # the fit settles (with a time budget: of the budget, not of the step cap)
            densifying = frac <= config.densify_until_frac
            if means_grad is not None and densifying:
                g = means_grad.norm(dim=1)
                grad_acc += g
                grad_cnt += g > 0
        if densifying and step >= config.densify_from and step % config.densify_every == 0:
            _densify_and_prune(params, grad_acc, grad_cnt, config)
            n_bg = len(params.parts["bg"]["means"])
            grad_acc, grad_cnt = torch.zeros(n_bg, device=dev), torch.zeros(n_bg, device=dev)
        value = float(loss.detach())
        loss_ema = value if loss_ema is None else 0.95 * loss_ema + 0.05 * value
        if step % 10 == 0 or step == config.steps:
            bar.set_postfix(step=step, loss=f"{loss_ema:.4f}", gaussians=n_bg, refresh=False)
        steps_done = step
        if on_step is not None:
            on_step(step, value)
    bar.close()
    loop_seconds = time.perf_counter() - t_loop
    fit_seconds = time.perf_counter() - t_start
    scene = params.scene(
        {
            "source": log.source or log.name,
            "method": "fit",
            "steps": str(steps_done),
            "init": init,
            "init_reason": init_reason,
        }
    )
    eval_train = [train[i] for i in np.linspace(0, len(train) - 1, min(16, len(train))).round().astype(int)]
    nan3 = (float("nan"),) * 3
    train_psnr = _evaluate(scene, log, eval_train, config, images)[0] if config.evaluate else float("nan")
    h_psnr, h_ssim, h_cov = _evaluate(scene, log, held, config, images) if held and config.evaluate else nan3
    report = FitReport(
        log=log.name,
        steps=steps_done,
        fit_seconds=round(fit_seconds, 1),
        num_gaussians=scene.num_gaussians,
        num_actors=len(scene.actors),
        train_views=len(train),
        heldout_views=len(held),
        heldout_psnr=round(h_psnr, 3),
        heldout_ssim=round(h_ssim, 4),
        heldout_psnr_covered=round(h_cov, 3),
        train_psnr=round(train_psnr, 3),
        init=init,
        init_reason=init_reason,
        config={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        stopped=stopped,
        loop_seconds=round(loop_seconds, 2),
    )
    return scene.to("cpu"), report
