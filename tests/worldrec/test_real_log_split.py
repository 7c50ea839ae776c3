"""The out-of-sample rule: training reads the real log's frames 0-39 only; frames 40-59 are a new
log, scored on every 4th frame."""

from __future__ import annotations

import pytest

from jwmsim.logs.real_log_split import (
    REAL_LOG_NAME,
    RealLogSplitError,
    check_training_frames,
    is_new_log_heldout,
)


def test_training_refuses_a_frame_of_40_59() -> None:
    check_training_frames(REAL_LOG_NAME, range(40))
    for frame in (40, 47, 59):
        with pytest.raises(RealLogSplitError, match=f"frames \\[{frame}\\]"):
            check_training_frames(REAL_LOG_NAME, [3, frame])
    check_training_frames("scene-town-0120", range(100))  # other logs: no rule


def test_new_log_heldout_is_every_4th() -> None:
    assert [i + 40 for i in range(20) if is_new_log_heldout(i)] == [42, 46, 50, 54, 58]


def test_make_source_on_the_real_log_reads_nothing_after_frame_39(pandaset_log) -> None:
    from jwmsim.logs.real_log_split import boundary_time, new_log
    from jwmsim.worldrec.training.data import make_source

    src = make_source("real", pandaset_log, (18, 32), None, real=True)
    t40 = boundary_time(pandaset_log)
    assert src.cache.num_frames == 35  # frames 0-39 without 4, 12, 20, 28, 36
    assert src.cache.times.max() < t40
    assert src.cache.lidar and max(s.time for s in src.cache.lidar) < t40
    assert all(tr.end < t40 for tr in src.cache.tracks.values())
    fresh = new_log(pandaset_log)
    assert {len(f) for f in fresh.frames.values()} == {20}
    assert min(f.time for fs in fresh.frames.values() for f in fs) == 0.0


def test_real_log_with_frames_past_39_is_refused_by_the_data_code(monkeypatch, pandaset_log) -> None:
    import jwmsim.worldrec.training.data as data

    monkeypatch.setattr(data, "training_part", lambda segment: segment)  # the cut removed ...
    with pytest.raises(RealLogSplitError, match="may not read frames"):  # ... the assertion still holds
        data.make_source("real", pandaset_log, (18, 32), None, real=True)
