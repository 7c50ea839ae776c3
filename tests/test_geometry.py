"""Round trips and conventions of jwmsim.geometry (property-based with hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jwmsim.geometry import (
    SE3,
    CameraIntrinsics,
    box_corners,
    camera_to_world,
    matrix_to_quat,
    quat_to_matrix,
    world_to_camera,
    wrap_angle,
)

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
quats = arrays(np.float64, 4, elements=st.floats(-1, 1)).filter(lambda q: np.linalg.norm(q) > 0.1)
vec3 = arrays(np.float64, 3, elements=finite)
points = arrays(np.float64, (5, 3), elements=finite)


@st.composite
def poses(draw: st.DrawFn) -> SE3:
    return SE3.from_quat(draw(quats), draw(vec3))


@st.composite
def intrinsics(draw: st.DrawFn) -> CameraIntrinsics:
    w = draw(st.integers(16, 1920))
    h = draw(st.integers(16, 1080))
    f = draw(st.floats(50, 2000))
    return CameraIntrinsics(
        f, f * draw(st.floats(0.9, 1.1)), draw(st.floats(0, w)), draw(st.floats(0, h)), w, h
    )


@given(quats)
def test_quaternion_matrix_round_trip(q: np.ndarray) -> None:
    r = quat_to_matrix(q)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(r) == pytest.approx(1.0)
    q2 = matrix_to_quat(r)
    qn = q / np.linalg.norm(q)
    assert min(np.abs(q2 - qn).max(), np.abs(q2 + qn).max()) < 1e-6


@given(poses(), points)
def test_pose_inverse_round_trip(pose: SE3, pts: np.ndarray) -> None:
    np.testing.assert_allclose(pose.inverse().apply(pose.apply(pts)), pts, atol=1e-9)
    assert (pose @ pose.inverse()).allclose(SE3.identity(), atol=1e-9)


@given(poses(), poses(), points)
def test_composition_matches_sequential_application(a: SE3, b: SE3, pts: np.ndarray) -> None:
    np.testing.assert_allclose((a @ b).apply(pts), a.apply(b.apply(pts)), atol=1e-8)
    np.testing.assert_allclose((a @ b).matrix, a.matrix @ b.matrix, atol=1e-9)
    assert SE3.from_matrix((a @ b).matrix).allclose(a @ b)


@given(
    intrinsics(),
    arrays(np.float64, (6, 2), elements=st.floats(0, 1)),
    arrays(np.float64, 6, elements=st.floats(0.1, 200)),
)
def test_project_unproject_round_trip(k: CameraIntrinsics, frac: np.ndarray, depth: np.ndarray) -> None:
    uv = frac * np.array([k.width - 1, k.height - 1])
    pts = k.unproject(uv, depth)
    uv2, d2 = k.project(pts)
    np.testing.assert_allclose(uv2, uv, atol=1e-6)
    np.testing.assert_allclose(d2, depth, rtol=1e-12)
    assert k.in_image(uv2).all()


@given(intrinsics(), st.integers(8, 800), st.integers(8, 800))
def test_resized_intrinsics_map_pixel_edges(k: CameraIntrinsics, w: int, h: int) -> None:
    """The image's outer pixel edges (-0.5 and W-0.5) map to the resized image's outer edges."""
    r = k.resized(w, h)
    p = k.unproject(np.array([[-0.5, -0.5], [k.width - 0.5, k.height - 0.5]]), np.ones(2))
    uv, _ = r.project(p)
    np.testing.assert_allclose(uv, [[-0.5, -0.5], [w - 0.5, h - 0.5]], atol=1e-6)
    back = r.resized(k.width, k.height)
    np.testing.assert_allclose(
        [back.fx, back.fy, back.cx, back.cy], [k.fx, k.fy, k.cx, k.cy], rtol=1e-9, atol=1e-9
    )


@settings(max_examples=50)
@given(poses(), poses(), points)
def test_world_camera_round_trip(ego: SE3, cam: SE3, pts: np.ndarray) -> None:
    np.testing.assert_allclose(camera_to_world(world_to_camera(pts, ego, cam), ego, cam), pts, atol=1e-8)


def test_frame_conventions() -> None:
    """Ego x forward / y left; a forward-looking OpenCV camera sees ego +x as +z and ego +y as -x."""
    # nuScenes-style front camera: camera z = ego x, camera x = -ego y, camera y = -ego z.
    ego_from_cam = SE3(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), [1.5, 0.0, 1.6])
    ego = SE3.from_xy_yaw(10.0, 5.0, np.pi / 2)  # facing world +y
    ahead_left = ego.apply(np.array([20.0, 2.0, 1.6]))  # 20 m ahead, 2 m left, camera height
    np.testing.assert_allclose(ahead_left, [8.0, 25.0, 1.6])
    p = world_to_camera(ahead_left, ego, ego_from_cam)
    np.testing.assert_allclose(p, [-2.0, 0.0, 18.5], atol=1e-12)
    k = CameraIntrinsics(100, 100, 50, 40, 100, 80)
    uv, z = k.project(p)
    assert uv[0] < k.cx and z == pytest.approx(18.5)  # left of centre
    uv_behind, _ = k.project(np.array([0.0, 0.0, -1.0]))
    assert np.isnan(uv_behind).all()


@given(st.floats(-10, 10))
def test_yaw_and_wrap(yaw: float) -> None:
    assert (
        SE3.from_xy_yaw(0, 0, yaw).yaw == pytest.approx(float(wrap_angle(yaw)), abs=1e-9)
        or abs(abs(float(wrap_angle(yaw))) - np.pi) < 1e-9
    )


def test_interpolate_endpoints_and_midpoint() -> None:
    a, b = SE3.from_xy_yaw(0, 0, 0.0), SE3.from_xy_yaw(10, 0, 1.0)
    assert a.interpolate(b, 0.0).allclose(a) and a.interpolate(b, 1.0).allclose(b)
    mid = a.interpolate(b, 0.5)
    assert mid.yaw == pytest.approx(0.5) and mid.translation[0] == pytest.approx(5.0)


def test_box_corners() -> None:
    c = box_corners((2.0, 4.0, 1.5), SE3.from_xy_yaw(1, 2, np.pi / 2, z=0.75))
    np.testing.assert_allclose(c.min(0), [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(c.max(0), [2.0, 4.0, 1.5], atol=1e-12)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError):
        quat_to_matrix([0, 0, 0, 0])
    with pytest.raises(ValueError):
        SE3(np.eye(3), [np.nan, 0, 0])
    with pytest.raises(ValueError):
        CameraIntrinsics(100, 100, 1, 1, 0, 10)
