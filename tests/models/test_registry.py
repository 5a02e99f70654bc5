"""The model registry: one entry per model, data columns and predictions read from the classes."""

from __future__ import annotations

import pytest

import cvm.models
from cvm.errors import SchemaError
from cvm.models.registry import MODELS, PURCHASE_MODELS, label, names, short_name, spec


def test_every_entry_names_a_model_class_with_its_columns_and_predictions():
    for entry in MODELS.values():
        cls = entry.cls
        assert cls.__name__ == entry.class_name and entry.data_columns == tuple(cls.data_columns)
        assert entry.predicts, entry.name
    # what each kind offers, written out by hand from the models' papers
    purchase = {"probability_alive", "expected_purchases", "expected_purchases_new", "purchase_probability",
                "discounted_expected_purchases"}
    for name in ("bgnbd", "mbgnbd", "pnbd", "bgbb", "nbd", "poisson"):
        assert spec(name).predicts == purchase, name
    assert spec("gg").predicts == {"expected_spend"}
    assert spec("sbg").predicts == {"survival", "churn_probability", "retention_rate",
                                    "discounted_expected_residual_lifetime"}


def test_names_by_kind_and_lookups():
    assert PURCHASE_MODELS == ("bgnbd", "mbgnbd", "pnbd")
    assert names() == ("bgnbd", "mbgnbd", "pnbd", "bgbb", "sbg", "gg")
    assert names("limit") == ("nbd", "poisson") and names("spend") == ("gg",)
    assert spec("ParetoNBD") is spec("pnbd") is spec("PNBD")
    assert label("pnbd") == label("ParetoNBD") == "Pareto/NBD" and label("something") == "something"
    assert short_name(cvm.models.BGNBD()) == "bgnbd" and short_name(cvm.models.NBD) == "nbd"
    with pytest.raises(SchemaError, match="unknown model 'nonsense'"):
        spec("nonsense")


