"""``python -m jwmsim.precompile``: every numba kernel group compiles, in one process or in two."""

from __future__ import annotations

import pytest

from jwmsim import precompile


def test_one_process_runs_every_group_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def recorded(group):  # noqa: ANN001, ANN202
        def run() -> None:
            calls.append(group.__name__)
            group()

        return run

    monkeypatch.setattr(precompile, "GROUPS", tuple(recorded(g) for g in precompile.GROUPS))
    precompile.precompile(processes=1)
    assert calls == ["precompile_procedural", "precompile_rasterizer"]


def test_two_processes_compile_side_by_side() -> None:
    """Each group runs in a spawned worker; an error there would raise here."""
    precompile.precompile(processes=2)
