"""The Optuna study of a search: stored in SQLite in the output folder, asked and told trial by
trial, resumable and safe to interrupt.

``study.db`` holds one study; its user attributes name the scenario (and a digest of its ranges),
the agent and the objective, and a second search in the same folder continues the study only when
they match (:class:`~jwmsim.search.errors.StudyMismatch` otherwise). A lock file keeps two searches
from writing the same study at once.

Trials run on an execution backend through :func:`run_trials`: the backend is given a lazy
sequence of tasks, and both backends index it only when they submit a task (at most ``workers``
in flight), so each new trial is asked from Optuna after every result that came back before it was
told. A trial's result is written (``tell``) with Ctrl-C deferred until the write is done; a trial
that did not finish (interrupted, failed, or asked but never run) is stored as failed, so the study
never keeps a trial ``RUNNING`` and the next search ignores it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, Trial, TrialState

from jwmsim.backends import Backend, TaskFailed
from jwmsim.errors import ConfigError
from jwmsim.replay_run import RunSetup
from jwmsim.search.errors import SearchBusy, StudyMismatch
from jwmsim.search.objective import Objective, metric_of
from jwmsim.search.space import all_continuous
from jwmsim.search.trials import TrialOutcome, TrialTask, run_trial

STUDY_FILE = "study.db"
STUDY_NAME = "jwmsim-search"
LOCK_FILE = ".search.lock"
SAMPLERS = ("tpe", "cmaes", "random")
PLAIN_PROGRESS_SECONDS = 30.0  # [s] at most between two plain progress lines


# ------------------------------------------------------------------------------------------------
# Storage
# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.search.lock`` for the block.

    Raises:
        SearchBusy: another search holds it.
    """
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: nothing to hold
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with open(out / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SearchBusy(
                f"another search is running in {out}",
                hint="wait for it to end, or pass another --out",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _storage(path: Path) -> optuna.storages.RDBStorage:
    try:
        return optuna.storages.RDBStorage(f"sqlite:///{path.resolve()}")
    except Exception as err:  # sqlalchemy / optuna errors on a file that is no study database
        raise StudyMismatch(
            f"{path} is not a study database ({type(err).__name__})",
            hint=f"pass another --out, or remove {path}",
        ) from None


def open_study(out: Path, identity: dict[str, str], create: bool = True) -> optuna.Study | None:
    """The study in ``out/study.db``: loaded when it exists and its identity matches, else
    (``create``) created with ``identity`` as its user attributes, or (not ``create``) None.

    Raises:
        StudyMismatch: the folder holds the study of another scenario, agent or objective, or a
            file that is not a search study.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = out / STUDY_FILE
    existed = path.is_file()
    if not existed and not create:
        return None
    storage = _storage(path)
    names = optuna.get_all_study_names(storage) if existed else []
    if existed and STUDY_NAME not in names:
        raise StudyMismatch(
            f"{path} holds no jwmsim search study", hint=f"pass another --out, or remove {path}"
        )
    if STUDY_NAME not in names:
        study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="minimize")
        for key, value in identity.items():
            study.set_user_attr(key, value)
        return study
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
    check_identity(study.user_attrs, identity, out)
    return study


def check_identity(stored: dict[str, Any], identity: dict[str, str], out: Path) -> None:
    """Refuse to continue a study of another scenario, agent or objective."""
    fresh = f"pass another --out, or remove {out} to start afresh"
    if stored.get("scenario") != identity["scenario"]:
        raise StudyMismatch(
            f"output folder {out} holds the search study of scenario {stored.get('scenario')!r}, "
            f"not of {identity['scenario']!r}",
            hint=fresh,
        )
    if stored.get("fingerprint") != identity["fingerprint"]:
        raise StudyMismatch(
            f"output folder {out} holds a search study of scenario {identity['scenario']!r} with other "
            "parameters or ranges (the scenario changed since)",
            hint=fresh,
        )
    for key, flag in (("agent", "--agent"), ("objective", "--objective")):
        if stored.get(key) != identity[key]:
            raise StudyMismatch(
                f"output folder {out} holds a search study with {key} {stored.get(key)!r}, "
                f"not {identity[key]!r}",
                hint=f"pass {flag} {stored.get(key)} to continue it, or {fresh}",
            )


def close_stale_trials(study: optuna.Study) -> int:
    """Store trials left ``RUNNING`` by a search that was killed as failed; how many there were."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    return len(stale)


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The study's complete trials, in trial order."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def startup_trials(budget: int) -> int:
    """Random trials TPE starts with: a quarter of the budget, 3 to 10."""
    return max(3, min(10, budget // 4))


def make_sampler(
    name: str,
    space: dict[str, BaseDistribution],
    seed: int,
    n_done: int,
    parallel: int,
    budget: int = 40,
) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` (``tpe``, ``cmaes``, ``random``), seeded with ``seed + n_done`` so that
    a continued study does not draw its first points again; TPE starts with
    :func:`startup_trials` random trials of ``budget``.

    Raises:
        ConfigError: unknown sampler, or ``cmaes`` over a space with choices.
    """
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}", hint=f"choose one of {list(SAMPLERS)}")
    seed = seed + n_done
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "cmaes":
            if not all_continuous(space):
                choices = [
                    p for p, d in space.items() if not isinstance(d, optuna.distributions.FloatDistribution)
                ]
                raise ConfigError(
                    f"CMA-ES searches continuous parameters only; {choices} are choices",
                    hint="use --sampler tpe (the default), which searches choices too",
                )
            return optuna.samplers.CmaEsSampler(
                seed=seed, n_startup_trials=0, warn_independent_sampling=False
            )
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup_trials(budget), multivariate=True, constant_liar=parallel > 1
        )


# ------------------------------------------------------------------------------------------------
# Running trials
# ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done (a study write is not cut in half), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class _LazyTasks(Sequence[TrialTask]):
    """``n`` trial tasks, each asked from the study when the backend first indexes it."""

    def __init__(self, n: int, ask: Callable[[], TrialTask]) -> None:
        self._n, self._ask = n, ask
        self._made: dict[int, TrialTask] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: int) -> TrialTask:  # type: ignore[override]
        if isinstance(index, slice):
            raise TypeError("trial tasks are asked one at a time")
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError(index)
        if index not in self._made:
            self._made[index] = self._ask()
        return self._made[index]


@dataclass
class TrialsRun:
    """What :func:`run_trials` did: trials finished now, whether Ctrl-C stopped it, the outcome of
    a trial whose planner failed, or the error of a task that raised."""

    finished: int = 0
    interrupted: bool = False
    failed: TrialOutcome | None = None
    task_failure: TaskFailed | None = None
    outcomes: list[TrialOutcome] = field(default_factory=list)


def record(study: optuna.Study, trial: Trial, outcome: TrialOutcome, objective: Objective) -> bool:
    """Tell the study a trial's outcome (failed unless it finished with the metric); True if it
    counts."""
    metric = metric_of(outcome.metrics, outcome.margin, objective)
    attrs = {
        "status": outcome.status,
        "end_reason": outcome.reason,
        "steps": outcome.steps,
        "metrics": outcome.metrics,
        "ttc_margin": outcome.margin,
        "metric": metric,
    }
    if outcome.error:
        attrs["error"] = outcome.error
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    if outcome.status != "finished" or metric is None:
        study.tell(trial, state=TrialState.FAIL)
        return False
    study.tell(trial, objective.value(metric, outcome.margin))
    return True


def run_trials(
    study: optuna.Study,
    backend: Backend,
    setup: RunSetup,
    space: dict[str, BaseDistribution],
    fixed: dict[str, Any],
    objective: Objective,
    n_trials: int,
    on_trial: Callable[[TrialOutcome], None] | None = None,
) -> TrialsRun:
    """Ask, run and tell ``n_trials`` trials on ``backend``; see the module docstring.

    A trial that is interrupted or whose planner fails starts no further trial (running ones
    finish and are told); Ctrl-C anywhere ends the loop with ``interrupted`` set.
    """
    pending: dict[int, Trial] = {}
    search_id = uuid.uuid4().hex

    def ask() -> TrialTask:
        with deferred_interrupt():  # a trial created in the study is always in ``pending``
            trial = study.ask(space)
            pending[trial.number] = trial
        return TrialTask(setup, trial.number, {**fixed, **trial.params}, search_id)

    result = TrialsRun()
    try:
        for _, outcome in backend.map(
            run_trial, _LazyTasks(n_trials, ask), stop_when=lambda o: o.status != "finished"
        ):
            trial = pending.pop(outcome.number)
            with deferred_interrupt():
                counted = record(study, trial, outcome, objective)
            result.finished += counted
            result.outcomes.append(outcome)
            result.interrupted |= outcome.status == "interrupted"
            if outcome.status == "failed" and result.failed is None:
                result.failed = outcome
            if counted and on_trial is not None:
                on_trial(outcome)
    except KeyboardInterrupt:
        result.interrupted = True
    except TaskFailed as err:
        result.task_failure = err
    finally:
        with deferred_interrupt():
            for trial in pending.values():  # asked, but no result came back
                trial.set_user_attr("status", "interrupted" if result.interrupted else "not run")
                study.tell(trial, state=TrialState.FAIL)
        pending.clear()
    return result


class TrialProgress:
    """Progress over trials: a tqdm bar on a terminal, else a plain line now and then (every tenth
    of the budget, and at least every :data:`PLAIN_PROGRESS_SECONDS` seconds); nothing when off."""

    def __init__(self, total: int, done: int, label: str, enabled: bool, stream: Any = None) -> None:
        self.total, self.done, self.label = total, done, label
        self.stream = stream or sys.stdout
        self.enabled = enabled
        self.bar = None
        self.every = max(1, total // 10)
        self.last = time.monotonic()
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=label, unit="trial", file=self.stream)

    def update(self, worst: str) -> None:
        """One more trial finished; ``worst``: the worst case so far, in words."""
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(worst, refresh=False)
            return
        now = time.monotonic()
        due = (
            self.done % self.every == 0 or self.done >= self.total or now - self.last > PLAIN_PROGRESS_SECONDS
        )
        if self.enabled and due:
            self.last = now
            print(
                f"{self.label}: trial {self.done}/{self.total}, worst so far {worst}",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


__all__ = [
    "SAMPLERS",
    "STUDY_FILE",
    "STUDY_NAME",
    "TrialProgress",
    "TrialsRun",
    "check_identity",
    "close_stale_trials",
    "deferred_interrupt",
    "finished_trials",
    "folder_lock",
    "make_sampler",
    "open_study",
    "record",
    "run_trials",
]
