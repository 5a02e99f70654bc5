"""lifetimes.datasets: the example data, read from the files cvm ships (:data:`cvm.data.datasets.DATASETS`)."""

from __future__ import annotations

import pandas as pd

from cvm.data.datasets import DATASETS


def load_dataset(filename: str, **kwargs) -> pd.DataFrame:
    """Read one of the bundled files with ``pandas.read_csv(path, **kwargs)``."""
    path = DATASETS / filename
    if not path.is_file():
        raise ValueError(f"cvm ships no data set named {filename!r}; it has "
                         + ", ".join(sorted(p.name for p in DATASETS.iterdir() if p.is_file())))
    return pd.read_csv(path, **kwargs)


def load_donations(**kwargs) -> pd.DataFrame:
    """The BG/BB donations data: ``frequency, recency, periods, weights`` (Fader, Hardie & Shang 2010)."""
    return load_dataset("donations.csv", **kwargs)


def load_cdnow_summary(**kwargs) -> pd.DataFrame:
    """The CDNOW sample's 39-week summary ``ID, frequency, recency, T`` (weeks)."""
    return load_dataset("cdnow_customers_summary.csv", **kwargs)


def load_transaction_data(**kwargs) -> pd.DataFrame:
    """lifetimes' simulated transaction log ``date, id`` (2014), as text dates."""
    return load_dataset("example_transactions.csv", **kwargs)


def load_cdnow_summary_data_with_monetary_value(**kwargs) -> pd.DataFrame:
    """The CDNOW sample's summary with mean repeat spend: ``frequency, recency, T, monetary_value``
    indexed by ``customer_id``."""
    frame = load_dataset("cdnow_customers_summary_with_transactions.csv", **kwargs)
    frame.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return frame.set_index("customer_id")


__all__ = ["load_cdnow_summary", "load_cdnow_summary_data_with_monetary_value", "load_dataset", "load_donations",
           "load_transaction_data"]
