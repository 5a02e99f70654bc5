"""The classic CLV formula of the brief (seed 001), checked against hand computation.

CLV = GC * sum_{i=1..N} r^i/(1+d)^i - M * sum_{i=1..N} r^(i-1)/(1+d)^(i-0.5)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.models.formula import break_even_retention_cost, classic_clv, clv_table, required_retention


def test_worked_example_term_by_term():
    # GC = 100, M = 10, N = 3, r = 0.8, d = 0.1
    # contribution: 100 * (0.8/1.1 + 0.64/1.21 + 0.512/1.331)
    #             = 100 * (0.727273 + 0.528926 + 0.384673) = 164.0872
    # cost:         10 * (1/1.1^0.5 + 0.8/1.1^1.5 + 0.64/1.1^2.5)
    #             = 10 * (0.953463 + 0.693427 + 0.504311) = 21.5120
    # CLV = 164.0872 - 21.5120 = 142.5751
    by_hand = 100 * (0.8 / 1.1 + 0.64 / 1.21 + 0.512 / 1.331) - 10 * (1 / 1.1**0.5 + 0.8 / 1.1**1.5 + 0.64 / 1.1**2.5)
    assert classic_clv(gc=100, m=10, n=3, r=0.8, d=0.1) == pytest.approx(by_hand, rel=1e-12)
    assert classic_clv(100, 10, 3, 0.8, 0.1) == pytest.approx(142.5751, abs=1e-4)


def test_simple_cases_by_hand():
    # one year, full retention, no discounting: 100 earned, 10 spent -> 90
    assert classic_clv(100, 10, 1, 1.0, 0.0) == pytest.approx(90.0)
    # nobody is retained: no contribution, only the first mid-year cost 10/1.05^0.5
    assert classic_clv(100, 10, 5, 0.0, 0.05) == pytest.approx(-10 / 1.05**0.5)
    # r = 1, d = 0: N years of (GC - M)
    assert classic_clv(50, 20, 7, 1.0, 0.0) == pytest.approx(7 * 30)
    # M = 0, r/(1+d) = 1/2, N = 2: 100 * (1/2 + 1/4) = 75
    assert classic_clv(100, 0, 2, 0.55, 0.1) == pytest.approx(75.0)


def test_any_argument_may_be_an_array():
    r = np.array([0.6, 0.8, 0.9])
    values = classic_clv(100, 10, 3, r, 0.1)
    assert values.shape == (3,)
    assert values == pytest.approx([classic_clv(100, 10, 3, x, 0.1) for x in r])
    n = np.array([1, 3, 10])
    assert classic_clv(100, 10, n, 0.8, 0.1) == pytest.approx([classic_clv(100, 10, k, 0.8, 0.1) for k in n])
    grid = classic_clv(np.array([[100.0], [200.0]]), 10, 3, 0.8, np.array([0.05, 0.1, 0.2]))
    assert grid.shape == (2, 3)


def test_required_retention_inverts_the_formula():
    for r in (0.35, 0.6, 0.8, 0.97):
        target = classic_clv(100, 10, 5, r, 0.08)
        assert required_retention(target, gc=100, m=10, n=5, d=0.08) == pytest.approx(r, abs=1e-9)
    # a target already met with no retention at all needs r = 0
    assert required_retention(-100, gc=100, m=10, n=5, d=0.08) == 0.0


def test_unreachable_target_is_a_clear_error():
    best = classic_clv(100, 10, 3, 1.0, 0.1)
    with pytest.raises(SchemaError, match="no retention rate reaches") as err:
        required_retention(best + 1, gc=100, m=10, n=3, d=0.1)
    assert f"{best:.4g}" in str(err.value)


def test_break_even_cost_gives_zero_clv():
    m_star = break_even_retention_cost(100, 3, 0.8, 0.1)
    # by hand: 100 * 1.640872 / 2.151201 = 76.277
    assert m_star == pytest.approx(76.277, abs=1e-3)
    assert classic_clv(100, m_star, 3, 0.8, 0.1) == pytest.approx(0.0, abs=1e-9)
    assert classic_clv(100, m_star * 1.01, 3, 0.8, 0.1) < 0 < classic_clv(100, m_star * 0.99, 3, 0.8, 0.1)
    many = break_even_retention_cost(100, 3, np.array([0.5, 0.9]), 0.1)
    assert many.shape == (2,) and many[0] < many[1]


def test_table_has_retention_rows_and_discount_columns():
    table = clv_table(100, 10, 3, [0.6, 0.8], [0.05, 0.1])
    assert isinstance(table, pd.DataFrame)
    assert table.index.name == "retention_rate" and table.columns.name == "discount_rate"
    assert table.loc[0.8, 0.1] == pytest.approx(classic_clv(100, 10, 3, 0.8, 0.1))
    assert table.loc[0.6, 0.05] == pytest.approx(classic_clv(100, 10, 3, 0.6, 0.05))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(r=1.2), "between 0 and 1"),
        (dict(r=-0.1), "between 0 and 1"),
        (dict(d=-1.0), "greater than -1"),
        (dict(n=0), "positive whole number"),
        (dict(n=2.5), "positive whole number"),
        (dict(m=-5), "must not be negative"),
        (dict(gc="lots"), "must be a number"),
        (dict(gc=float("nan")), "finite"),
    ],
)
def test_bad_inputs_are_clear_errors(kwargs, message):
    args = dict(gc=100, m=10, n=3, r=0.8, d=0.1) | kwargs
    with pytest.raises(SchemaError, match=message):
        classic_clv(**args)
