"""Small shared pieces of the benchmarks: timing with medians, peak memory, one JSON line out."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from typing import Any, Callable


def timed(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> tuple[float, list[float], Any]:
    """Median wall-clock seconds of ``fn`` over ``repeat`` runs (after ``warmup`` runs)."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def peak_memory_mb() -> float:
    """Peak resident memory of this process (and finished children) in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def report(rows: list[dict[str, Any]]) -> None:
    """Print each result row as one JSON line for benchmarks/run.py to collect."""
    for row in rows:
        sys.stdout.write("BENCH " + json.dumps(row) + "\n")
    sys.stdout.flush()


def log_likelihood_at(model_cls, params, frequency, recency, T) -> float:
    """Total log-likelihood of a purchase model at given parameters (e.g. lifetimes' estimates).

    lifetimes stores an internal objective, not a comparable total log-likelihood, so both
    libraries' estimates are scored with the same (cvm's) likelihood on the same summary.
    """
    import numpy as np

    model = model_cls.from_params(**{k: float(v) for k, v in dict(params).items()})
    data = {"frequency": np.asarray(frequency, float), "recency": np.asarray(recency, float), "T": np.asarray(T, float)}
    return float(np.sum(model._log_likelihood(model.params_.to_numpy(), data)))


def verdict(differing: list[str]) -> None:
    """End a comparison script: print SAME, or DIFFERENT with what differs, and exit 0 or 1."""
    print("SAME" if not differing else f"DIFFERENT: {', '.join(differing)}")
    sys.exit(1 if differing else 0)
