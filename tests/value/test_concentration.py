"""The 80/20 question on tiny hand-made lists."""

import numpy as np
import pandas as pd
import pytest

from cvm.errors import SchemaError
from cvm.value.concentration import customers_for_share, gini, lorenz_curve
from cvm.service import concentration


def test_eighty_twenty_on_ten_customers():
    # values 50, 20, 10, 5, 5, 4, 3, 1, 1, 1 (total 100); running top sum 50, 70, 80 -> 3 customers reach 80 %
    values = [1, 50, 3, 5, 20, 1, 10, 4, 5, 1]
    frame = pd.DataFrame({"customer_id": list("abcdefghij"), "clv": values, "historic_value": [10] * 10})
    r = concentration(frame, column="clv")
    assert r.customers_needed == 3
    assert r.customer_share == pytest.approx(0.3)
    assert r.total == pytest.approx(100.0)
    # equal historic values: 80 % needs 8 of 10 customers and the Gini is 0
    assert r.by_column["historic_value"]["customers_needed"] == 8
    assert r.by_column["historic_value"]["gini"] == pytest.approx(0.0)
    assert list(r.top["customer_id"][:3]) == ["b", "e", "g"]
    assert r.top["cumulative_share"].iloc[2] == pytest.approx(0.8)


def test_exactly_at_the_boundary_and_just_over():
    # 40 + 40 = 80 exactly -> 2 customers; with 40 + 39.9 the third is needed
    assert customers_for_share([40, 40, 10, 10]) == 2
    assert customers_for_share([40, 39.9, 10.1, 10]) == 3


def test_gini_by_hand():
    # x = 1, 2, 3, 4 (ascending): G = 2 * (1*1 + 2*2 + 3*3 + 4*4) / (4 * 10) - 5/4 = 60/40 - 1.25 = 0.25
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)
    # one customer holds everything among n = 5: G = (n - 1) / n = 0.8
    assert gini([0, 0, 0, 0, 7]) == pytest.approx(0.8)


def test_lorenz_points_and_area_match_gini():
    values = [4, 1, 3, 2]
    curve = lorenz_curve(values, points=None)
    # ascending cumulative shares 0, 1/10, 3/10, 6/10, 10/10
    assert np.allclose(curve["value_share"], [0, 0.1, 0.3, 0.6, 1.0])
    area = np.trapezoid(curve["value_share"], curve["customer_share"])
    assert 1 - 2 * area == pytest.approx(gini(values))


def test_unknown_column_is_a_schema_error():
    with pytest.raises(SchemaError):
        concentration(pd.DataFrame({"customer_id": ["a"], "clv": [1.0]}), column="nope")
