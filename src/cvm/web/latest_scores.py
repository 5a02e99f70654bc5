"""The latest scoring run held in memory, for customer lookups without a database round trip.

One DuckDB point query costs about a millisecond, but fifty clients asking at once
queue behind each other on the database and the thread pool. The web app
therefore keeps the rows of the latest run in memory once, as column arrays
(numbers as numpy arrays, repeated texts such as the value tier as small
dictionaries with integer codes) and a ``dict`` from customer id to row number.
A lookup is a dictionary hit plus one element per column.

The snapshot belongs to one ``run_id``: the default valuation, the run with the
latest as-of date (:func:`cvm.web.lookups.latest_run`; a run scored afterwards for
an earlier date is history and does not replace it). When that run changes (a scoring
job finished), :meth:`LatestScores.lookup` drops the old snapshot, loads the new
one in a background thread and answers ``None`` in the meantime, so callers
fall back to the database query and never see rows of two runs mixed.

Memory: about 300 bytes per customer (≈ 300 MB for a million customers).
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime, timedelta
from typing import Any, Callable

log = logging.getLogger("cvm.web")

_EPOCH = datetime(1970, 1, 1)


class ScoreSnapshot:
    """The rows of one scoring run as column arrays, indexed by customer id."""

    def __init__(self, run_id: str, table: Any) -> None:
        """Build from a :class:`pyarrow.Table` holding the run's ``scores`` rows (``SELECT *`` order)."""
        self.run_id = run_id
        self.columns: list[str] = list(table.column_names)
        ids = table.column("customer_id").to_pylist()
        self._ids = ids
        self._row_of: dict[str, int] = {}
        for i, cid in enumerate(ids):  # the first row wins, as in the database lookup
            self._row_of.setdefault(cid, i)
        self._getters: list[Callable[[int], Any]] = [
            (lambda i: ids[i]) if name == "customer_id" else _getter(table.column(name))
            for name in self.columns
        ]

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, customer_id: str) -> bool:
        return customer_id in self._row_of

    def row(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's row as JSON-ready values (dates as ISO text, NaN as None), or None."""
        i = self._row_of.get(customer_id)
        if i is None:
            return None
        return {name: get(i) for name, get in zip(self.columns, self._getters)}


def _getter(column: Any) -> Callable[[int], Any]:
    """An accessor ``i -> JSON-ready value`` for one Arrow column, stored compactly."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    nulls = column.is_null().to_numpy(zero_copy_only=False) if column.null_count else None

    if pa.types.is_floating(kind):
        values = column.to_numpy(zero_copy_only=False).astype(np.float64)

        def get_float(i: int) -> Any:
            v = float(values[i])
            return v if math.isfinite(v) else None

        return get_float
    if pa.types.is_integer(kind):
        values = pc.fill_null(column, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        if nulls is None:
            return lambda i: int(values[i])
        return lambda i: None if nulls[i] else int(values[i])
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        micros = pc.fill_null(column.cast(pa.timestamp("us")), 0).cast(pa.int64()).to_numpy(zero_copy_only=False)

        def get_time(i: int) -> Any:
            if nulls is not None and nulls[i]:
                return None
            return (_EPOCH + timedelta(microseconds=int(micros[i]))).isoformat()

        return get_time
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        encoded = column.dictionary_encode()
        labels = encoded.dictionary.to_pylist()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return lambda i: None if codes[i] < 0 else labels[codes[i]]
    values = column.to_pylist()  # anything else (booleans, lists): plain Python values
    return lambda i: values[i]


class LatestScores:
    """Keeps the snapshot of the latest run and reloads it when a new run lands.

    Parameters
    ----------
    connect
        Returns a DuckDB connection (a cursor of the workspace) for the loader thread.
    enabled
        False turns the cache off (every lookup answers None, so the database is used).
    """

    def __init__(self, connect: Callable[[], Any], enabled: bool = True) -> None:
        self._connect = connect
        self.enabled = enabled
        self._snapshot: ScoreSnapshot | None = None
        self._loading: str | None = None
        self._thread: threading.Thread | None = None
        self._failed: str | None = None  # a run that could not be loaded is not retried on every request
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> ScoreSnapshot | None:
        return self._snapshot

    def lookup(self, run_id: str, customer_id: str) -> tuple[bool, dict[str, Any] | None]:
        """``(True, row or None)`` when run ``run_id`` is in memory, else ``(False, None)`` and a load starts."""
        snap = self._snapshot
        if snap is not None and snap.run_id == run_id:
            return True, snap.row(customer_id)
        self.refresh(run_id)
        return False, None

    def refresh(self, run_id: str | None, wait: bool = False) -> None:
        """Load run ``run_id`` in a background thread (unless loaded or loading); ``wait`` blocks until done."""
        if not self.enabled or run_id is None or run_id == self._failed:
            return
        with self._lock:
            snap = self._snapshot
            if snap is not None and snap.run_id != run_id:
                self._snapshot = None  # never answer from a run that is no longer the latest
            if snap is not None and snap.run_id == run_id:
                thread = None
            elif self._loading == run_id:
                thread = self._thread
            else:
                self._loading = run_id
                thread = self._thread = threading.Thread(target=self._load, args=(run_id,), name="cvm-latest-scores",
                                                         daemon=True)
                thread.start()
        if wait and thread is not None:
            thread.join()

    def _load(self, run_id: str) -> None:
        con = None
        try:
            con = self._connect()
            table = con.sql("SELECT * FROM scores WHERE run_id = ?", params=[run_id]).to_arrow_table()
            snapshot = ScoreSnapshot(run_id, table)
            del table
            with self._lock:
                if self._loading == run_id:
                    self._snapshot = snapshot
                    self._loading = None
            log.info("latest scoring run in memory: %d customers", len(snapshot))
        except Exception as exc:  # the database query stays available; log and carry on
            log.warning("could not load the latest scoring run into memory: %s", type(exc).__name__)
            with self._lock:
                if self._loading == run_id:
                    self._loading = None
                    self._failed = run_id
        finally:
            if con is not None:
                try:
                    con.close()
                except Exception:  # a cursor that is already closed
                    pass
