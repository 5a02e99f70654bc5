"""The lifetimes-compatible summary reads a CSV or Parquet path directly, with lifetimes' numbers."""

import warnings

import pandas as pd
import pytest

from cvm.data.simulate import write_transactions
from cvm.data.summary import summary_data_from_transaction_data


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("summary-files")
    csv, parquet = folder / "tx.csv", folder / "tx.parquet"
    write_transactions(csv, n_customers=300, seed=21)
    write_transactions(parquet, n_customers=300, seed=21, format="parquet")
    return csv, parquet


@pytest.mark.parametrize("freq", ["D", "W"])
def test_file_paths_give_lifetimes_numbers(files, freq):
    from lifetimes.utils import summary_data_from_transaction_data as lifetimes_summary

    csv, parquet = files
    frame = pd.read_csv(csv, parse_dates=["ts"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = lifetimes_summary(frame, "customer_id", "ts", monetary_value_col="amount", freq=freq)
    for source in (csv, str(parquet)):
        got = summary_data_from_transaction_data(source, "customer_id", "ts", monetary_value_col="amount", freq=freq)
        got.index = got.index.astype(str)
        joined = expected.join(got.add_suffix("_cvm"), how="outer")
        assert len(joined) == len(expected) == len(got)
        for col in ("frequency", "recency", "T", "monetary_value"):
            pd.testing.assert_series_equal(joined[f"{col}_cvm"], joined[col], check_names=False, rtol=1e-9)


def test_missing_file_and_column_are_clear_errors(files, tmp_path):
    from cvm.errors import SchemaError

    with pytest.raises(SchemaError, match="file not found"):
        summary_data_from_transaction_data(tmp_path / "nope.csv", "customer_id", "ts")
    with pytest.raises(SchemaError, match="no column 'klant'"):
        summary_data_from_transaction_data(files[0], "klant", "ts")
