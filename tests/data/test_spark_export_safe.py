"""The Spark engine's CSV output is safe to open, like every other CSV cvm writes (tests/test_exports_safe.py)."""

from __future__ import annotations

import csv

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore::FutureWarning")]

IDS = ["=1+1", '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "+1", "@SUM(1)", "\t=1", "-2", "K1"]


def test_spark_csv_prefixes_formula_texts_and_keeps_numbers(spark, tmp_path):
    from cvm.data.spark.output import write_scores

    frame = spark.createDataFrame([(cid, -1.5 * k, "=gold") for k, cid in enumerate(IDS)],
                                  "customer_id string, clv double, value_tier string")
    out = tmp_path / "scores.csv"
    write_scores(frame.coalesce(1), str(out))
    rows = []
    for part in sorted(out.glob("part-*.csv")):
        with open(part, newline="", encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    expected = {("'" + c if c[:1] in "=+-@\t" else c) for c in IDS}
    assert {r["customer_id"] for r in rows} == expected
    assert {r["value_tier"] for r in rows} == {"'=gold"}
    assert sorted(float(r["clv"]) for r in rows) == sorted(-1.5 * k for k in range(len(IDS)))  # numbers, no quote
    # and read back by the engine itself (its aggregates read the written scores) to the same texts
    from cvm.data.spark.output import read_scores

    back = read_scores(spark, str(out), frame.schema).collect()
    assert {r["customer_id"] for r in back} == expected and {r["value_tier"] for r in back} == {"'=gold"}
    # Parquet is data for programs: unchanged
    write_scores(frame, str(tmp_path / "scores.parquet"))
    assert sorted(r["customer_id"] for r in spark.read.parquet(str(tmp_path / "scores.parquet")).collect()) == sorted(IDS)
