"""Every adversarial file through both engines: the same outcome per file, or the difference named.

Each file of make_values.py, make_files.py and make_returns.py is read by the DuckDB ingest
(``Workspace.ingest``, what ``cvm run FILE`` does first) and by the Spark engine
(:func:`cvm.data.spark.summary.read_source` + :func:`cvm.data.spark.summary.check_transactions`,
what ``cvm run FILE --engine spark`` does first), in one local Spark session for the module. Per
file the outcome must be the same: the accepted transactions (customer, time, amount), the
quarantined rows (reason code and the values it cites; Spark has no source line numbers), the
counts (``rows_read = accepted + quarantined + duplicates``), or the same refusal. Where rows were
accepted, the summaries (frequency, recency, T, monetary_value per customer) must be equal too.

A file whose outcome differs would be listed in :data:`DIFFERENT` with why, and run as a strict
xfail (it fails the suite if it starts to agree, so the list stays true); the list is empty: the
files Spark's CSV reader reads otherwise than the DuckDB ingest (lines in cp1252, a quote never
closed, lone carriage returns) and the Excel workbooks are read again, or at once, by the ingest's
own reader (:mod:`cvm.data.spark.staged`). At the end, ``cvm run`` as a whole process on both engines, on files that
can be valued and on one that is refused.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from cvm.data import Workspace
from cvm.errors import CvmError

from . import make_files, make_returns, make_values

from tests.cli_helpers import finish

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

#: files whose outcome differs between the engines, and why (each a strict xfail below); none today: a file
#: that Spark's CSV reader reads otherwise than the DuckDB ingest (a line in another encoding, a quote never
#: closed, a lone carriage return) and an Excel workbook are read by the ingest's own reader
#: (cvm.data.spark.staged), so every file has the same outcome
DIFFERENT: dict[str, str] = {}


@dataclass
class Outcome:
    """What an engine made of a file."""

    accepted: list = field(default_factory=list)  # sorted (customer_id, ts, amount)
    quarantined: list = field(default_factory=list)  # sorted (reason_code, values as JSON with sorted keys)
    counts: dict = field(default_factory=dict)
    refused: str | None = None  # the error's code (or its class when it has none)
    summary: pd.DataFrame | None = None


def _row(customer, ts, amount):
    return (customer, pd.Timestamp(ts).isoformat(), round(float(amount), 9))


def _reason(code, values):
    cited = json.loads(values) if isinstance(values, str) else None
    return (code, json.dumps(cited, sort_keys=True, ensure_ascii=False))


def _summary_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["frequency", "recency", "T", "monetary_value"]].astype(float).sort_index()


def duckdb_outcome(path: Path, options: dict, folder: Path) -> Outcome:
    try:
        with Workspace.open(folder) as ws:
            report = ws.ingest(path, **options)
            con = ws.con
            accepted = sorted(_row(*r) for r in con.execute("SELECT customer_id, ts, amount FROM transactions").fetchall())
            quarantined = sorted(_reason(*r) for r in con.execute("SELECT reason_code, reason_values FROM quarantine").fetchall())
            summary = _summary_columns(ws.summary(time_unit="day")) if accepted else None
    except CvmError as exc:
        return Outcome(refused=exc.code or type(exc).__name__)
    counts = {k: getattr(report, k) for k in ("rows_read", "accepted", "quarantined", "duplicates")}
    return Outcome(accepted, quarantined, counts, summary=summary)


def spark_outcome(spark, path: Path, options: dict) -> Outcome:
    from cvm.data.spark.summary import check_transactions, read_source, summarise_spark

    try:
        raw, detected = read_source(str(path), spark)
        checked = check_transactions(raw, locale=options.get("locale"), delimiter=detected.get("delimiter"),
                                     instants_to_zone=detected.get("format") == "parquet")
        rows = checked.frame.cache()
        checked.frame = rows
        counts = checked.counts()
        counts.pop("reasons")
        accepted = sorted(_row(r["customer_id"], r["ts"], r["amount"]) for r in checked.accepted().collect())
        quarantined = sorted(_reason(r["reason_code"], r["reason_values"]) for r in checked.quarantined().collect())
        summary = None
        if accepted:
            summary = summarise_spark(checked.accepted(), time_unit="day", checked=True, spark=spark).toPandas()
            summary = _summary_columns(summary.set_index("customer_id"))
        rows.unpersist()
    except CvmError as exc:
        return Outcome(refused=exc.code or type(exc).__name__)
    return Outcome(accepted, quarantined, counts, summary=summary)


def assert_same(duck: Outcome, spark: Outcome) -> None:
    assert spark.refused == duck.refused
    if duck.refused:
        return
    assert spark.counts == duck.counts
    assert spark.counts["rows_read"] == spark.counts["accepted"] + spark.counts["quarantined"] + spark.counts["duplicates"]
    assert spark.quarantined == duck.quarantined
    assert spark.accepted == duck.accepted
    if duck.summary is None:
        assert spark.summary is None
    else:
        pd.testing.assert_frame_equal(spark.summary, duck.summary, check_exact=False, rtol=1e-12, atol=1e-12,
                                      check_index_type=False, check_names=False)


# ----------------------------------------------------------------------------- the corpus
def _corpus(folder: Path) -> dict[str, tuple[Path, dict]]:
    cases = {c.name: (c.path, dict(c.options)) for c in make_values.make(folder / "values")}
    for name, (path, _) in make_files.make_all(folder / "files").items():
        cases[name] = (path, {})
    for name, case in make_returns.make(folder / "returns").items():
        cases[f"returns_{name}"] = (case.path, {})
    return cases


def _corpus_names() -> list[str]:
    """The names of :func:`_corpus` in its order, without writing the big files (the file makers are named)."""
    with tempfile.TemporaryDirectory(prefix="cvm-engines-names-") as tmp:
        folder = Path(tmp)
        names = [c.name for c in make_values.make(folder / "values")]
        names += [make.__name__.removeprefix("make_") for make in make_files.MAKERS]
        names += [f"returns_{name}" for name in make_returns.make(folder / "returns")]
    return names


def _names() -> list:
    names = _corpus_names()
    params = []
    for name in names:
        marks = []
        if "40mb" in name:
            marks.append(pytest.mark.slow)
        if name in DIFFERENT:
            marks.append(pytest.mark.xfail(reason=DIFFERENT[name], strict=True))
        params.append(pytest.param(name, marks=marks))
    return params


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return _corpus(tmp_path_factory.mktemp("engines"))


@pytest.fixture(scope="module")
def spark_outcomes(request, spark, corpus):
    """Spark's outcome of every file this session selected, read once for the module.

    The files are small, so a job is mostly the driver's planning and scheduling: two
    files go through the one session at a time (Spark runs jobs of several threads side by
    side), which keeps both cores busy. An unexpected exception is kept and raised in the
    file's own test.
    """
    wanted = [name for name in corpus if any(
        getattr(item, "originalname", None) == "test_same_outcome_on_both_engines"
        and item.callspec.params.get("name") == name for item in request.session.items)]

    def one(name: str):
        path, options = corpus[name]
        try:
            return spark_outcome(spark, path, options)
        except Exception as exc:  # raised in the file's test, not here
            return exc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ThreadPoolExecutor(max_workers=2) as pool:
            return dict(zip(wanted, pool.map(one, wanted)))


@pytest.mark.parametrize("name", _names())
def test_same_outcome_on_both_engines(spark_outcomes, corpus, tmp_path, name):
    path, options = corpus[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        duck = duckdb_outcome(path, options, tmp_path / "ws")
    theirs = spark_outcomes[name]
    if isinstance(theirs, Exception):
        raise theirs
    assert_same(duck, theirs)


def test_the_corpus_is_covered(corpus, tmp_path):
    """Every file of the three makers is in the comparison (a new adversarial file joins it by itself)."""
    assert len(corpus) == len(make_files.MAKERS) + len(make_values.make(tmp_path / "v")) + \
        len(make_returns.make(tmp_path / "r"))
    assert set(DIFFERENT) <= set(corpus)
    assert list(corpus) == _corpus_names()  # the test ids name the files the tests read


# ----------------------------------------------------------------------------- the rules, value by value
AMOUNTS = ["12", "-3", "1 234", "12,50", "1.234,56", "0,125", "1.234.567", "12,-", "12.5", "1,234.56", "1,234,567",
           "1.234", "1,234", "abc", "€ 1.234,56", "-€ 12,50", "12,50-", "(12,50)", "1\u00a0234,56", "EUR 3,00",
           "−7,25", "+4,00", "$1,234.56", "(12.50)", "USD 3.00", "12.50-", "1'234.56", "1e5", "inf", "12d", ".5",
           ",5", "12.", "1.2.3", "--5", "€", "12 €", "1,2,3", "0x10", "١٢"]


def test_amount_kinds_and_values_are_the_same_sql_in_both_dialects(spark):
    """Each text through DuckDB's expressions (cvm.data.values) and their Spark rendering: the same kind and value."""
    import duckdb
    from pyspark.sql import functions as F

    from cvm.data import values
    from cvm.data.spark import rules

    marks = [values.decide_number_marks({"c": 1}), values.decide_number_marks({"d": 1}),
             values.decide_number_marks({}, delimiter=";"), values.decide_number_marks({})]
    with duckdb.connect() as con:
        duck = {}
        for i, m in enumerate(marks):
            rows = con.execute(
                f"SELECT v, k, {values.amount_value_sql('t', 'k', m)} FROM (SELECT v, t, {values.amount_kind_sql('t')} AS k "
                f"FROM (SELECT v, {values.amount_text_sql('v')} AS t FROM (SELECT unnest(?::VARCHAR[]) AS v)))",
                [AMOUNTS]).fetchall()
            duck.update({(i, v): (k, a) for v, k, a in rows})
    frame = spark.createDataFrame([(v,) for v in AMOUNTS], "v string")
    frame = frame.select("v", rules.amount_text(F.col("v")).alias("t"))
    frame = frame.select("v", "t", rules.amount_kind(F.col("t")).alias("k"))
    frame = frame.select("v", "k", *[rules.amount_value(F.col("t"), F.col("k"), m).alias(f"a{i}")
                                     for i, m in enumerate(marks)])
    theirs = {}
    for row in frame.collect():
        for i in range(len(marks)):
            theirs[(i, row["v"])] = (row["k"], row[f"a{i}"])
    for key, (kind, amount) in duck.items():
        got_kind, got_amount = theirs[key]
        assert got_kind == kind, key
        if amount is None or not math.isfinite(amount):
            assert got_amount is None or not math.isfinite(got_amount) or amount is None and got_amount is None, key
        else:
            assert got_amount == pytest.approx(amount, rel=1e-15), key


# ----------------------------------------------------------------------------- cvm run, both engines, as processes
def _cvm_start(*args: str) -> subprocess.Popen:
    """``cvm ARGS`` started as its own process (the commands of one test run side by side)."""
    script = Path(sys.executable).with_name("cvm")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "import sys; from cvm.cli import main; sys.exit(main())"]
    return subprocess.Popen([*command, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ})


def _cvm(*args: str) -> subprocess.CompletedProcess:
    return finish(_cvm_start(*args))


def _dutch_export(folder: Path) -> Path:
    """A Dutch webshop export: ; separated, decimal commas with dot groups, two-digit years, NBSP ids, bad rows."""
    from cvm.data.simulate import simulate_transactions

    tx = simulate_transactions(200, seed=5).to_pandas()
    lines = ["Klantnummer;Orderdatum;Bedrag"]
    for i, row in enumerate(tx.itertuples()):
        amount = f"€ {row.amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
        cid = f"{row.customer_id}\u00a0" if i % 7 == 0 else row.customer_id
        lines.append(f"{cid};{row.ts:%d-%m-%y};{amount}")
    lines += [";01-02-24;12,50", "K1;31-02-24;5,00", "K2;01-02-24;tien", "Totaal;;1.234,56", "K3;01-02-24;12.5"]
    path = folder / "export.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_cvm_run_gives_the_same_customers_and_reasons_on_both_engines(corpus, tmp_path):
    paths = [_dutch_export(tmp_path), corpus["returns_returns"][0]]
    started = {}  # every command starts at once: each its own process, so their Java start-ups overlap
    for k, path in enumerate(paths):
        started[k] = (
            _cvm_start("run", str(path), "--out", str(tmp_path / f"duck{k}.csv"), "--workspace", str(tmp_path / f"ws{k}"),
                       "--time-unit", "day", "--json"),
            _cvm_start("run", str(path), "--out", str(tmp_path / f"spark{k}.parquet"), "--engine", "spark",
                       "--time-unit", "day", "--json"))
    finished = {k: (finish(duck), finish(spark)) for k, (duck, spark) in started.items()}
    for k, path in enumerate(paths):
        duck_out, spark_out = tmp_path / f"duck{k}.csv", tmp_path / f"spark{k}.parquet"
        ws = tmp_path / f"ws{k}"
        done = finished[k][0]
        assert done.returncode == 0, done.stderr
        ingest = json.loads(done.stdout)["ingest"]
        done = finished[k][1]
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout)
        assert {k: result["ingest"][k] for k in ("rows_read", "accepted", "quarantined", "duplicates")} == \
            {k: ingest[k] for k in ("rows_read", "accepted", "quarantined", "duplicates")}
        duck = pd.read_csv(duck_out, dtype={"customer_id": str}).set_index("customer_id")
        theirs = pd.read_parquet(spark_out).set_index("customer_id")
        assert sorted(theirs.index) == sorted(duck.index)
        pd.testing.assert_frame_equal(_summary_columns(theirs), _summary_columns(duck), check_exact=False,
                                      rtol=1e-9, atol=1e-9, check_index_type=False, check_names=False)
        if ingest["quarantined"]:
            import duckdb

            with duckdb.connect(str(ws / "cvm.duckdb"), read_only=True) as con:
                want = sorted(_reason(*r) for r in con.execute("SELECT reason_code, reason_values FROM quarantine").fetchall())
            kept = pd.read_parquet(result["quarantine"])
            assert sorted(_reason(c, v) for c, v in zip(kept["reason_code"], kept["reason_values"])) == want


@pytest.mark.slow
def test_cvm_run_refuses_the_same_way_on_both_engines(corpus, tmp_path):
    """Three customers cannot be valued: both engines refuse in the same words, after reading the file the same way."""
    path = corpus["semicolon_mixed_marks"][0]
    theirs = _cvm_start("run", str(path), "--out", str(tmp_path / "s.parquet"), "--engine", "spark")
    duck = _cvm("run", str(path), "--out", str(tmp_path / "d.csv"), "--workspace", str(tmp_path / "ws"))
    theirs = finish(theirs)
    assert duck.returncode == theirs.returncode == 1
    assert "Traceback" not in duck.stderr + theirs.stderr
    first = duck.stderr.strip().splitlines()[0]
    assert first and first in theirs.stderr, (duck.stderr, theirs.stderr)
