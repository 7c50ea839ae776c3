"""Objectives by name, and the minimised value ordering trials exactly as (metric, TTC margin)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwmsim.errors import ConfigError
from jwmsim.search.objective import MARGIN_HORIZON, metric_names, objective_by_name


def test_every_registry_metric_and_the_margin_can_be_the_objective() -> None:
    from jwmsim.sim import EPISODE_METRICS

    assert set(metric_names()) == set(EPISODE_METRICS.names()) | {"ttc_margin"}
    assert objective_by_name("pdms").sign == 1.0
    assert objective_by_name("collision").higher_is_worse
    assert objective_by_name("pdms").describe() == "lowest pdms, ties broken by the smallest ttc_margin"


def test_an_unknown_objective_names_the_closest_metric() -> None:
    with pytest.raises(ConfigError, match="unknown objective 'pdsm' \\(did you mean 'pdms'\\?\\)") as err:
        objective_by_name("pdsm")
    assert err.value.exit_code == 2 and "hd_score" in (err.value.hint or "")


metric = st.integers(0, 1_000_000).map(lambda i: i / 1_000_000)  # metrics are recorded to 6 decimals
margin = st.integers(0, int(MARGIN_HORIZON * 1_000_000)).map(lambda i: i / 1_000_000)  # recorded to 6 too


@given(metric, margin, metric, margin, st.sampled_from(["pdms", "hd_score", "collision", "neuroncap"]))
def test_the_value_orders_like_metric_then_margin(
    m1: float, g1: float, m2: float, g2: float, name: str
) -> None:
    obj = objective_by_name(name)
    scale = 5.0 if name == "neuroncap" else 1.0
    m1, m2 = m1 * scale, m2 * scale
    v1, v2 = obj.value(m1, g1), obj.value(m2, g2)
    k1, k2 = obj.worst_first(m1, g1, 0)[:2], obj.worst_first(m2, g2, 0)[:2]
    if k1 < k2:
        assert v1 < v2
    elif k1 > k2:
        assert v1 > v2
    else:
        assert v1 == v2


def test_collision_is_worst_at_one() -> None:
    obj = objective_by_name("collision")
    assert obj.value(1.0, 3.0) < obj.value(0.0, 0.0)
