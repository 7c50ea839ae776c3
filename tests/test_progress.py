"""Progress output: a live bar on a terminal, whole periodic lines in a log file."""

from __future__ import annotations

import io

import pytest
from tqdm import tqdm

from jwmsim.progress import LineProgress, progress_bar


def test_plain_lines_when_the_output_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWMSIM_PROGRESS", raising=False)
    out = io.StringIO()
    bar = progress_bar(total=1000, desc="job", file=out)
    assert isinstance(bar, LineProgress)
    for _ in range(1000):
        bar.update(1)
    bar.close()
    text = out.getvalue()
    lines = [line for line in text.splitlines() if line]
    assert "\r" not in text
    assert 1 <= len(lines) <= 3  # at most one line per 30 s, plus the start and the end
    assert lines[-1].startswith("job: 100%") and "1000/1000" in lines[-1]


def test_a_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("JWMSIM_PROGRESS", raising=False)
    bar = progress_bar(total=3, file=Tty())
    assert isinstance(bar, tqdm) and not isinstance(bar, LineProgress)
    bar.close()
    monkeypatch.setenv("JWMSIM_PROGRESS", "lines")
    assert isinstance(progress_bar(total=3, file=Tty()), LineProgress)


def test_a_postfix_does_not_force_lines_into_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training loops set a postfix every step; in a log file that must not write a line each time."""
    monkeypatch.delenv("JWMSIM_PROGRESS", raising=False)
    out = io.StringIO()
    bar = progress_bar(total=500, desc="train", file=out)
    for step in range(500):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.4f}")
    bar.close()
    lines = [line for line in out.getvalue().splitlines() if line]
    assert 1 <= len(lines) <= 3
    assert "loss=0.0020" in lines[-1]
