"""Summaries: the published CDNOW figures, a plain-Python reference, and lifetimes as an oracle."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvm.data import (
    calibration_and_holdout_data,
    cohort_survival,
    compress_summary,
    discrete_summary,
    load_cdnow_summary,
    load_cdnow_transactions,
    load_donations,
    summary_data_from_transaction_data,
    workspace_summary,
)
from cvm.errors import SchemaError


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_transactions()


# ----------------------------------------------------------------------------- CDNOW, published figures
def test_cdnow_calibration_and_holdout_figures(cdnow):
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", section 4:
    # 2,357 customers; 1,411 made no repeat purchase in the 39-week calibration (1997-01-01..09-30);
    # 2,457 repeat transactions in calibration; 4,339 cumulative by week 78 (1998-06-30).
    # Repeat transactions are counted per customer-day (several lines on one day are one purchase).
    s = workspace_summary(cdnow, calibration_end="1997-09-30", holdout_end="1998-06-30", time_unit="week")
    assert len(s) == 2357
    assert int((s["frequency"] == 0).sum()) == 1411
    assert int(s["frequency"].sum()) == 2457
    assert int(s["frequency"].sum() + s["frequency_holdout"].sum()) == 4339
    assert s["duration_holdout"].iloc[0] == pytest.approx(39.0)
    # counting transaction lines instead would not give the published numbers (the day rule matters)
    cal = cdnow[cdnow["ts"] <= "1997-09-30"]
    assert int((cal.groupby("customer_id").size() - 1).sum()) > 2457


def test_cdnow_summary_equals_the_bundled_calibration_summary(cdnow):
    s = workspace_summary(cdnow, as_of="1997-09-30", time_unit="week")
    ref = load_cdnow_summary()
    assert len(ref) == len(s)
    # the bundled file is indexed by the sample id and rounded to 2 decimals
    ids = cdnow.drop_duplicates("customer_id").set_index("customer_id")["sample_id"]
    s = s.set_index(ids.loc[s.index].to_numpy()).sort_index()
    assert list(s.index) == list(ref.index)
    np.testing.assert_array_equal(s["frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_allclose(s["recency"].to_numpy(), ref["recency"].to_numpy(), atol=0.006)
    np.testing.assert_allclose(s["T"].to_numpy(), ref["T"].to_numpy(), atol=0.006)


def test_workspace_summary_via_ingest_and_channel(ws, cdnow):
    frame = cdnow.assign(channel=np.where(cdnow["cds"] > 1, "multi", "single"))
    report = ws.ingest(frame)
    assert report.accepted + report.duplicates == len(cdnow)
    s = ws.summary(as_of="1997-09-30", time_unit="week")
    # duplicates (same customer, day, amount, no order id) only matter for amounts, not day counts
    assert len(s) == 2357 and int(s["frequency"].sum()) == 2457
    multi = ws.summary(time_unit="day", channel="multi")
    ref = workspace_summary(frame[frame["channel"] == "multi"], time_unit="day")
    assert len(multi) == len(ref)
    with pytest.raises(SchemaError):
        ws.summary(channel="nope")


# ----------------------------------------------------------------------------- reference implementation
UNITS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


def reference_summary(log, end, unit="week", period="day"):
    """Plain Python: the rules written out one customer at a time.

    A negative amount is a return (issue 11): it makes no purchase period; without an order id
    (these logs have none) it is taken off the customer's repeat spend. A customer with only
    returns is not a buyer and has no row.
    """
    p_days = UNITS[period]
    out = {}
    by_customer = {}
    returned = {}
    for cid, ts, amount in log:
        if ts.date() <= end:
            if amount < 0:
                returned[cid] = returned.get(cid, 0.0) + amount
            else:
                by_customer.setdefault(cid, []).append((ts.date(), amount))
    for cid, rows in by_customer.items():
        first = min(d for d, _ in rows)
        spend = {}
        for d, amount in rows:
            k = math.floor((d - first).days / p_days)
            spend[k] = spend.get(k, 0.0) + amount
        ks = sorted(spend)
        x = len(ks) - 1
        if period == "day":
            recency = (max(d for d, _ in rows) - first).days / UNITS[unit]
            T = (end - first).days / UNITS[unit]
        else:
            recency = ks[-1] * p_days / UNITS[unit]
            T = math.floor((end - first).days / p_days) * p_days / UNITS[unit]
        money = (sum(spend[k] for k in ks[1:]) + returned.get(cid, 0.0)) / x if x else 0.0
        out[cid] = (float(x), recency, T, money)
    return out


logs = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]),
              st.datetimes(min_value=dt.datetime(2023, 1, 1), max_value=dt.datetime(2024, 12, 31)),
              st.floats(min_value=-50, max_value=500, allow_nan=False).map(lambda v: round(v, 2))),
    min_size=1, max_size=40)


def as_frame(log):
    return pd.DataFrame(log, columns=["customer_id", "ts", "amount"])


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs, unit=st.sampled_from(list(UNITS)), period=st.sampled_from(["day", "week", "month"]),
       end_offset=st.integers(min_value=-200, max_value=30))
def test_sql_summary_equals_python_reference(log, unit, period, end_offset):
    last = max(ts for _, ts, _ in log).date()
    end = last + dt.timedelta(days=end_offset)
    if min(ts for _, ts, _ in log).date() > end:
        end = last
    got = workspace_summary(as_frame(log), as_of=end, time_unit=unit, period=period)
    ref = reference_summary(log, end, unit, period)
    assert sorted(got.index) == sorted(ref)
    for cid, values in ref.items():
        row = got.loc[cid]
        np.testing.assert_allclose([row["frequency"], row["recency"], row["T"], row["monetary_value"]], values,
                                   rtol=1e-9, atol=1e-9)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs, freq=st.sampled_from(["D", "W", "h"]), multiplier=st.sampled_from([1, 7]),
       include_first=st.booleans())
def test_equals_lifetimes_summary_data_from_transaction_data(log, freq, multiplier, include_first):
    from lifetimes.utils import summary_data_from_transaction_data as lifetimes_summary

    frame = as_frame(log)
    end = frame["ts"].max()
    ours = summary_data_from_transaction_data(frame, "customer_id", "ts", "amount", observation_period_end=end,
                                              freq=freq, freq_multiplier=multiplier,
                                              include_first_transaction=include_first)
    theirs = lifetimes_summary(frame, "customer_id", "ts", "amount", observation_period_end=end, freq=freq,
                               freq_multiplier=multiplier, include_first_transaction=include_first)
    theirs = theirs.sort_index()
    assert list(ours.columns) == list(theirs.columns)
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-9)


def test_equals_lifetimes_calibration_and_holdout_on_cdnow(cdnow):
    from lifetimes.utils import calibration_and_holdout_data as lifetimes_cal_holdout

    kwargs = dict(calibration_period_end="1997-09-30", observation_period_end="1998-06-30", freq="D",
                  freq_multiplier=7, monetary_value_col="amount")
    ours = calibration_and_holdout_data(cdnow, "customer_id", "ts", **kwargs)
    theirs = lifetimes_cal_holdout(cdnow, "customer_id", "ts", **kwargs).sort_index()
    assert list(ours.columns) == list(theirs.columns) and list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-9, atol=1e-9)


def test_lifetimes_compatible_summary_with_string_dates_and_default_end():
    from lifetimes.utils import summary_data_from_transaction_data as lifetimes_summary

    frame = pd.DataFrame({"id": [1, 1, 2, 2, 2], "date": ["2024-01-01", "2024-01-09", "2024-01-03", "2024-01-03",
                                                          "2024-02-10"], "value": [1.0, 2.0, 3.0, 4.0, 5.0]})
    ours = summary_data_from_transaction_data(frame, "id", "date", "value", freq="D")
    theirs = lifetimes_summary(frame, "id", "date", "value", freq="D")
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy())
    with pytest.raises(SchemaError, match="freq"):
        summary_data_from_transaction_data(frame, "id", "date", freq="Q")


# ----------------------------------------------------------------------------- compression, BG/BB, sBG
def test_compress_summary_counts_identical_histories(cdnow):
    s = workspace_summary(cdnow, as_of="1997-09-30", time_unit="week")
    c = compress_summary(s, ["frequency", "recency", "T"])
    assert c["weights"].sum() == len(s)
    assert len(c) == len(s.drop_duplicates(["frequency", "recency", "T"]))
    twice = compress_summary(pd.concat([c, c]))
    assert twice["weights"].sum() == 2 * len(s)


def test_discrete_summary_reproduces_the_donations_table():
    # rebuild a transaction log from the BG/BB donations data (Fader, Hardie & Shang 2010):
    # first gift in 1995, then x gifts in the years 1996..2001 with the last in 1995 + t_x
    donations = load_donations()
    rows = []
    cid = 0
    for x, tx, n, w in donations[["frequency", "recency", "periods", "weights"]].itertuples(index=False):
        years = [1995] + [1995 + tx - i for i in range(x)]
        for _ in range(w):
            cid += 1
            rows += [(f"d{cid}", dt.datetime(y, 3, 1)) for y in years]
    log = pd.DataFrame(rows, columns=["customer_id", "ts"])
    s = discrete_summary(log, as_of="2001-12-31", time_unit="year")
    got = compress_summary(s, ["frequency", "recency", "n_periods"])
    want = donations.rename(columns={"periods": "n_periods"}).sort_values(["frequency", "recency"])
    np.testing.assert_array_equal(got[["frequency", "recency", "n_periods", "weights"]].to_numpy(),
                                  want[["frequency", "recency", "n_periods", "weights"]].to_numpy())


def test_cohort_survival_hand_computed():
    log = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "d"],
        "ts": pd.to_datetime(["2020-02-01", "2022-05-01", "2020-07-01", "2020-01-01", "2021-01-01", "2021-03-01"]),
    })
    s = cohort_survival(log, as_of="2022-06-30", time_unit="year")
    # cohort 2020: a (active to 2022), b (2020 only), c (to 2021) -> alive 3, 2, 1 in years 0, 1, 2
    c2020 = s[s["cohort"] == "2020-01-01"]
    assert c2020["alive"].tolist() == [3, 2, 1] and c2020["cohort_size"].iloc[0] == 3
    # cohort 2021: d only, observed for years 0 and 1
    assert s[s["cohort"] == "2021-01-01"]["alive"].tolist() == [1, 0]


def test_bad_summary_arguments(cdnow):
    with pytest.raises(SchemaError):
        workspace_summary(cdnow, time_unit="fortnight")
    with pytest.raises(SchemaError):
        workspace_summary(cdnow, calibration_end="1998-01-01", holdout_end="1997-01-01")
    with pytest.raises(SchemaError):
        workspace_summary(cdnow, as_of="not a date")
    with pytest.raises(SchemaError):
        workspace_summary(pd.DataFrame({"klant": [1]}))


# ----------------------------------------------------------------------------- reproducibility
def _shuffled_connection(frame, threads, seed):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    con.execute("CREATE TABLE transactions AS SELECT * FROM shuffled")
    return con


def test_summaries_are_bit_for_bit_the_same_whatever_the_row_order_and_threads(tmp_path):
    # A sum of doubles depends on the order the rows arrive in, and DuckDB's threads deliver them in a
    # different order from run to run: a fit on such sums moved by 1e-9 between two runs (CI, 2026-11-23).
    # Money is summed exactly, so the same transactions must give identical bits, however they are stored.
    rng = np.random.default_rng(5)
    n = 150_000
    frame = pd.DataFrame({
        "customer_id": [f"k{i}" for i in rng.integers(0, 25, n)],
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 40, n), unit="D"),
        # cents, and amounts that are not exact in binary floating point (1/3, 1/7 of a euro)
        "amount": np.where(rng.random(n) < 0.5, np.round(rng.gamma(2.0, 30.0, n), 2), rng.integers(1, 99, n) / 3.0),
    })
    summaries = []
    for threads, seed in [(1, 0), (2, 1), (4, 2)]:
        con = _shuffled_connection(frame, threads, seed)
        got = workspace_summary(con, time_unit="week", period="week")
        con.close()
        summaries.append(got)
    for other in summaries[1:]:
        for column in ("monetary_value", "total_amount"):
            assert np.array_equal(summaries[0][column].to_numpy(), other[column].to_numpy()), column
    # and the exact sums are the sums: total spend per customer against Python's exactly rounded fsum
    by_customer = frame.groupby("customer_id")["amount"].apply(lambda a: math.fsum(np.round(a, 6)))
    np.testing.assert_allclose(summaries[0]["total_amount"], by_customer.loc[summaries[0].index], rtol=1e-15)
    # the lifetimes-compatible path reads the same way
    paths = []
    for seed in (3, 4):
        path = tmp_path / f"log{seed}.csv"
        frame.sample(frac=1.0, random_state=seed).to_csv(path, index=False)
        paths.append(summary_data_from_transaction_data(path, "customer_id", "ts", monetary_value_col="amount"))
    assert np.array_equal(paths[0]["monetary_value"].to_numpy(), paths[1]["monetary_value"].to_numpy())


# ----------------------------------------------------------------------------- margins in the summary's scan
def separate_margins(frame: pd.DataFrame, as_of: str, default_margin: float) -> dict:
    """Plain-pandas reference: per customer (ordered by id) with a row up to and including ``as_of``, the
    revenue and the margin (the row's margin, else amount × default) summed in whole millionths.

    Rounding half away from zero, as DuckDB's ``round`` (no amount here lies on a half-millionth).
    """
    rows = frame[frame["ts"] < pd.Timestamp(as_of) + pd.Timedelta(days=1)]
    margin = rows["margin"] if "margin" in rows else pd.Series(np.nan, index=rows.index)
    micros = pd.DataFrame({
        "customer_id": rows["customer_id"].astype(str),
        "revenue": np.trunc(rows["amount"] * 1e6 + np.copysign(0.5, rows["amount"])),
        "historic_value": margin.fillna(rows["amount"] * default_margin).pipe(lambda m: np.trunc(m * 1e6 + np.copysign(0.5, m))),
    })
    sums = micros.groupby("customer_id", sort=True).sum()
    return {"customer_id": sums.index.to_list(), **{k: sums[k].to_numpy() / 1e6 for k in ("revenue", "historic_value")}}


def test_summary_with_margins_hand_computed_and_equal_to_a_plain_pandas_sum(ws):
    # Revenue = every amount of the customer (returns too); margin = the row's margin, else amount × 0.25.
    # a: 100 (margin 30) on Jan 1, 50 (no margin) and 20 (margin 5) on Jan 10, a return of -10 of order a2
    #    (attached to Jan 10): revenue 160, margin 30 + 12.5 + 5 - 2.5 = 45
    # b: 40 on Jan 2 and a return of -15 with no order id (loose): revenue 25, margin 10 - 3.75 = 6.25
    # c: only a return (-8): not a buyer, no row; d: 1/3 on Jan 3, after the as-of day 99: revenue 1/3 and
    #    margin 1/12, each summed in whole millionths (0.333333 and 0.083333)
    frame = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c", "d", "d"],
        "ts": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-01-10", "2024-01-12", "2024-01-02", "2024-01-05",
                              "2024-01-04", "2024-01-03", "2024-02-01"]),
        "amount": [100.0, 50.0, 20.0, -10.0, 40.0, -15.0, -8.0, 1 / 3, 99.0],
        "order_id": ["a1", "a2", "a3", "a2", "b1", None, "c1", "d1", "d2"],
        "margin": [30.0, None, 5.0, None, None, None, None, None, None],
    })
    ws.ingest(frame)
    summary, margins = ws.summary_with_margins(0.25, as_of="2024-01-31", time_unit="week")
    pd.testing.assert_frame_equal(summary, ws.summary(as_of="2024-01-31", time_unit="week"))
    assert summary.attrs["returns_only_customers"] == ["c"]
    assert margins["customer_id"].to_pylist() == list(summary.index) == ["a", "b", "d"]
    np.testing.assert_allclose(margins["revenue"], [160.0, 25.0, 0.333333], rtol=1e-15)
    np.testing.assert_allclose(margins["historic_value"], [45.0, 6.25, 0.083333], rtol=1e-15)
    separate = separate_margins(frame, "2024-01-31", 0.25)
    keep = [i for i, c in enumerate(separate["customer_id"]) if c != "c"]
    for key in ("revenue", "historic_value"):  # the same whole-millionth sums: equal to the bit
        assert np.array_equal(margins[key], separate[key][keep]), key


def test_summary_with_margins_without_returns_equals_a_plain_pandas_sum(ws, cdnow):
    # no returns: the margins ride in the per-day aggregation; the same whole-millionth sums as the separate query
    thirds = cdnow.assign(amount=cdnow["amount"] / 3.0)  # amounts not exact in binary floating point
    ws.ingest(thirds)
    summary, margins = ws.summary_with_margins(0.3, as_of="1997-12-31", time_unit="week")
    pd.testing.assert_frame_equal(summary, ws.summary(as_of="1997-12-31", time_unit="week"))
    separate = separate_margins(thirds, "1997-12-31", 0.3)
    assert margins["customer_id"].to_pylist() == separate["customer_id"]
    for key in ("revenue", "historic_value"):
        assert np.array_equal(margins[key], separate[key]), key
    np.testing.assert_allclose(margins["revenue"], summary["total_amount"], rtol=1e-15)
