"""The bundled example data sets.

* **CDNOW** (Fader, Hardie and Lee 2005): customers of the online CD retailer who made a
  first purchase in the first 12 weeks of 1997, followed to the end of June 1998.
  ``CDNOW_sample.txt`` is the 1/10th sample of 2,357 customers used in the BG/NBD and
  Pareto/NBD papers (columns: customer id, sample id, date yyyymmdd, number of CDs, dollar
  value); ``CDNOW_master.txt`` holds all 23,570 customers (with a header line).
  ``cdnow_customers_summary.csv`` is the sample's 39-week calibration summary
  (frequency, recency, T in weeks).
* **Donations** (Fader, Hardie and Shang 2010): repeat-donation histories of the 1995
  cohort of a non-profit over six annual opportunities, as (frequency, recency, periods,
  weights) — the BG/BB example.
* ``cdnow_customers_summary_with_transactions.csv`` (the CDNOW sample's summary with mean
  repeat spend ``zbar``) and ``example_transactions.csv`` (a simulated log of ``date, id``
  over 2014), as lifetimes 0.11.3 ships them (MIT licence), for
  :mod:`cvm.compat.lifetimes.datasets`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATASETS = Path(__file__).resolve().parent / "datasets"


def cdnow_path(master: bool = False) -> Path:
    """Path of the bundled CDNOW transaction file (the 2,357-customer sample unless ``master``)."""
    return DATASETS / ("CDNOW_master.txt" if master else "CDNOW_sample.txt")


def load_cdnow_transactions(master: bool = False) -> pd.DataFrame:
    """CDNOW transactions as ``customer_id, ts, amount, cds`` (one row per line of the file).

    Amounts are in US dollars; ``ts`` is the purchase date (midnight). Customer ids keep
    their leading zeros (``"00004"``). The sample also has ``sample_id`` (1..2,357), the
    ``ID`` of :func:`load_cdnow_summary`.
    """
    import duckdb

    path = cdnow_path(master)
    skip = 1 if master else 0
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        # the files are space-aligned: collapse runs of spaces, then split
        frame = con.execute(
            f"WITH lines AS (SELECT string_split(trim(regexp_replace(line, '\\s+', ' ', 'g')), ' ') AS f "
            f"FROM read_csv(?, columns={{'line': 'VARCHAR'}}, delim='\\x01', header=false, quote='', escape='', "
            f"skip={skip}) WHERE trim(line) <> '') "
            f"SELECT f[1] AS customer_id, strptime(f[{3 if not master else 2}], '%Y%m%d') AS ts, "
            f"CAST(f[{5 if not master else 4}] AS DOUBLE) AS amount, CAST(f[{4 if not master else 3}] AS BIGINT) AS cds"
            f"{'' if master else ', CAST(f[2] AS BIGINT) AS sample_id'} FROM lines", [str(path)]).df()
    finally:
        con.close()
    return frame.sort_values(["customer_id", "ts"], kind="stable").reset_index(drop=True)


def load_cdnow_summary() -> pd.DataFrame:
    """The CDNOW sample's 39-week calibration summary, indexed by customer ``ID``.

    Columns ``frequency, recency, T`` (weeks) — the data of the BG/NBD paper's estimates
    r = 0.243, alpha = 4.414, a = 0.793, b = 2.426.
    """
    return pd.read_csv(DATASETS / "cdnow_customers_summary.csv", index_col="ID")


def load_donations() -> pd.DataFrame:
    """The BG/BB donations data: ``frequency, recency, periods, weights`` (11,104 donors)."""
    return pd.read_csv(DATASETS / "donations.csv")
