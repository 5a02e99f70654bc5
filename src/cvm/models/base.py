"""The one maximum-likelihood engine every cvm model is fitted with.

A model class writes only its own mathematics (see :class:`LikelihoodModel`):
the names of its parameters, the per-row log-likelihood, optionally its exact
gradient, and its predictive formulas. This module owns everything else:

* **Sufficient statistics.** Rows with an identical history are compressed to
  one row with an integer weight before fitting, so the cost of a fit grows
  with the number of *distinct* histories, not customers.
* **Log-parameters.** Positive parameters are optimised as ``z = log(theta)``;
  the objective is ``-sum_i w_i * ll_i(theta) / sum_i w_i + penalizer *
  sum(theta_pos ** 2)`` (the same L2 penalty convention as lifetimes).
* **Exact gradients** where the model supplies them (chain rule
  ``d/dz = theta * d/dtheta``), central differences otherwise.
* **A robust optimiser with a fallback**: L-BFGS-B, then BFGS and
  Nelder-Mead from the best point so far.
* **Standard errors** from the Hessian of the total negative log-likelihood in
  ``z``, symmetrised and checked for positive definiteness before inversion;
  back to the natural scale with the delta method, ``se(theta) = theta *
  se(z)``. Confidence intervals are computed on the log scale at any level.
* **Never a silent NaN**: a fit either ends with finite parameters and a finite
  log-likelihood or raises :class:`~cvm.errors.ConvergenceError` with the
  reason and what to try.
* **Boundaries said in words**: parameters beyond 1e6 or below 1e-6 give a
  :class:`BoundaryWarning`; a fit that is a known limit of its model (no dropout,
  no heterogeneity: :mod:`cvm.models.limits`) names it in ``limit_``; and every
  purchase-model fit compares its expected repeat purchases in the calibration
  period with the actual ones (``calibration_check_``, a
  :class:`CalibrationWarning` when they disagree). Warnings carry a code of
  :data:`cvm.messages.CATALOGUE` (:meth:`CvmWarning.coded`).
* **A budget**: ``max_seconds`` bounds a fit's wall time (``max_iter`` its
  iterations); past it the fit raises ``ConvergenceError`` code ``fit_over_budget``.
* **Persistence** as JSON (parameters, covariance, a format version), never
  pickle.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtri

from cvm.errors import ConvergenceError, NotFittedError, SchemaError
from cvm.jsonsafe import json_safe
from cvm.models.registry import PREDICTIONS

FORMAT = "cvm-model"
FORMAT_VERSION = 1

#: every concrete model class, by class name, for :func:`load_model`
MODEL_REGISTRY: dict[str, type["LikelihoodModel"]] = {}

_BLAS_CONTROLLER: list = []


def _single_threaded_blas():
    """A context in which BLAS runs on one thread.

    The optimiser's linear algebra is on k x k matrices (k = a handful of
    parameters); multi-threaded OpenBLAS only adds thread wake-ups, which on a
    busy machine made an L-BFGS-B step cost milliseconds instead of
    microseconds (BG/NBD on CDNOW: 480 ms, 45 ms single-threaded).
    """
    if not _BLAS_CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _BLAS_CONTROLLER.append(None)
    controller = _BLAS_CONTROLLER[0]
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


class CvmWarning(UserWarning):
    """Base class of cvm's warnings (filter them with this class).

    A warning made with :meth:`coded` carries ``code`` and ``values`` of
    :data:`cvm.messages.CATALOGUE`, so a face can show it in its reader's language.
    """

    code: str | None = None
    values: dict[str, Any] = {}

    @classmethod
    def coded(cls, code: str, **values: Any) -> "CvmWarning":
        """The warning ``code`` of :data:`cvm.messages.CATALOGUE` with its English words (message, then hint)."""
        from cvm.messages import english

        message, hint = english(code, values)
        warning = cls(message if not hint else f"{message}. {hint[:1].upper()}{hint[1:]}.")
        warning.code, warning.values = code, dict(values)
        return warning


class HessianWarning(CvmWarning):
    """The Hessian at the optimum is not positive definite: standard errors are unreliable."""


class BoundaryWarning(CvmWarning):
    """A parameter went to the edge of its range; the model may be over-parameterised for the data."""


class FewCustomersWarning(CvmWarning):
    """Too few customers to estimate a model's parameters reliably."""


class CalibrationWarning(CvmWarning):
    """A fitted model's predictions for the calibration period disagree with what the customers did."""


class _OutOfTime(Exception):
    """Raised inside the objective when a fit has used up its time (caught by the engine)."""


#: below this many customers a fit from a workspace or file warns (:func:`warn_if_few_customers`)
FEW_CUSTOMERS = 30


def warn_if_few_customers(model: Any, stacklevel: int = 3) -> None:
    """Warn when a fitted model saw fewer than :data:`FEW_CUSTOMERS` customers.

    With a handful of customers the likelihood is flat in some direction and the
    optimum runs to the edge of the parameter space (two customers give BG/NBD
    r ≈ 10⁷), so the predictions can be extreme even when the fit "converged".
    """
    n = float(getattr(model, "n_customers_", 0.0) or 0.0)
    if n >= FEW_CUSTOMERS:
        return
    k = len(getattr(model, "params_", ()))
    warnings.warn(
        f"{type(model).__name__} was fitted on only {n:,.0f} customers for {k} parameters: too few for reliable "
        "estimates (a few hundred is usual), so its predictions can be extreme. Add more history, or fit with a "
        "small penalizer (e.g. 0.01).",
        FewCustomersWarning,
        stacklevel=stacklevel,
    )


# ----------------------------------------------------------------------------
# input helpers shared by every model
# ----------------------------------------------------------------------------


def as_float_array(values: Any, name: str) -> np.ndarray:
    """Convert a column (list, numpy, pandas, polars, Arrow) to a 1-d float array.

    Raises :class:`SchemaError` when the values are not numbers or not finite.
    """
    if values is None:
        raise SchemaError(f"column '{name}' is missing")
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"column '{name}' must hold numbers ({exc})") from None
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise SchemaError(f"column '{name}' must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise SchemaError(
            f"column '{name}' has {bad} missing or infinite value(s)",
            hint="drop or fill those customers before fitting",
        )
    return arr


def columns_from(
    first: Any, rest: Sequence[Any], names: Sequence[str], optional: Sequence[str] = (), hint: str | None = None
) -> dict[str, Any]:
    """Accept either arrays in order or one frame holding columns by name.

    ``fit(frame)`` and ``fit(frequency, recency, T)`` are both supported; a
    frame is anything with ``.columns`` (pandas, polars, Arrow tables).
    ``hint`` replaces the general advice given when a column is missing.
    """
    if all(r is None for r in rest) and hasattr(first, "columns"):  # no hasattr on a Series: it may hash the index
        cols = list(first.columns) if not hasattr(first, "column_names") else list(first.column_names)
        missing = [n for n in names if n not in cols]
        if missing:
            raise SchemaError(
                f"the frame lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, cols))}",
                hint=hint or "rename your columns to the lifetimes names (frequency, recency, T, monetary_value)",
            )
        out = {n: first[n] for n in names}
        out.update({n: first[n] for n in optional if n in cols})
        return out
    values = [first, *rest]
    return {n: v for n, v in zip(names, values)}


def compress(columns: Mapping[str, np.ndarray], weights: np.ndarray | None = None):
    """Collapse identical rows into unique rows with summed weights.

    Returns ``(unique_columns, unique_weights, inverse)`` where
    ``inverse`` maps every input row to its unique row.
    """
    names = list(columns)
    n = len(next(iter(columns.values()))) if names else 0
    if n == 0:
        return {k: np.asarray(v, float) for k, v in columns.items()}, np.zeros(0), np.zeros(0, int)
    arrays = [np.asarray(columns[k], dtype=float) for k in names]
    # hash each column (sorted codes), combine the codes lexicographically and hash again:
    # linear time, about 4x faster than sorting whole rows at a million customers, and the
    # unique rows still come out in sorted order whatever the order of the customers
    code, size = np.zeros(n, dtype=np.int64), 1
    for values in arrays:
        codes, levels = pd.factorize(values, sort=True, use_na_sentinel=False)
        if size * len(levels) >= 2**62:
            code, kept = pd.factorize(code, sort=True)
            size = len(kept)
        code = code * len(levels) + codes
        size *= len(levels)
    if size <= n:
        # the combined codes are small numbers: which of them occur, in order, by marking them in a
        # table of ``size`` flags (linear, no hashing or sorting; the same groups in the same order)
        present = np.zeros(size, dtype=bool)
        present[code] = True
        keys = np.flatnonzero(present)
        slot = np.cumsum(present, dtype=np.int64 if size >= 2**31 else np.int32)
        del present
        inverse = slot[code].astype(np.int64)
        inverse -= 1
        del slot
    else:
        inverse, keys = pd.factorize(code, sort=True)
    representative = np.empty(len(keys), dtype=np.int64)
    representative[inverse] = np.arange(n)  # any row of a group will do: they are identical
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    uw = np.bincount(inverse, weights=w, minlength=len(keys))
    return {k: values[representative] for k, values in zip(names, arrays)}, uw, inverse


# ----------------------------------------------------------------------------
# the shape of a prediction follows the shape of its input
# ----------------------------------------------------------------------------


class Scalar(np.float64):
    """A prediction for one customer given as plain numbers: a float (``numpy.float64``).

    ``value[0]`` still returns the number, so code written when a scalar input gave a
    one-element array keeps working.
    """

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) and index in (0, -1):
            return np.float64(self)
        raise IndexError(f"a single prediction has no element {index!r}")


def _is_data_argument(value: Any) -> bool:
    """Numbers, arrays and Series are data; frames, dicts, models and None are not."""
    if value is None or isinstance(value, (str, bytes, Mapping)) or hasattr(value, "columns"):
        return False
    return isinstance(value, (int, float, np.number, np.ndarray, pd.Series, list, tuple))


def shaped_like_input(method):
    """Give a prediction the shape of its input: a scalar for scalars, a Series (same index) for Series.

    * every data argument a plain number -> one number (:class:`Scalar`, a float);
    * a pandas Series among them -> a Series with that Series' index (the first Series
      given), when the prediction has one value per row of it;
    * otherwise (arrays, lists) the array the method computed, unchanged.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        data = [v for v in (*args, *kwargs.values()) if _is_data_argument(v)]
        if not isinstance(result, np.ndarray) or result.ndim != 1:
            if np.ndim(result) == 0 and data and all(np.ndim(v) == 0 for v in data):
                return Scalar(result)
            return result
        series = next((v for v in data if isinstance(v, pd.Series)), None)
        if series is not None and len(series) == result.size:
            return pd.Series(result, index=series.index, dtype=float)
        if result.size == 1 and all(np.ndim(v) == 0 for v in data):
            return Scalar(result[0])
        return result

    wrapper.__shaped_like_input__ = True
    return wrapper


def keyword_arguments(*names: str, lifetimes: str):
    """Warn when the easy-to-swap arguments ``names`` are passed by position.

    They are still accepted by position (older code keeps working) with a
    ``FutureWarning`` that names lifetimes' different order (``lifetimes``).
    """

    def decorate(method):
        params = list(inspect.signature(method).parameters)[1:]
        positions = [params.index(n) for n in names]

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            if len(args) > min(positions):
                warnings.warn(
                    f"{type(self).__name__}.{method.__name__}: pass {', '.join(f'{n}=' for n in names)} by name "
                    f"(lifetimes' {lifetimes} takes them in another order); positional use will stop working.",
                    FutureWarning,
                    stacklevel=3,  # the caller of the shaped_like_input wrapper
                )
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


# ----------------------------------------------------------------------------
# the summary object: one object, several renderings
# ----------------------------------------------------------------------------


@dataclass
class FitSummary:
    """What a fit found, rendered as a frame, plain text or HTML."""

    model: str
    params: pd.Series
    stderr: pd.Series
    lower: pd.Series
    upper: pd.Series
    level: float
    log_likelihood: float
    n_customers: float
    n_unique: int
    converged: bool
    optimizer: str
    n_iter: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        return len(self.params) * np.log(max(self.n_customers, 1.0)) - 2 * self.log_likelihood

    def to_frame(self) -> pd.DataFrame:
        pct = round(self.level * 100, 4)
        return pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.stderr,
                f"lower_{pct:g}": self.lower,
                f"upper_{pct:g}": self.upper,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": {k: float(v) for k, v in self.params.items()},
            "stderr": {k: json_safe(float(v)) for k, v in self.stderr.items()},
            "log_likelihood": float(self.log_likelihood),
            "aic": float(self.aic),
            "bic": float(self.bic),
            "n_customers": float(self.n_customers),
            "n_unique_histories": int(self.n_unique),
            "converged": bool(self.converged),
            "optimizer": self.optimizer,
            "iterations": int(self.n_iter),
            "seconds": float(self.seconds),
            **self.extra,
        }

    def to_text(self) -> str:
        frame = self.to_frame()
        lines = [
            f"{self.model}  fitted on {self.n_customers:,.0f} customers "
            f"({self.n_unique:,} distinct histories)",
            f"log-likelihood {self.log_likelihood:,.3f}   AIC {self.aic:,.2f}   BIC {self.bic:,.2f}",
            f"converged: {'yes' if self.converged else 'no'} ({self.optimizer}, {self.n_iter} iterations, "
            f"{self.seconds * 1000:.0f} ms)",
            "",
            frame.to_string(float_format=_estimate_text),
        ]
        return "\n".join(lines)

    def to_html(self) -> str:
        head = (
            f"<p><strong>{self.model}</strong> — {self.n_customers:,.0f} customers, "
            f"log-likelihood {self.log_likelihood:,.3f}, AIC {self.aic:,.2f}</p>"
        )
        return head + self.to_frame().to_html(float_format=_estimate_text, classes="cvm-summary")

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return self.to_html()


def _estimate_text(v: float) -> str:
    """An estimate in a summary table: 4 decimals, or in powers of ten (4 decimals of mantissa) when huge or tiny
    (a parameter run off to 3e17 reads as 3.1548e+17, not as eighteen digits)."""
    if v != 0 and np.isfinite(v) and not 1e-3 <= abs(v) < 1e7:
        return f"{v:.4e}"
    return f"{v:.4f}"


# ----------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------


class LikelihoodModel:
    """Base class of every cvm model: fitting, uncertainty, summary, persistence.

    A subclass declares

    * ``parameter_names`` — the positive parameters, named as in the paper;
    * ``data_columns`` — the per-customer columns its likelihood reads;
    * ``_log_likelihood(theta, data)`` — per-row log-likelihood (vector);
    * optionally ``_gradient(theta, data)`` — per-row gradient with respect to
      the natural-scale parameters, shape ``(n_rows, k)`` — or, when value and gradient share
      their work, ``_log_likelihood_and_gradient(theta, data)`` returning both from one pass;
    * ``_initial_values(data, weights)`` — a starting point (natural scale);
    * ``_validate(data)`` — raise :class:`SchemaError` on impossible input;
    * optionally ``_prepare(data)`` — tables computed once per fit (e.g. the distinct purchase
      counts), added to the data every likelihood evaluation of that fit receives;

    and its own ``fit`` signature, which calls :meth:`_fit`. The base class does the rest: input
    checks and compression of identical customers, optimisation on the log scale (with a warm
    start from a subsample for models that set ``warm_start_rows``), the covariance from the
    Hessian, standard errors by the delta method, warnings, the summary and persistence.

    Models with free (real-valued) coefficients, such as covariate effects,
    override :meth:`_all_parameter_names` and :meth:`_positive_mask`.

    Parameters
    ----------
    penalizer
        L2 penalty ``lambda`` on the positive parameters: the fit minimises

        .. math:: -\\frac{1}{\\sum_i w_i}\\sum_i w_i \\ln L_i(\\theta) + \\lambda \\sum_k \\theta_k^2

        with ``theta`` on the natural scale, in the time unit of the data (the
        covariate coefficients are not penalised). Zero gives the plain
        maximum-likelihood estimate. lifetimes penalises the parameters of
        the data with time rescaled so that the largest ``T`` is 1 (and its
        Pareto/NBD sums instead of averaging the log-likelihood), so the same
        number means a different penalty there;
        :mod:`cvm.compat.lifetimes` reproduces lifetimes' meaning.
    max_iter
        Largest number of optimiser iterations per attempt.
    max_seconds
        Wall-time budget of one fit (None: no limit). A fit that needs longer stops and
        raises :class:`~cvm.errors.ConvergenceError` (code ``fit_over_budget``), so a
        caller comparing models (``--model auto``) can drop it with that reason.
    """

    parameter_names: ClassVar[tuple[str, ...]] = ()
    data_columns: ClassVar[tuple[str, ...]] = ()
    #: L-BFGS-B options a model may loosen or tighten (defaults: ftol=1e-15, gtol=1e-10, maxcor=20)
    optimizer_options: ClassVar[Mapping[str, float]] = {}
    #: with more distinct rows than this, start from the fit of a weighted subsample of half as many
    #: (:meth:`_warm_start`); None: no warm start (the likelihood is cheap enough to start anywhere)
    warm_start_rows: ClassVar[int | None] = None

    def __init__(self, penalizer: float = 0.0, max_iter: int = 2000, max_seconds: float | None = None) -> None:
        if penalizer < 0 or not np.isfinite(penalizer):
            raise SchemaError(f"penalizer must be a non-negative number, got {penalizer}")
        if max_seconds is not None and not max_seconds > 0:
            raise SchemaError(f"max_seconds must be a positive number of seconds, got {max_seconds}")
        self.penalizer = float(penalizer)
        self.max_iter = int(max_iter)
        self.max_seconds = None if max_seconds is None else float(max_seconds)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.parameter_names:
            MODEL_REGISTRY[cls.__name__] = cls
        for name in PREDICTIONS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "__shaped_like_input__", False):
                if name == "purchase_probability":  # lifetimes' probability_of_n_purchases_up_to_time is (t, n)
                    method = keyword_arguments("n", "t", lifetimes="probability_of_n_purchases_up_to_time(t, n)")(method)
                setattr(cls, name, shaped_like_input(method))

    # ----------------------------------------------------------- model hooks
    def _log_likelihood(self, theta: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _gradient(self, theta: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray | None:
        """Per-row gradient of the log-likelihood on the natural scale, or None (numerical differences);
        from the one-pass :meth:`_log_likelihood_and_gradient` when the model computes it there."""
        if type(self)._log_likelihood_and_gradient is not LikelihoodModel._log_likelihood_and_gradient:
            return self._log_likelihood_and_gradient(theta, data)[1]
        return None

    def _log_likelihood_and_gradient(self, theta: np.ndarray, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-row log-likelihood and gradient at one point (what the optimiser asks for); a model whose
        value and gradient share their work overrides this to compute both in one pass."""
        return self._log_likelihood(theta, data), self._gradient(theta, data)

    def _prepare(self, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The data of one fit with whatever the likelihood reuses at every evaluation (none by default)."""
        return data

    def _initial_values(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        return np.ones(len(self._all_parameter_names()))

    def _validate(self, data: dict[str, np.ndarray]) -> None:
        """Raise SchemaError when the data cannot come from this model."""

    def _limiting_case(self, theta: np.ndarray, data: dict[str, np.ndarray], weights: np.ndarray) -> str | None:
        """After every fit: the short name of the simpler model this fit is the limit of (``"nbd"``,
        ``"poisson"``, see :mod:`cvm.models.limits`), or None. Stored as ``limit_``."""
        return None

    def _calibration_totals(self, data: dict[str, np.ndarray], weights: np.ndarray) -> tuple[float, float] | None:
        """``(expected, actual)`` repeat purchases of the fitted customers in their own observation
        periods, or None for a model without such a prediction (the engine's sanity check)."""
        return None

    def _all_parameter_names(self) -> list[str]:
        return list(self.parameter_names)

    def _positive_mask(self) -> np.ndarray:
        return np.array([True] * len(self.parameter_names) + [False] * (len(self._all_parameter_names()) - len(self.parameter_names)))

    # ------------------------------------------------------------ transforms
    def _to_theta(self, z: np.ndarray) -> np.ndarray:
        pos = self._positive_mask()
        with np.errstate(over="ignore"):
            return np.where(pos, np.exp(np.clip(z, -700, 700)), z)

    def _to_z(self, theta: np.ndarray) -> np.ndarray:
        pos = self._positive_mask()
        theta = np.asarray(theta, dtype=float)
        return np.where(pos, np.log(np.where(pos, theta, 1.0)), theta)

    # --------------------------------------------------------------- fitting
    def _check_clock(self) -> None:
        deadline = self.__dict__.get("_deadline")
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime

    def _objective(self, z: np.ndarray, data, weights, total) -> tuple[float, np.ndarray]:
        """The penalised mean negative log-likelihood at ``z`` (log-scale parameters) and its gradient."""
        return self._objective_parts(z, data, weights, total)[:2]

    def _objective_parts(self, z: np.ndarray, data, weights, total) -> tuple[float, np.ndarray, np.ndarray]:
        """:meth:`_objective` and the per-row log-likelihood it was computed from."""
        self._check_clock()
        theta = self._to_theta(z)
        pos = self._positive_mask()
        with np.errstate(all="ignore"):
            ll, g_rows = self._log_likelihood_and_gradient(theta, data)
            value = -np.dot(weights, ll) / total + self.penalizer * np.sum(theta[pos] ** 2)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(z), ll
        return float(value), self._gradient_z(z, theta, g_rows, data, weights, total), ll

    def _gradient_z(self, z, theta, g_rows, data, weights, total) -> np.ndarray:
        """The objective's gradient in ``z`` from the per-row gradient ``g_rows`` (numerical when None or not finite)."""
        pos = self._positive_mask()
        if g_rows is None:
            return self._numeric_gradient(z, data, weights, total)
        g_theta = -(weights @ g_rows) / total
        g_theta = g_theta + np.where(pos, 2 * self.penalizer * theta, 0.0)
        g = np.where(pos, g_theta * theta, g_theta)
        if not np.all(np.isfinite(g)):
            return self._numeric_gradient(z, data, weights, total)
        return g

    def _objective_value(self, z, data, weights, total) -> float:
        self._check_clock()
        theta = self._to_theta(z)
        pos = self._positive_mask()
        with np.errstate(all="ignore"):
            value = -np.dot(weights, self._log_likelihood(theta, data)) / total + self.penalizer * np.sum(theta[pos] ** 2)
        return float(value) if np.isfinite(value) else np.inf

    def _numeric_gradient(self, z, data, weights, total, h: float = 1e-6) -> np.ndarray:
        g = np.zeros_like(z)
        for j in range(len(z)):
            e = np.zeros_like(z)
            e[j] = h * max(1.0, abs(z[j]))
            g[j] = (self._objective_value(z + e, data, weights, total) - self._objective_value(z - e, data, weights, total)) / (2 * e[j])
        return g

    def _fit(self, data: dict[str, Any], weights: Any = None, initial: Mapping[str, float] | None = None):
        """Compress, optimise, compute the covariance, and store the fitted state (BLAS on one thread)."""
        self.__dict__["_deadline"] = None if self.max_seconds is None else time.perf_counter() + self.max_seconds
        try:
            with _single_threaded_blas():
                return self._fit_steps(data, weights, initial)
        except _OutOfTime:
            raise ConvergenceError.coded("fit_over_budget", model=type(self).__name__,
                                         seconds=f"{self.max_seconds:g}") from None
        finally:
            self.__dict__["_deadline"] = None

    def _fit_steps(self, data: dict[str, Any], weights: Any = None, initial: Mapping[str, float] | None = None):
        start_clock = time.perf_counter()
        arrays = {k: as_float_array(v, k) for k, v in data.items()}
        n = len(next(iter(arrays.values())))
        if any(len(v) != n for v in arrays.values()):
            raise SchemaError("all columns must have the same length: " + ", ".join(f"{k}={len(v)}" for k, v in arrays.items()))
        if n == 0:
            raise SchemaError("no customers to fit on", hint="check the as-of date and that transactions were ingested")
        w = None
        if weights is not None:
            w = as_float_array(weights, "weights")
            if len(w) != n:
                raise SchemaError(f"weights has {len(w)} values for {n} customers")
            if np.any(w < 0):
                raise SchemaError("weights must not be negative")
        self._validate(arrays)
        udata, uw, _ = compress(arrays, w)
        keep = uw > 0
        udata = {k: v[keep] for k, v in udata.items()}
        uw = uw[keep]
        total = float(uw.sum())
        if total <= 0:
            raise SchemaError("all weights are zero")

        names = self._all_parameter_names()
        x0 = self._initial_values(udata, uw)
        if initial:
            x0 = np.array([initial.get(nm, x0[i]) for i, nm in enumerate(names)], dtype=float)
        z0 = self._to_z(x0)
        columns, udata = udata, self._prepare(udata)
        if not initial and self.warm_start_rows is not None and uw.size > self.warm_start_rows:
            z0 = self._warm_start(z0, columns, udata, uw)
        last: dict[str, Any] = {}

        def objective(z):
            """The objective with its last point remembered by value: the optimiser's answer is asked for
            again (is it stationary? its log-likelihood) and costs no second pass over the data."""
            key = np.asarray(z, dtype=float).tobytes()
            if last.get("z") != key:
                last.update(z=key, parts=self._objective_parts(z, udata, uw, total))
            return last["parts"]

        fun = lambda z: objective(z)[:2]  # noqa: E731
        attempts: list[tuple[str, optimize.OptimizeResult]] = []
        best = None
        for method in ("L-BFGS-B", "BFGS", "Nelder-Mead"):
            start = z0 if best is None else best.x
            try:
                if method == "Nelder-Mead":
                    res = optimize.minimize(
                        lambda z: self._objective_value(z, udata, uw, total), start, method=method,
                        options={"maxiter": self.max_iter * 5, "xatol": 1e-10, "fatol": 1e-13, "adaptive": True},
                    )
                else:
                    opts = {"maxiter": self.max_iter}
                    if method == "L-BFGS-B":
                        opts.update(ftol=1e-15, gtol=1e-10, maxcor=20)
                        opts.update(self.optimizer_options)
                    else:
                        opts.update(gtol=1e-9)
                    res = optimize.minimize(fun, start, jac=True, method=method, options=opts)
            except (FloatingPointError, ValueError, OverflowError) as exc:  # pragma: no cover - defensive
                attempts.append((method, optimize.OptimizeResult(success=False, message=str(exc), fun=np.inf, x=start, nit=0)))
                continue
            attempts.append((method, res))
            if np.isfinite(res.fun) and np.all(np.isfinite(res.x)) and (best is None or res.fun <= best.fun + 1e-12):
                best = res
                best.method = method
            if best is not None and (self._is_stationary(objective(best.x)[1]) or self._at_edge(best.x)):
                # stationary, or running off to the edge of the space (a warning follows):
                # further optimisers would only spend time walking further out
                break
        if best is None or not np.isfinite(best.fun):
            reasons = "; ".join(f"{m}: {r.message}" for m, r in attempts)
            raise ConvergenceError(
                f"{type(self).__name__} fit found no finite log-likelihood ({reasons})",
                hint="check the data for impossible histories, or try a small penalizer, e.g. penalizer=0.001",
            )
        theta = self._to_theta(best.x)
        if not np.all(np.isfinite(theta)):
            raise ConvergenceError(
                f"{type(self).__name__} fit ran off to infinite parameters",
                hint="the data may not identify this model (for example nobody ever repeats); try penalizer=0.01",
            )
        _, grad, ll = objective(best.x)
        converged = self._is_stationary(grad)
        ll_total = float(np.dot(uw, ll))
        if not np.isfinite(ll_total):
            raise ConvergenceError(f"{type(self).__name__} log-likelihood is not finite at the optimum")
        pos = self._positive_mask()
        extreme = [nm for nm, t, p in zip(names, theta, pos) if p and (t > 1e6 or t < 1e-6)]
        model = type(self).__name__
        if extreme:
            shown = ", ".join(f"{nm}={theta[names.index(nm)]:.3g}" for nm in extreme)
            warnings.warn(BoundaryWarning.coded("fit_edge", model=model, params=shown), stacklevel=3)
        # a fit at a known limit (no dropout, no heterogeneity) says so, also before its parameters reach the edge
        self.limit_ = self._limiting_case(theta, udata, uw)
        if self.limit_ is not None:
            shown = ", ".join(f"{nm}={t:.3g}" for nm, t, p in zip(names, theta, pos) if p)
            if self.limit_ == "nbd":
                warnings.warn(BoundaryWarning.coded("fit_limit_nbd", model=model, params=shown), stacklevel=3)
            else:
                warnings.warn(BoundaryWarning.coded("fit_limit_poisson", model=model, params=shown), stacklevel=3)
        if not converged:
            warnings.warn(BoundaryWarning.coded("fit_not_converged", model=model), stacklevel=3)
        self.params_ = pd.Series(theta, index=names, dtype=float)
        self._theta = theta
        self.calibration_check_ = self._check_calibration(udata, uw)
        # the Hessian costs 2k gradient passes over the data: computed when first asked for
        self.__dict__["_covariance_log"] = None
        self.__dict__["_pending_covariance"] = (np.array(best.x, dtype=float), udata, uw, total)
        self.log_likelihood_ = ll_total
        self.n_customers_ = total
        self.n_unique_ = int(len(uw))
        self.converged_ = bool(converged)
        self.optimizer_ = getattr(best, "method", "L-BFGS-B")
        self.n_iter_ = int(sum(getattr(r, "nit", 0) or 0 for _, r in attempts))
        self.fit_seconds_ = time.perf_counter() - start_clock
        return self

    def _warm_start(self, z0: np.ndarray, columns, data, weights) -> np.ndarray:
        """A start near the optimum: the fit of a weighted subsample of ``warm_start_rows / 2`` distinct rows,
        then quasi-Newton steps on the full data (:meth:`_newton_polish`); ``z0`` when that fails.

        Full-data iterations far from the optimum are the expensive ones (the Pareto/NBD's series needs
        more terms when its parameters are far apart), so the start pays for itself on large data.
        """
        pick = np.random.default_rng(0).choice(weights.size, self.warm_start_rows // 2, p=weights / weights.sum())
        sub = self._prepare({k: v[pick] for k, v in columns.items()})
        ones = np.ones(pick.size)
        with np.errstate(all="ignore"):
            res = optimize.minimize(lambda z: self._objective(z, sub, ones, float(pick.size)), z0, jac=True,
                                    method="L-BFGS-B", options={"gtol": 1e-6, "maxiter": 500})
        if not (np.isfinite(res.fun) and np.all(np.isfinite(res.x))):
            return z0
        return self._newton_polish(res.x, sub, ones, data, weights)

    def _newton_polish(self, z, sub, sub_weights, data, weights, steps=12):
        """Quasi-Newton steps on the full data, one full pass (value and gradient) each.

        The first step uses the subsample's Hessian (of the mean objective, so the same
        scale); after every step the matrix is corrected by the BFGS secant update with
        the full data's change in gradient, so it converges to the full data's curvature
        and the steps become Newton-like within a few passes. Stops once the gradient is
        below L-BFGS-B's tolerance, so the optimiser accepts the point at once.
        """
        total, sub_total = float(weights.sum()), float(sub_weights.sum())
        k = z.size
        hess = np.empty((k, k))
        with np.errstate(all="ignore"):
            # forward differences (k passes over the subsample, not 2k): a preconditioner needs no more
            # than the ~1e-5 relative accuracy, its error from subsampling is percents
            centre = self._objective(z, sub, sub_weights, sub_total)[1]
            for j in range(k):
                e = np.zeros(k)
                e[j] = 1e-5
                hess[:, j] = (self._objective(z + e, sub, sub_weights, sub_total)[1] - centre) / 1e-5
            hess = 0.5 * (hess + hess.T)
            if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(hess).min() <= 0:
                return z
            value, grad = self._objective(z, data, weights, total)
            stop = 0.1 * self.optimizer_options.get("gtol", 1e-10)
            for _ in range(steps):
                if not np.isfinite(value) or np.max(np.abs(grad)) < stop:
                    break
                step = np.linalg.solve(hess, grad)
                for _ in range(5):  # halve the step until the objective does not rise
                    new_value, new_grad = self._objective(z - step, data, weights, total)
                    if np.isfinite(new_value) and new_value <= value + 1e-12 * abs(value):
                        break
                    step = step / 2
                else:
                    break
                moved, change = -step, new_grad - grad
                curvature = moved @ change
                if curvature > 1e-12 * np.linalg.norm(moved) * np.linalg.norm(change):
                    h_moved = hess @ moved
                    hess = hess - np.outer(h_moved, h_moved) / (moved @ h_moved) + np.outer(change, change) / curvature
                z, value, grad = z - step, new_value, new_grad
        return z

    def _check_calibration(self, data, weights) -> dict[str, float] | None:
        """Expected against actual repeat purchases in the calibration period; a coded warning when they disagree.

        For a maximum-likelihood fit of a purchase model the two totals nearly agree (the fit reproduces
        the calibration period: FHL 2005, figure 2); a gap beyond 10 % plus three Poisson standard
        deviations (``3 sqrt(actual)``) means the optimum is not one the model can stand behind.
        """
        with np.errstate(all="ignore"):
            totals = self._calibration_totals(data, weights)
        if totals is None:
            return None
        expected, actual = (float(v) for v in totals)
        agrees = bool(np.isfinite(expected) and abs(expected - actual) <= 0.1 * actual + 3.0 * np.sqrt(actual) + 1e-9)
        if not agrees:
            warnings.warn(CalibrationWarning.coded(
                "fit_disagrees_with_data", model=type(self).__name__,
                expected=f"{expected:,.1f}" if np.isfinite(expected) else "?", actual=f"{actual:,.0f}"), stacklevel=4)
        return {"expected": expected, "actual": actual, "agrees": agrees}

    @staticmethod
    def _is_stationary(g: np.ndarray) -> bool:
        """The objective's gradient is zero (up to 1e-4 in the log-scale parameters)."""
        return bool(np.all(np.isfinite(g)) and np.max(np.abs(g)) < 1e-4)

    def _at_edge(self, z: np.ndarray) -> bool:
        """True when a positive parameter is beyond 1e6 or below 1e-6 (|log| > 13.8)."""
        pos = self._positive_mask()
        return bool(np.any(np.abs(np.asarray(z)[pos]) > np.log(1e6)))

    @property
    def covariance_(self) -> pd.DataFrame | None:
        """Covariance of the log-scale parameters: the inverse Hessian of the total negative
        log-likelihood at the optimum. Computed on first use and then kept (as statsmodels
        caches ``bse``), so a fit used only for predictions does not pay for it."""
        pending = self.__dict__.get("_pending_covariance")
        if pending is not None:
            z, data, weights, total = pending
            names = self._all_parameter_names()
            self.__dict__["_covariance_log"] = pd.DataFrame(self._covariance(z, data, weights, total), index=names, columns=names)
            self.__dict__["_pending_covariance"] = None
        return self.__dict__.get("_covariance_log")

    @covariance_.setter
    def covariance_(self, value: pd.DataFrame | None) -> None:
        self.__dict__["_covariance_log"] = value
        self.__dict__["_pending_covariance"] = None

    @property
    def stderr_(self) -> pd.Series:
        """Standard errors on the natural scale, by the delta method ``se(theta) = theta * se(log theta)``;
        NaN where no covariance is known (a model made by :meth:`from_params`)."""
        self._require_fit()
        names = self._all_parameter_names()
        cov = self.covariance_
        if cov is None or not np.all(np.isfinite(cov.to_numpy())):
            return pd.Series(np.nan, index=names, dtype=float)
        se_z = np.sqrt(np.clip(np.diag(cov.to_numpy()), 0, None))
        theta = self.params_.to_numpy()
        return pd.Series(np.where(self._positive_mask(), theta * se_z, se_z), index=names, dtype=float)

    def _covariance(self, z, data, weights, total) -> np.ndarray:
        """Inverse Hessian of the total negative log-likelihood in z (central differences of the gradient)."""
        k = len(z)
        hess = np.zeros((k, k))
        for j in range(k):
            h = 1e-5 * max(1.0, abs(z[j]))
            e = np.zeros(k)
            e[j] = h
            _, gp = self._objective(z + e, data, weights, total)
            _, gm = self._objective(z - e, data, weights, total)
            hess[:, j] = (gp - gm) / (2 * h)
        hess = 0.5 * (hess + hess.T) * total
        if not np.all(np.isfinite(hess)):
            warnings.warn(f"{type(self).__name__}: the Hessian is not finite; standard errors unavailable.", HessianWarning, stacklevel=4)
            return np.full((k, k), np.nan)
        eig = np.linalg.eigvalsh(hess)
        if eig.min() <= 1e-8 * max(1.0, abs(eig.max())):  # a flat ridge is as unidentified as a singular matrix
            warnings.warn(
                f"{type(self).__name__}: the Hessian is not positive definite at the optimum "
                "(a parameter is not identified by these data); standard errors are unreliable.",
                HessianWarning,
                stacklevel=4,
            )
            return np.linalg.pinv(hess)
        return np.linalg.inv(hess)

    # ------------------------------------------------------ fitted state
    def _require_fit(self) -> None:
        if getattr(self, "params_", None) is None:
            raise NotFittedError(
                f"this {type(self).__name__} has no parameters yet",
                hint=f"call .fit(...) first, or {type(self).__name__}.from_params(...)",
            )

    @property
    def params_(self) -> pd.Series | None:
        """The natural-scale parameters by name (None before a fit).

        A copy: change a model's parameters by assigning by name,
        ``m.params_ = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}`` (any order, a
        dict or a Series indexed by name), or with :meth:`with_params` / :meth:`from_params`.
        """
        stored = self.__dict__.get("_params")
        return None if stored is None else stored.copy()

    @params_.setter
    def params_(self, value: Mapping[str, float] | pd.Series | None) -> None:
        if value is None:
            self.__dict__["_params"] = None
            return
        names = self._all_parameter_names()
        if not isinstance(value, (Mapping, pd.Series)):
            raise SchemaError(
                f"{type(self).__name__}.params_ is set by name, not by position",
                hint=f"assign a dict or Series indexed by {', '.join(names)}, e.g. "
                f"params_ = {{{', '.join(repr(n) + ': ...' for n in names)}}}",
            )
        given = [str(k) for k in value.keys()]
        missing = [n for n in names if n not in given]
        extra = [k for k in given if k not in names]
        if missing or extra:
            raise SchemaError(
                f"{type(self).__name__} takes parameters {', '.join(names)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else ""),
                hint="lifetimes' gamma-gamma 'v' is cvm's 'gamma'" if "v" in extra else None,
            )
        values = np.array([float(value[n]) for n in names])
        pos = self._positive_mask()
        if np.any(~np.isfinite(values)) or np.any(values[pos] <= 0):
            raise SchemaError(f"{type(self).__name__} parameters {', '.join(np.array(names)[pos])} must be positive and finite")
        self.__dict__["_params"] = pd.Series(values, index=names, dtype=float)
        self._theta = values

    @property
    def params(self) -> dict[str, float]:
        """Natural-scale parameters as a plain dict (raises NotFittedError before a fit)."""
        self._require_fit()
        return {k: float(v) for k, v in self.params_.items()}

    def confidence_intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals computed on the log scale (positive parameters) and mapped back.

        ``exp(z_hat +/- q * se(z))`` with ``q`` the normal quantile of the level,
        so intervals of positive parameters stay positive.
        """
        self._require_fit()
        if not 0 < level < 1:
            raise SchemaError(f"level must lie strictly between 0 and 1, got {level}")
        q = ndtri(0.5 + level / 2)  # the standard normal quantile (scipy.stats.norm.ppf)
        z = self._to_z(self.params_.to_numpy())
        cov = self.covariance_.to_numpy()
        se_z = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(len(z), np.nan)
        lo = self._to_theta(z - q * se_z)
        hi = self._to_theta(z + q * se_z)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.params_.index)

    def summary(self, level: float = 0.95) -> FitSummary:
        """The fit as one object with ``to_frame``, ``to_text`` and ``to_html``."""
        self._require_fit()
        ci = self.confidence_intervals(level)
        return FitSummary(
            model=type(self).__name__,
            params=self.params_.copy(),
            stderr=self.stderr_.copy(),
            lower=ci["lower"],
            upper=ci["upper"],
            level=level,
            log_likelihood=float(getattr(self, "log_likelihood_", np.nan)),
            n_customers=float(getattr(self, "n_customers_", 0.0)),
            n_unique=int(getattr(self, "n_unique_", 0)),
            converged=bool(getattr(self, "converged_", True)),
            optimizer=str(getattr(self, "optimizer_", "none")),
            n_iter=int(getattr(self, "n_iter_", 0)),
            seconds=float(getattr(self, "fit_seconds_", 0.0)),
        )

    def sample_parameters(self, n_draws: int, seed: int | None = None) -> np.ndarray:
        """Draws of the natural-scale parameters from the asymptotic normal of ``z``.

        Returns an array of shape ``(n_draws, k)``. With no covariance (a model
        made by :meth:`from_params`), every draw equals the point estimate.
        """
        self._require_fit()
        z = self._to_z(self.params_.to_numpy())
        cov = self.covariance_.to_numpy() if getattr(self, "covariance_", None) is not None else None
        if cov is None or not np.all(np.isfinite(cov)):
            return np.tile(self._to_theta(z), (n_draws, 1))
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(z, cov, size=n_draws, method="eigh")
        return self._to_theta(draws)

    def with_params(self, theta: np.ndarray | Mapping[str, float]) -> "LikelihoodModel":
        """A copy of this model (same settings) carrying other parameter values."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if not k.endswith("_") or k == "covariance_"})
        names = self._all_parameter_names()
        values = np.array([theta[n] for n in names], float) if isinstance(theta, Mapping) else np.asarray(theta, float)
        clone.params_ = pd.Series(values, index=names, dtype=float)
        clone._theta = values
        return clone

    # -------------------------------------------------------- persistence
    @classmethod
    def from_params(cls, **params: Any) -> "LikelihoodModel":
        """A model with given parameters and no fit (e.g. published values).

        Keywords that name a constructor setting (``penalizer``, a model's
        covariate lists, ...) go to the constructor; the rest are parameters.
        """
        accepted = inspect.signature(cls.__init__).parameters
        settings = {k: params.pop(k) for k in list(params) if k in accepted and k != "self"}
        model = cls(**settings)
        names = model._all_parameter_names()
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
        if missing or extra:
            raise SchemaError(
                f"{cls.__name__} takes parameters {', '.join(names)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        values = np.array([float(params[n]) for n in names])
        pos = model._positive_mask()
        if np.any(~np.isfinite(values)) or np.any(values[pos] <= 0):
            raise SchemaError(f"{cls.__name__} parameters {', '.join(np.array(names)[pos])} must be positive and finite")
        model.params_ = pd.Series(values, index=names, dtype=float)
        model._theta = values
        model.covariance_ = None
        return model

    def _settings(self) -> dict[str, Any]:
        """Constructor settings that must survive save/load (subclasses extend)."""
        return {"penalizer": self.penalizer}

    def to_dict(self) -> dict[str, Any]:
        self._require_fit()
        cov = getattr(self, "covariance_", None)
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model": type(self).__name__,
            "settings": self._settings(),
            "params": {k: float(v) for k, v in self.params_.items()},
            "covariance_log": None if cov is None else [[json_safe(float(v)) for v in row] for row in np.asarray(cov)],
            "log_likelihood": json_safe(float(getattr(self, "log_likelihood_", np.nan))),
            "n_customers": json_safe(float(getattr(self, "n_customers_", np.nan))),
            "converged": bool(getattr(self, "converged_", True)),
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (parameters, covariance, format version)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> "LikelihoodModel":
        if payload.get("format") != FORMAT:
            raise SchemaError("this is not a cvm model file")
        if int(payload.get("version", 0)) > FORMAT_VERSION:
            raise SchemaError(f"model file version {payload['version']} is newer than this cvm understands ({FORMAT_VERSION})")
        name = payload["model"]
        target = MODEL_REGISTRY.get(name)
        if target is None:  # a registered model whose module is not imported yet (else: unknown)
            from cvm.models.registry import spec

            try:
                target = spec(name).cls
            except SchemaError:
                raise SchemaError(f"unknown model '{name}' in file") from None
        if cls is not LikelihoodModel and not issubclass(target, cls):
            raise SchemaError(f"the file holds a {name}, not a {cls.__name__}")
        model = target(**payload.get("settings", {}))
        names = model._all_parameter_names()
        values = np.array([payload["params"][n] for n in names], dtype=float)
        model.params_ = pd.Series(values, index=names, dtype=float)
        model._theta = values
        cov = payload.get("covariance_log")
        if cov is not None:
            cov_arr = np.array([[np.nan if v is None else v for v in row] for row in cov], dtype=float)
            model.covariance_ = pd.DataFrame(cov_arr, index=names, columns=names)
        else:
            model.covariance_ = None
        if payload.get("log_likelihood") is not None:
            model.log_likelihood_ = float(payload["log_likelihood"])
        if payload.get("n_customers") is not None:
            model.n_customers_ = float(payload["n_customers"])
        model.converged_ = bool(payload.get("converged", True))
        return model

    @classmethod
    def load(cls, path: str | Path) -> "LikelihoodModel":
        """Read a model written by :meth:`save`."""
        try:
            payload = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SchemaError(f"cannot read model file {path}: {exc}") from None
        return cls.from_dict(payload)

    def __repr__(self) -> str:
        if getattr(self, "params_", None) is None:
            return f"{type(self).__name__}(penalizer={self.penalizer})"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{type(self).__name__}({inner})"


def load_model(path: str | Path) -> LikelihoodModel:
    """Load any cvm model saved with ``save`` (the class is read from the file)."""
    return LikelihoodModel.load(path)
