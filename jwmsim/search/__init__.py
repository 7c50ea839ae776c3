"""Failure search: drive a planner into a scenario's hardest cases.

A scenario's jitter ranges span a family of situations; :func:`search` explores them with Optuna
(TPE, CMA-ES where every parameter is continuous, or random sampling) for the worst value of an
objective (default: the lowest PDMS, ties broken by the smallest TTC margin), runs its trials on
the ``local`` or ``ray`` execution backend, keeps the study in ``OUT/study.db`` (a second call with
the same folder continues it) and writes the worst cases as standalone scenario files, a report and
the worst case's video. ``jwmsim search SCENARIO --agent NAME --budget N`` is the command line.

Modules: :mod:`~jwmsim.search.space` (jitter <-> search space), :mod:`~jwmsim.search.objective`
(objectives, TTC margin), :mod:`~jwmsim.search.trials` (one trial, a backend task),
:mod:`~jwmsim.search.study` (storage, ask / tell loop), :mod:`~jwmsim.search.report` (outputs),
:mod:`~jwmsim.search.run` (all of it).
"""

from __future__ import annotations

from jwmsim.search.errors import NothingToSearch, SearchBusy, SearchFailed, SearchInterrupted, StudyMismatch
from jwmsim.search.objective import Objective, metric_names, objective_by_name
from jwmsim.search.run import SearchOptions, SearchResult, default_out, search

__all__ = [
    "NothingToSearch",
    "Objective",
    "SearchBusy",
    "SearchFailed",
    "SearchInterrupted",
    "SearchOptions",
    "SearchResult",
    "StudyMismatch",
    "default_out",
    "metric_names",
    "objective_by_name",
    "search",
]
