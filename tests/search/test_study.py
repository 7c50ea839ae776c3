"""The study's pieces on their own: Ctrl-C held back during a write, the lazy task sequence,
plain progress lines, samplers."""

from __future__ import annotations

import io
import os
import signal

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from jwmsim.errors import ConfigError
from jwmsim.search.study import TrialProgress, _LazyTasks, deferred_interrupt, make_sampler, startup_trials


def test_ctrl_c_inside_a_write_is_raised_after_it() -> None:
    # Python's own handler, whatever the test runner was started with (a background job ignores
    # SIGINT); the handler in place before is restored afterwards
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("write finished")
        assert done == ["write finished"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_tasks_are_asked_once_each_when_first_indexed() -> None:
    asked = []

    def ask() -> str:
        asked.append(len(asked))
        return f"task {len(asked) - 1}"

    tasks = _LazyTasks(3, ask)  # type: ignore[arg-type]
    assert len(tasks) == 3 and asked == []
    assert tasks[1] == "task 0" and tasks[1] == "task 0" and asked == [0]
    assert list(tasks) == ["task 1", "task 0", "task 2"]
    with pytest.raises(IndexError):
        tasks[3]


def test_plain_progress_prints_every_tenth_of_the_budget() -> None:
    stream = io.StringIO()  # not a terminal
    progress = TrialProgress(20, 5, "search x", enabled=True, stream=stream)
    for _ in range(15):
        progress.update("pdms=0.5")
    lines = stream.getvalue().splitlines()
    assert lines == [f"search x: trial {n}/20, worst so far pdms=0.5" for n in (6, 8, 10, 12, 14, 16, 18, 20)]
    quiet = io.StringIO()
    TrialProgress(20, 0, "search x", enabled=False, stream=quiet).update("-")
    assert quiet.getvalue() == ""


def test_samplers() -> None:
    space = {"a": FloatDistribution(0, 1), "b": CategoricalDistribution(["x", "y"])}
    assert type(make_sampler("tpe", space, 0, 0, 1)).__name__ == "TPESampler"
    assert type(make_sampler("random", space, 0, 0, 1)).__name__ == "RandomSampler"
    assert type(make_sampler("cmaes", {"a": space["a"]}, 0, 0, 1)).__name__ == "CmaEsSampler"
    with pytest.raises(ConfigError, match="\\['b'\\] are choices"):
        make_sampler("cmaes", space, 0, 0, 1)
    with pytest.raises(ConfigError, match="unknown sampler"):
        make_sampler("grid", space, 0, 0, 1)
    assert [startup_trials(b) for b in (1, 12, 20, 40, 400)] == [3, 3, 5, 10, 10]


def test_a_terminal_gets_a_bar_with_the_worst_case() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = TrialProgress(4, 1, "search x", enabled=True, stream=stream)
    progress.update("pdms=0.5")
    progress.update("pdms=0.4")
    progress.close()
    text = stream.getvalue()
    assert "search x:  25%" in text and "3/4" in text and "pdms=0.4" in text
    assert "trial 3/4" not in text  # no plain lines on a terminal
