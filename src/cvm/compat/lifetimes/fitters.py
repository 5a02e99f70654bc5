"""lifetimes' five fitters, with lifetimes' signatures and attributes, computed by cvm's models.

Every prediction builds the cvm model from ``params_`` *by name*, so a notebook that
assigns ``fitter.params_ = pd.Series({...})`` gets what lifetimes gives. Fits run on
cvm's engine (exact gradients, optimiser run to a vanishing gradient) with lifetimes'
penalty: lifetimes divides every time by the largest ``T`` before fitting and
penalises the parameters of that rescaled problem, ``penalizer_coef * sum(theta**2)``
(the Pareto/NBD also sums rather than averages the log-likelihood); the fits here
do the same, so the same ``penalizer_coef`` gives the same estimates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, gammaln, hyp2f1, logsumexp

from cvm.compat.lifetimes._shape import as_column, check_inputs, like_lifetimes
from cvm.compat.lifetimes.utils import _customer_lifetime_value
from cvm.errors import ConvergenceError

SAVE_FORMAT = "cvm-lifetimes-fitter"
SAVE_VERSION = 1


class BaseFitter:
    """What every lifetimes fitter shares: parameters by name, summary, save and load.

    Parameters
    ----------
    penalizer_coef
        lifetimes' L2 penalty (see the module docstring for its meaning).
    """

    #: the cvm model class (cvm.models name) and lifetimes' parameter names, in lifetimes' order
    _native_name: ClassVar[str] = ""
    _names: ClassVar[tuple[str, ...]] = ()
    #: lifetimes name -> cvm name where they differ
    _renamed: ClassVar[dict[str, str]] = {}

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def __repr__(self) -> str:
        classname = type(self).__name__
        data = getattr(self, "data", None)
        subjects = f" fitted with {data.shape[0]:d} subjects," if isinstance(data, pd.DataFrame) else ""
        params = getattr(self, "params_", None)
        if params is None:
            return f"<lifetimes.{classname}>"
        inner = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(params.items()))
        return f"<lifetimes.{classname}:{subjects} {inner}>"

    # ------------------------------------------------------------ parameters
    def _unload_params(self, *names: str) -> list[float]:
        if not hasattr(self, "params_"):
            raise ValueError("Model has not been fit yet. Please call the .fit method first.")
        return [self.params_[n] for n in names]

    def _native_class(self):
        from cvm import models

        return getattr(models, self._native_name)

    def _model(self):
        """The cvm model with this fitter's ``params_``, read by name (cached per parameter values)."""
        values = tuple(float(v) for v in self._unload_params(*self._names))
        cached = self.__dict__.get("_native_cache")
        if cached is not None and cached[0] == values:
            return cached[1]
        model = self._native_class().from_params(**{self._renamed.get(n, n): v for n, v in zip(self._names, values)})
        self.__dict__["_native_cache"] = (values, model)
        return model

    # -------------------------------------------------- fitted uncertainty
    def _store_uncertainty(self, covariance_log: np.ndarray | None) -> None:
        """lifetimes' ``variance_matrix_`` (``params_j**2 * inverse Hessian[i, j]``, its convention),
        ``standard_errors_`` and 95% ``confidence_intervals_`` (``params_ -/+ 1.96 se``)."""
        p = self.params_
        if covariance_log is None:
            covariance_log = np.full((len(p), len(p)), np.nan)
        self.variance_matrix_ = pd.DataFrame((p**2).to_numpy() * np.asarray(covariance_log), columns=p.index, index=p.index)
        self.standard_errors_ = np.sqrt(pd.Series(np.diag(self.variance_matrix_.to_numpy()), index=p.index))
        self.confidence_intervals_ = pd.DataFrame(
            {"lower 95% bound": p - 1.96 * self.standard_errors_, "upper 95% bound": p + 1.96 * self.standard_errors_},
            index=p.index,
        )

    @property
    def summary(self) -> pd.DataFrame:
        """``coef``, ``se(coef)``, ``lower 95% bound``, ``upper 95% bound`` per parameter."""
        df = pd.DataFrame(index=self.params_.index)
        df["coef"] = self.params_
        df["se(coef)"] = self.standard_errors_
        df["lower 95% bound"] = self.confidence_intervals_["lower 95% bound"]
        df["upper 95% bound"] = self.confidence_intervals_["upper 95% bound"]
        return df

    # ------------------------------------------------------------ save/load
    def save_model(self, path, save_data: bool = True, save_generate_data_method: bool = True, values_to_save=None) -> None:
        """Write the fitter as JSON (parameters, uncertainty, settings and, with ``save_data``, the data).

        lifetimes pickles the object with dill; cvm never pickles. ``save_generate_data_method``
        and ``values_to_save`` are accepted for lifetimes' signature: ``generate_new_data`` is a
        method here and always available after loading.
        """
        payload: dict[str, Any] = {
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "fitter": type(self).__name__,
            "penalizer_coef": self.penalizer_coef,
        }
        for name in ("params_", "standard_errors_"):
            if isinstance(getattr(self, name, None), pd.Series):
                payload[name] = {str(k): float(v) for k, v in getattr(self, name).items()}
        if isinstance(getattr(self, "variance_matrix_", None), pd.DataFrame):
            payload["variance_matrix_"] = self.variance_matrix_.to_numpy().tolist()
        for name in ("_scale", "_negative_log_likelihood_"):
            if hasattr(self, name):
                payload[name] = float(getattr(self, name))
        data = getattr(self, "data", None)
        if save_data and isinstance(data, pd.DataFrame):
            payload["data"] = json.loads(data.to_json(orient="split"))
            payload["data_dtypes"] = {c: str(t) for c, t in data.dtypes.items()}
        Path(path).write_text(json.dumps(payload, allow_nan=True))

    def load_model(self, path) -> None:
        """Read a file written by :meth:`save_model` into this fitter (lifetimes' dill files are not read)."""
        try:
            payload = json.loads(Path(path).read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(
                f"{path} is not a model saved by cvm.compat.lifetimes (a lifetimes/dill pickle is not read: "
                "cvm does not unpickle files); refit, or copy the fitter's params_ by name"
            ) from None
        if payload.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path} is not a model saved by cvm.compat.lifetimes")
        if payload.get("fitter") != type(self).__name__:
            raise ValueError(f"{path} holds a {payload.get('fitter')}, not a {type(self).__name__}")
        self.penalizer_coef = payload["penalizer_coef"]
        if "params_" in payload:
            self.params_ = pd.Series(payload["params_"], dtype=float)
        if "variance_matrix_" in payload:
            self.variance_matrix_ = pd.DataFrame(payload["variance_matrix_"], index=self.params_.index,
                                                 columns=self.params_.index, dtype=float)
            self.standard_errors_ = pd.Series(payload["standard_errors_"], dtype=float)
            self._store_uncertainty(np.asarray(self.variance_matrix_) / (self.params_**2).to_numpy())
        for name in ("_scale", "_negative_log_likelihood_"):
            if name in payload:
                setattr(self, name, payload[name])
        if "data" in payload:
            split = payload["data"]
            frame = pd.DataFrame(split["data"], columns=split["columns"], index=split["index"])
            self.data = frame.astype(payload.get("data_dtypes", {}))
        else:
            self.data = None


# ----------------------------------------------------------------------------
# continuous-time purchase models
# ----------------------------------------------------------------------------


class _PurchaseFitter(BaseFitter):
    """BG/NBD, MBG/NBD and Pareto/NBD: ``(frequency, recency, T)`` histories in continuous time."""

    #: parameters that carry the time unit (divided by the time scale after a fit)
    _time_params: ClassVar[tuple[str, ...]] = ("alpha",)
    #: True when lifetimes' log-likelihood is summed, not averaged (its Pareto/NBD)
    _summed: ClassVar[bool] = False
    #: BG/NBD predictions ignore recency when frequency is 0 (lifetimes' formulas do), so it is set to 0
    _recency_unused_without_repeats: ClassVar[bool] = False
    #: lifetimes' conditional_probability_alive ends in np.atleast_1d
    _alive_always_array: ClassVar[bool] = True

    def fit(self, frequency, recency, T, weights=None, initial_params=None, verbose=False, tol=1e-7, index=None,
            **kwargs):
        """Fit on ``(frequency, recency, T)`` as lifetimes does (same estimates, see the module docstring).

        ``tol`` and the optimiser options in ``kwargs`` are accepted for lifetimes'
        signature; cvm's optimiser always runs until the gradient vanishes.
        ``initial_params`` are lifetimes' log-parameters of the rescaled problem.
        """
        frequency = np.asarray(frequency).astype(int)
        recency = np.asarray(recency, dtype=float)
        T = np.asarray(T, dtype=float)
        check_inputs(frequency, recency, T)
        weights = np.ones_like(recency, dtype=int) if weights is None else np.asarray(weights)
        self._fit_native(frequency, recency, T, weights, initial_params, verbose)
        self.data = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T, "weights": weights}, index=index)
        return self

    def _fit_native(self, frequency, recency, T, weights, initial_params, verbose):
        scale = 1.0 / T.max()
        rows = len(frequency)
        penalizer = self.penalizer_coef / rows if self._summed else self.penalizer_coef
        names = [self._renamed.get(n, n) for n in self._names]
        initial = None if initial_params is None else dict(zip(names, np.exp(np.asarray(initial_params, float))))
        native = self._native_class()(penalizer=penalizer)
        try:
            # a customer of age 0 (x = 0, t_x = 0, T = 0) adds exactly 0 to the log-likelihood in every model;
            # 1e-300 keeps cvm's "T > 0" rule without changing a digit
            native.fit(frequency.astype(float), recency * scale, np.where(T == 0, 1e-300, T * scale), weights=weights,
                       initial=initial)
        except ConvergenceError as exc:
            raise ConvergenceError(
                "The model did not converge. Try adding a larger penalizer to see if that helps convergence.\n"
                + exc.message, exc.hint) from None
        scaled = native.params_
        self._scale = scale
        values = [scaled[self._renamed.get(n, n)] / (scale if n in self._time_params else 1.0) for n in self._names]
        self.params_ = pd.Series(values, index=list(self._names), dtype=float)
        mean_nll = -native.log_likelihood_ / float(np.sum(weights))
        self._negative_log_likelihood_ = (rows if self._summed else 1.0) * mean_nll + self.penalizer_coef * float(
            np.sum(scaled.to_numpy() ** 2))
        cov = native.covariance_
        self._store_uncertainty(None if cov is None else cov.to_numpy())
        if verbose:
            print(native.summary())

    # ------------------------------------------------------------ helpers
    def _histories(self, *columns):
        """Broadcast columns to 1-d float arrays (recency set to 0 where lifetimes' formula ignores it)."""
        arrays = np.broadcast_arrays(*(as_column(c) for c in columns))
        arrays = [np.array(a, dtype=float) for a in arrays]
        # age 0 (first purchase today): every formula is continuous there; 1e-300 adds nothing to alpha + T
        arrays[-1] = np.where(arrays[-1] == 0, 1e-300, arrays[-1])
        if self._recency_unused_without_repeats:
            x, tx = arrays[-3], arrays[-2]
            arrays[-2] = np.where(x == 0, 0.0, tx)
        return arrays

    # ---------------------------------------------------------- predictions
    def conditional_expected_number_of_purchases_up_to_time(self, t, frequency, recency, T):
        """Expected repeat purchases in the next ``t`` given ``(frequency, recency, T)``: cvm's ``expected_purchases``."""
        tt, x, tx, TT = self._histories(t, frequency, recency, T)
        return like_lifetimes(self._model().expected_purchases(tt, x, tx, TT), t, frequency, recency, T)

    def predict(self, t, frequency, recency, T):
        """lifetimes' alias of :meth:`conditional_expected_number_of_purchases_up_to_time`."""
        return self.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)

    def conditional_probability_alive(self, frequency, recency, T):
        """P(alive | frequency, recency, T): cvm's ``probability_alive``."""
        x, tx, TT = self._histories(frequency, recency, T)
        return like_lifetimes(self._model().probability_alive(x, tx, TT), frequency, recency, T,
                              always_array=self._alive_always_array)

    def conditional_probability_alive_matrix(self, max_frequency=None, max_recency=None):
        """P(alive) for every ``frequency`` 0..max (columns) and ``recency`` 0..max (rows), with ``T = max_recency``.

        Cells that are impossible histories (no repeat purchase but a recency above 0) are
        NaN where the model's formula depends on recency (MBG/NBD, Pareto/NBD); lifetimes
        fills them with the formula's value for that impossible history.
        """
        max_frequency = max_frequency or int(self.data["frequency"].max())
        max_recency = max_recency or int(self.data["T"].max())
        rec, freq = np.meshgrid(np.arange(max_recency + 1.0), np.arange(max_frequency + 1.0), indexing="ij")
        x, tx = freq.ravel(), rec.ravel()
        if self._recency_unused_without_repeats:
            tx = np.where(x == 0, 0.0, tx)
        possible = (x > 0) | (tx == 0)
        out = np.full(x.shape, np.nan)
        out[possible] = self._model().probability_alive(x[possible], tx[possible], np.full(possible.sum(), float(max_recency)))
        return out.reshape(rec.shape)

    def expected_number_of_purchases_up_to_time(self, t):
        """E[X(t)] for a new customer: cvm's ``expected_purchases_new``."""
        return like_lifetimes(self._model().expected_purchases_new(as_column(t)), t)

    def generate_new_data(self, size: int = 1, seed=None) -> pd.DataFrame:
        """Histories drawn from the fitted model for the fitted customers' ``T`` (cvm's ``simulate``).

        lifetimes draws ``size`` customers when ``T`` is a number; here ``T`` is the fitted
        data's, one customer per row, and the frame has ``frequency, recency, T``.
        """
        T = self.data["T"].to_numpy(float)
        return self._model().simulate(len(T), T, seed=seed)


class BetaGeoFitter(_PurchaseFitter):
    """lifetimes' BG/NBD fitter over :class:`cvm.models.BGNBD` (Fader, Hardie & Lee 2005)."""

    _native_name = "BGNBD"
    _names = ("r", "alpha", "a", "b")
    _recency_unused_without_repeats = True

    def probability_of_n_purchases_up_to_time(self, t, n):
        """P(X(t) = n) for a new customer (FHL 2005, eq. 8): cvm's ``purchase_probability(n=n, t=t)``."""
        return like_lifetimes(self._model().purchase_probability(n=as_column(n), t=as_column(t)), t, n)


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """lifetimes' MBG/NBD fitter over :class:`cvm.models.MBGNBD` (Batislam et al. 2007)."""

    _native_name = "MBGNBD"
    _recency_unused_without_repeats = False


class ParetoNBDFitter(_PurchaseFitter):
    """lifetimes' Pareto/NBD fitter over :class:`cvm.models.ParetoNBD` (Schmittlein et al. 1987).

    Unlike lifetimes (Nelder-Mead from a random start, ``tol=1e-4``), the fit is the
    exact optimum of lifetimes' objective, and it has standard errors.
    """

    _native_name = "ParetoNBD"
    _names = ("r", "alpha", "s", "beta")
    _time_params = ("alpha", "beta")
    _summed = True
    _alive_always_array = False

    def fit(self, frequency, recency, T, weights=None, iterative_fitting=1, initial_params=None, verbose=False,
            tol=1e-4, index=None, fit_method="Nelder-Mead", maxiter=2000, **kwargs):
        """Fit as lifetimes does; ``iterative_fitting``, ``fit_method`` and ``maxiter`` are accepted and
        checked as lifetimes checks them, but one deterministic fit finds the optimum.

        ``initial_params`` are the natural-scale parameters of the rescaled problem (lifetimes'
        Pareto/NBD optimises those, not their logarithms).
        """
        if iterative_fitting <= 0:
            raise ValueError("iterative_fitting parameter should be greater than 0 as of lifetimes v0.2.1")
        if iterative_fitting > 1 and initial_params is not None:
            raise ValueError(
                "iterative_fitting and initial_params should not be both set, as no improvement could be made.")
        log_initial = None if initial_params is None else np.log(np.asarray(initial_params, dtype=float))
        return super().fit(frequency, recency, T, weights=weights, initial_params=log_initial, verbose=verbose,
                           tol=tol, index=index)

    def conditional_probability_of_n_purchases_up_to_time(self, n, t, frequency, recency, T):
        r"""P(X(T, T+t) = n | x, t_x, T): Fader, Hardie & Lee (2006), "Deriving the conditional PMF
        of the Pareto/NBD model", note 028, eq. (16).

        With :math:`\bar\alpha = \min(\alpha, \beta)`, :math:`\hat\alpha = \max(\alpha, \beta)`, ``L`` the
        customer's likelihood (cvm's Pareto/NBD likelihood) and ``P(alive)``:

        .. math::
            \delta_{n=0}(1 - P(\text{alive}))
            + \frac{t^n}{n!}\frac{\Gamma(r+x+n)\alpha^r\beta^s}{\Gamma(r)(\alpha+T+t)^{r+x+n}(\beta+T+t)^s L}
            + \frac{\alpha^r\beta^s B(r+x+n, s+1)}{\Gamma(r)\Gamma(s) L}\Big[
              \frac{\Gamma(r+s+x)\,{}_2F_1(r+s+x, c; r+s+x+n+1; z_0)}{(\hat\alpha+T)^{r+s+x}}
              - \sum_{i=0}^{n}\frac{t^i}{i!}\frac{\Gamma(r+s+x+i)\,{}_2F_1(r+s+x+i, c; r+s+x+n+1; z_t)}
                {(\hat\alpha+T+t)^{r+s+x+i}}\Big]

        with ``c = r + x + n`` when ``alpha < beta`` and ``s + 1`` otherwise,
        :math:`z_0 = |\alpha-\beta|/(\hat\alpha+T)`, :math:`z_t = |\alpha-\beta|/(\hat\alpha+T+t)`.
        ``n`` is a whole number and ``t`` one number (as in lifetimes); ``t <= 0`` gives 0.
        """
        if t <= 0:
            return 0
        n = int(n)
        x, tx, TT = self._histories(frequency, recency, T)
        model = self._model()
        r, alpha, s, beta = (float(v) for v in self._unload_params(*self._names))
        p_alive = model.probability_alive(x, tx, TT)
        log_l = model._log_likelihood(np.array([r, alpha, s, beta]), {"frequency": x, "recency": tx, "T": TT})
        top = max(alpha, beta)
        c = r + x + n if alpha < beta else np.full(x.shape, s + 1.0)
        lead = r * np.log(alpha) + s * np.log(beta)
        log_b = betaln(r + x + n, s + 1.0)
        first = (n * np.log(t) - gammaln(n + 1.0) + gammaln(r + x + n) + lead - gammaln(r)
                 - (r + x + n) * np.log(alpha + (TT + t)) - s * np.log(beta + (TT + t)) - log_l)
        second = (lead + gammaln(r + s + x) + log_b + np.log(hyp2f1(r + s + x, c, r + s + x + n + 1.0, abs(alpha - beta) / (top + TT)))
                  - gammaln(r) - gammaln(s) - (r + s + x) * np.log(top + TT) - log_l)
        third_terms = [
            i * np.log(t) - gammaln(i + 1.0) + lead + gammaln(r + s + x + i) + log_b
            + np.log(hyp2f1(r + s + x + i, c, r + s + x + n + 1.0, abs(alpha - beta) / (top + TT + t)))
            - gammaln(r) - gammaln(s) - (r + s + x + i) * np.log(top + TT + t) - log_l
            for i in range(n + 1)
        ]
        third = logsumexp(np.vstack(third_terms), axis=0)
        zeroth = (1.0 - p_alive) if n == 0 else 0.0
        value = zeroth + np.exp(first) + np.exp(second) - np.exp(third)
        return like_lifetimes(value, frequency, recency, T)


# ----------------------------------------------------------------------------
# BG/BB
# ----------------------------------------------------------------------------


class BetaGeoBetaBinomFitter(BaseFitter):
    """lifetimes' BG/BB fitter over :class:`cvm.models.BGBB` (Fader, Hardie & Shang 2010)."""

    _native_name = "BGBB"
    _names = ("alpha", "beta", "gamma", "delta")

    def fit(self, frequency, recency, n_periods, weights=None, initial_params=None, verbose=False, tol=1e-7,
            index=None, **kwargs):
        """Fit on ``(frequency, recency, n_periods)`` (whole numbers), with ``weights`` counting customers."""
        frequency = np.asarray(frequency).astype(int)
        recency = np.asarray(recency).astype(int)
        n_periods = np.asarray(n_periods).astype(int)
        weights = np.ones_like(recency) if weights is None else np.asarray(weights)
        check_inputs(frequency, recency, n_periods)
        initial = None if initial_params is None else dict(zip(self._names, np.exp(np.asarray(initial_params, float))))
        native = self._native_class()(penalizer=self.penalizer_coef)
        native.fit(frequency.astype(float), recency.astype(float), n_periods.astype(float), weights=weights, initial=initial)
        self.params_ = pd.Series(native.params_.to_numpy(), index=list(self._names), dtype=float)
        self._negative_log_likelihood_ = -native.log_likelihood_ / float(np.sum(weights)) + self.penalizer_coef * float(
            np.sum(native.params_.to_numpy() ** 2))
        cov = native.covariance_
        self._store_uncertainty(None if cov is None else cov.to_numpy())
        self.data = pd.DataFrame({"frequency": frequency, "recency": recency, "n_periods": n_periods,
                                  "weights": weights}, index=index)
        if verbose:
            print(native.summary())
        return self

    def _histories(self, m, frequency, recency, n_periods):
        return [np.array(a, dtype=float) for a in np.broadcast_arrays(*(as_column(c) for c in (m, frequency, recency, n_periods)))]

    def conditional_expected_number_of_purchases_up_to_time(self, m_periods_in_future, frequency, recency, n_periods):
        """Expected purchases in the next ``m_periods_in_future`` opportunities (FHS 2010, eq. 13)."""
        m, x, tx, n = self._histories(m_periods_in_future, frequency, recency, n_periods)
        return like_lifetimes(self._model().expected_purchases(m, x, tx, n), m_periods_in_future, frequency, recency, n_periods)

    def conditional_probability_alive(self, m_periods_in_future, frequency, recency, n_periods):
        """P(alive at opportunity ``n_periods + m_periods_in_future``) (FHS 2010, eq. A10):
        cvm's ``probability_alive(frequency, recency, n_periods, future=m)``."""
        m, x, tx, n = self._histories(m_periods_in_future, frequency, recency, n_periods)
        return like_lifetimes(self._model().probability_alive(x, tx, n, future=m), m_periods_in_future, frequency,
                              recency, n_periods)

    def expected_number_of_transactions_in_first_n_periods(self, n):
        """Expected number of customers with each observed ``frequency`` over ``n`` opportunities
        (FHS 2010, eq. 7 times the number of customers), a frame indexed by ``frequency``."""
        counts = self.data.groupby("frequency")["weights"].sum()
        x = np.asarray(counts.index)
        probs = self._model().purchase_probability(n=x.astype(float), t=np.full(x.shape, float(n)))
        return pd.DataFrame(np.asarray(probs) * counts.sum(), index=pd.Index(x, name="frequency"), columns=["model"])

    def generate_new_data(self, size: int = 1, seed=None) -> pd.DataFrame:
        """Histories drawn from the fitted model, one per fitted customer (weights expanded)."""
        n = np.repeat(self.data["n_periods"].to_numpy(), self.data["weights"].to_numpy().astype(int))
        return self._model().simulate(len(n), n, seed=seed)


# ----------------------------------------------------------------------------
# gamma-gamma
# ----------------------------------------------------------------------------


class GammaGammaFitter(BaseFitter):
    """lifetimes' gamma-gamma spend model over :class:`cvm.models.GammaGamma` (lifetimes' ``v`` is cvm's ``gamma``)."""

    _native_name = "GammaGamma"
    _names = ("p", "q", "v")
    _renamed = {"v": "gamma"}

    def fit(self, frequency, monetary_value, weights=None, initial_params=None, verbose=False, tol=1e-7, index=None,
            q_constraint=False, **kwargs):
        """Fit on the repeat customers' ``(frequency, monetary_value)``.

        ``q_constraint=True`` keeps ``q >= 1`` (so the population mean spend exists), as
        lifetimes' bounded fit does.
        """
        check_inputs(np.asarray(frequency), monetary_value=np.asarray(monetary_value))
        frequency = np.asarray(frequency).astype(float)
        monetary_value = np.asarray(monetary_value).astype(float)
        weights = np.ones_like(frequency, dtype=int) if weights is None else np.asarray(weights)
        initial = None if initial_params is None else dict(zip(("p", "q", "gamma"), np.exp(np.asarray(initial_params, float))))
        native = self._native_class()(penalizer=self.penalizer_coef)
        native.fit(frequency, monetary_value, weights=weights, initial=initial)
        theta, cov = native.params_.to_numpy(), native.covariance_
        cov = None if cov is None else cov.to_numpy()
        if q_constraint and theta[1] < 1.0:
            theta, cov = self._fit_with_q_at_least_one(native, frequency, monetary_value, weights, theta)
        self.data = pd.DataFrame({"monetary_value": monetary_value, "frequency": frequency, "weights": weights}, index=index)
        self.params_ = pd.Series(theta, index=list(self._names), dtype=float)
        self._negative_log_likelihood_ = self._objective(native, np.log(theta), frequency, monetary_value, weights)[0]
        self._store_uncertainty(cov)
        if verbose:
            print(native.summary())
        return self

    def _objective(self, native, z, x, m, w):
        """lifetimes' objective in log-parameters: mean negative log-likelihood plus the penalty, and its gradient."""
        theta = np.exp(z)
        data = {"frequency": x, "monetary_value": m}
        total = float(np.sum(w))
        with np.errstate(all="ignore"):
            value = -np.dot(w, native._log_likelihood(theta, data)) / total + self.penalizer_coef * np.sum(theta**2)
            grad = (-(w @ native._gradient(theta, data)) / total + 2 * self.penalizer_coef * theta) * theta
        return float(value), grad

    def _fit_with_q_at_least_one(self, native, x, m, w, theta):
        """Minimise with ``log q >= 0`` (L-BFGS-B bounds, as lifetimes' ``q_constraint``); covariance from the
        Hessian of the total objective at that point (central differences of the exact gradient)."""
        res = optimize.minimize(lambda z: self._objective(native, z, x, m, w), np.log(np.maximum(theta, [1e-6, 1.0, 1e-6])),
                                jac=True, method="L-BFGS-B", bounds=[(None, None), (0.0, None), (None, None)],
                                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000})
        z = res.x
        hess = np.zeros((3, 3))
        for j in range(3):
            e = np.zeros(3)
            e[j] = 1e-5
            hess[:, j] = (self._objective(native, z + e, x, m, w)[1] - self._objective(native, z - e, x, m, w)[1]) / 2e-5
        hess = 0.5 * (hess + hess.T) * float(np.sum(w))
        try:
            cov = np.linalg.inv(hess)
        except np.linalg.LinAlgError:
            cov = np.full((3, 3), np.nan)
        return np.exp(z), cov

    def conditional_expected_average_profit(self, frequency=None, monetary_value=None):
        """Posterior mean spend per transaction (Fader & Hardie 2013, eq. 5); the fitted data by default."""
        if monetary_value is None:
            monetary_value = self.data["monetary_value"]
        if frequency is None:
            frequency = self.data["frequency"]
        x, m = (np.array(a, dtype=float) for a in np.broadcast_arrays(as_column(frequency), as_column(monetary_value)))
        p, q, v = (float(u) for u in self._unload_params("p", "q", "v"))
        if q > 1:
            spend = self._model().expected_spend(x, np.where(x > 0, m, 1.0))
        else:  # the population mean does not exist; lifetimes' weighted average still gives a number
            weight = p * x / (p * x + q - 1)
            spend = (1 - weight) * v * p / (q - 1) + weight * m
        return like_lifetimes(spend, frequency, monetary_value)

    def customer_lifetime_value(self, transaction_prediction_model, frequency, recency, T, monetary_value, time=12,
                                discount_rate=0.01, freq="D"):
        """Discounted CLV over ``time`` months with the spend of :meth:`conditional_expected_average_profit`
        (see :func:`cvm.compat.lifetimes.utils._customer_lifetime_value`)."""

        adjusted = self.conditional_expected_average_profit(frequency, monetary_value)
        return _customer_lifetime_value(transaction_prediction_model, frequency, recency, T, adjusted, time,
                                        discount_rate, freq=freq)


__all__ = ["BaseFitter", "BetaGeoBetaBinomFitter", "BetaGeoFitter", "GammaGammaFitter", "ModifiedBetaGeoFitter",
           "ParetoNBDFitter"]
