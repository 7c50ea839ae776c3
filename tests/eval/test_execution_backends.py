"""The execution backends (local in-process, local process pool, Ray on a local instance): results,
progress, a failing task, a dead worker, stopping early, Ctrl-C, and identical replays on all."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from jwmsim.backends import BACKENDS, BackendOptions, TaskFailed, make_backend
from jwmsim.errors import ConfigError
from jwmsim.replay import ReplayOptions, replay


def square(task: int, ctx) -> int:
    for _ in range(task):
        ctx.report(1)
    return task * task


def raise_on_three(task: int, ctx) -> int:
    if task == 3:
        raise ZeroDivisionError("task three divided by zero")
    return task


def die_on_one(task: int, ctx) -> int:
    if task == 1:
        # die after task 0 has returned: a dead worker breaks the whole pool, so a task still
        # running beside it would be reported as well (and, being first, named)
        time.sleep(1.0)
        os._exit(3)
    return task


def wait_for_stop(task: int, ctx) -> str:
    ctx.report(1)  # "running": the test interrupts once the two first tasks are
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        if ctx.should_stop():
            return "stopped"
        time.sleep(0.05)
    return "timed out"


def _by_value_for_ray() -> None:
    """Ray workers cannot import this test module by name: ship its functions by value."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


SETUPS = [
    pytest.param(("local", 1), id="local-here"),
    pytest.param(("local", 2), id="local-pool"),
    pytest.param(("ray", 2), id="ray"),
]


@pytest.fixture(params=SETUPS)
def backend(request: pytest.FixtureRequest):
    name, workers = request.param
    if name == "ray":
        request.getfixturevalue("local_ray")
        _by_value_for_ray()
    with make_backend(name, BackendOptions(workers=workers)) as b:
        yield b


def test_registry_and_options() -> None:
    assert {"local", "ray"} <= set(BACKENDS.names())
    with pytest.raises(ConfigError, match="unknown execution backend 'dask'"):
        make_backend("dask")
    with pytest.raises(ConfigError, match="--workers must be >= 1"):
        BackendOptions(workers=0)
    with pytest.raises(ConfigError, match="--ray-address"):
        ReplayOptions(ray_address="head:6379")  # needs --backend ray


def test_map_returns_every_result_and_the_progress(backend) -> None:
    reports: dict[int, int] = {}

    def progress(index: int, steps: int) -> None:
        reports[index] = reports.get(index, 0) + steps

    got = dict(backend.map(square, [0, 1, 2, 3, 4], progress=progress))
    assert got == {0: 0, 1: 1, 2: 4, 3: 9, 4: 16}
    assert reports == {1: 1, 2: 2, 3: 3, 4: 4}
    assert list(backend.map(square, [])) == []


def test_a_raising_task_is_reported_with_its_traceback(backend) -> None:
    got: dict[int, int] = {}
    with pytest.raises(TaskFailed) as err:
        for index, result in backend.map(raise_on_three, list(range(6))):
            got[index] = result
    assert err.value.index == 3 and "ZeroDivisionError: task three divided by zero" in err.value.message
    assert "raise_on_three" in err.value.traceback
    assert {0, 1, 2} <= set(got) and 3 not in got and all(got[i] == i for i in got)


def test_stop_when_starts_no_further_task(backend) -> None:
    got = dict(backend.map(square, list(range(8)), stop_when=lambda r: r >= 1))
    assert 1 in got and len(got) < 8


@pytest.mark.parametrize(("name", "workers"), [("local", 2), ("ray", 2)])
def test_a_dead_worker_is_a_failure_not_a_hang(name: str, workers: int, request) -> None:
    if name == "ray":
        request.getfixturevalue("local_ray")
        _by_value_for_ray()
    with make_backend(name, BackendOptions(workers=workers)) as b, pytest.raises(TaskFailed) as err:
        list(b.map(die_on_one, [0, 1, 2]))
    assert err.value.index == 1


@pytest.mark.parametrize(("name", "workers"), [("local", 2), ("ray", 2)])
def test_ctrl_c_stops_the_running_tasks_and_keeps_their_results(name: str, workers: int, request) -> None:
    if name == "ray":
        request.getfixturevalue("local_ray")
        _by_value_for_ray()
    # SIGINT may be inherited as ignored (a background job of a non-interactive shell): make it Ctrl-C
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    got: dict[int, str] = {}
    running: set[int] = set()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))

    def on_progress(index: int, steps: int) -> None:
        running.add(index)
        if len(running) == workers and timer.ident is None:
            timer.start()  # Ctrl-C once both workers run a task (worker start-up may take long)

    with make_backend(name, BackendOptions(workers=workers)) as b:
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            for index, result in b.map(wait_for_stop, list(range(5)), progress=on_progress):
                got[index] = result
    timer.cancel()
    assert time.monotonic() - started < 90.0
    assert got == {0: "stopped", 1: "stopped"}  # the two running ones; the other three never started


def test_replays_match_on_every_backend(scenario_dir: Path, tmp_path: Path, local_ray) -> None:
    def run(out: str, **kw):
        opts = ReplayOptions(out=tmp_path / out, render="none", runs=3, progress=False, **kw)
        return replay(scenario_dir / "tiny_brake.yaml", opts)

    here = run("here", workers=1)
    on_ray = run("ray", backend="ray", workers=2)
    assert [r.run_index for r in on_ray.runs] == [0, 1, 2]
    for a, b in zip(here.runs, on_ray.runs, strict=True):
        assert a.status == b.status == "finished"
        assert a.metrics == b.metrics and a.draws == b.draws and a.steps == b.steps
        assert a.record["penalties"] == b.record["penalties"]
        assert (b.run_dir / "metrics.json").exists()
