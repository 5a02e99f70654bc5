"""Time-invariant customer covariates for the purchase models (BG/NBD family and Pareto/NBD):
Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD models".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cvm.errors import SchemaError
from cvm.models.base import as_float_array, columns_from


def _covariate_list(names, what) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    out = tuple(str(n) for n in names)
    if len(set(out)) != len(out):
        raise SchemaError(f"{what} lists a covariate twice: {', '.join(out)}")
    return out


class CovariateSupport:
    r"""Time-invariant customer covariates that scale a model's heterogeneity parameters.

    A covariate vector :math:`z_i` (age, channel dummy, ...) moves customer
    ``i``'s scale parameters, e.g. :math:`\alpha_i = \alpha\,e^{-\gamma_1^\top z_i}`
    (Fader & Hardie 2007, "Incorporating time-invariant covariates into the
    Pareto/NBD and BG/NBD models"; CLVTools' Pareto/NBD parameterisation, and its BG/NBD with
    ``shared_dropout_coefficients``, see :class:`BGNBD`). The
    coefficients are free real parameters named ``purchase[age]`` etc.; all
    zeros give the model without covariates. Subclasses set ``_effects``: for
    each coefficient group its name prefix and whether it reads the purchase or
    the dropout covariates.
    """

    def _calibration_totals(self, data, weights):
        """``sum_i E[X(T_i)]`` (a new customer's expectation over her own period) and ``sum_i x_i``:
        the engine's calibration check for the purchase models without covariates."""
        if self.purchase_covariates or self.dropout_covariates:
            return None
        ages, inverse = np.unique(data["T"], return_inverse=True)
        expected = np.asarray(self.expected_purchases_new(ages), dtype=float)[inverse.ravel()]
        return float(weights @ expected), float(weights @ data["frequency"])

    #: (prefix, 'purchase' | 'dropout') for each coefficient group, in parameter order
    _effects: tuple[tuple[str, str], ...] = ()

    def _init_covariates(self, purchase_covariates, dropout_covariates) -> None:
        self.purchase_covariates = _covariate_list(purchase_covariates, "purchase_covariates")
        self.dropout_covariates = _covariate_list(dropout_covariates, "dropout_covariates")

    def _covariate_names(self) -> list[str]:
        """Every covariate the model reads, each once, in order."""
        return list(dict.fromkeys(self.purchase_covariates + self.dropout_covariates))

    def _groups(self):
        """(prefix, covariate names, first index in theta) for each coefficient group."""
        start = len(self.parameter_names)
        out = []
        for prefix, kind in self._effects:
            names = self.purchase_covariates if kind == "purchase" else self.dropout_covariates
            out.append((prefix, names, start))
            start += len(names)
        return out

    def _all_parameter_names(self) -> list[str]:
        return list(self.parameter_names) + [f"{prefix}[{c}]" for prefix, names, _ in self._groups() for c in names]

    def _settings(self):
        return {**super()._settings(), "purchase_covariates": list(self.purchase_covariates),
                "dropout_covariates": list(self.dropout_covariates)}

    def _covariate_columns(self, covariates, n_rows=None, frame=None) -> dict[str, np.ndarray]:
        """The model's covariates as data columns ``z:name`` (from ``covariates`` or, failing that, ``frame``)."""
        names = self._covariate_names()
        if not names:
            return {}
        source = covariates if covariates is not None else frame
        if source is None:
            raise SchemaError(
                f"this {type(self).__name__} uses covariates {', '.join(names)}; pass covariates=...",
                hint="a frame or a dict holding one value per customer for each covariate, in the customers' order",
            )
        if isinstance(source, Mapping):
            available = list(source)
        elif hasattr(source, "columns"):
            available = list(source.column_names) if hasattr(source, "column_names") else list(source.columns)
        else:
            raise SchemaError("covariates must be a data frame or a dict of columns", hint=f"columns needed: {', '.join(names)}")
        missing = [c for c in names if c not in available]
        if missing:
            raise SchemaError(
                f"covariates lack column(s) {', '.join(missing)}",
                hint=f"this model was set up with covariates {', '.join(names)}",
            )
        out = {f"z:{c}": as_float_array(source[c], f"covariate '{c}'") for c in names}
        if n_rows is not None:
            for c, v in out.items():
                if v.size not in (1, n_rows):
                    raise SchemaError(f"covariate '{c[2:]}' has {v.size} values for {n_rows} customers")
        return out

    def _scales(self, theta, data) -> list[np.ndarray | float]:
        """Per coefficient group: ``exp(gamma^T z_i)`` (an array), or 1.0 without covariates."""
        out = []
        for _, names, start in self._groups():
            if not names:
                out.append(1.0)
                continue
            lin = sum(theta[start + j] * data[f"z:{c}"] for j, c in enumerate(names))
            out.append(np.exp(lin))
        return out

    def _chain_covariates(self, g_base, theta, data, scaled) -> np.ndarray:
        """Full per-row gradient from the gradient in the per-customer parameters.

        ``g_base`` is ``(n, k)`` with respect to the per-customer values of the
        base parameters; ``scaled`` maps each coefficient group to
        ``(base column, sign)`` where the customer's value is
        ``theta_base * exp(sign * gamma^T z)``.
        """
        names = self._all_parameter_names()
        n = g_base.shape[0]
        g = np.zeros((n, len(names)))
        g[:, : g_base.shape[1]] = g_base
        for (prefix, cov, start), (col, sign), scale in zip(self._groups(), scaled, self._scales(theta, data)):
            if not cov:
                continue
            factor = scale if sign > 0 else 1.0 / scale
            value = theta[col] * factor  # the customer's parameter
            # d value / d base = factor; d value / d gamma_j = sign * value * z_j
            g[:, col] = g_base[:, col] * factor
            for j, c in enumerate(cov):
                g[:, start + j] = g_base[:, col] * sign * value * data[f"z:{c}"]
        return g

    def _fit_with_covariates(self, frequency, recency, T, weights, initial, covariates):
        cols = columns_from(frequency, [recency, T], self.data_columns, optional=("weights",))
        if weights is None and "weights" in cols:
            weights = cols.pop("weights")
        cols.pop("weights", None)
        frame = frequency if recency is None and T is None and hasattr(frequency, "columns") else None
        n = len(np.atleast_1d(as_float_array(cols["frequency"], "frequency")))
        cols.update(self._covariate_columns(covariates, n, frame))
        return self._fit(cols, weights, initial)

    def _initial_coefficients(self) -> np.ndarray:
        return np.zeros(len(self._all_parameter_names()) - len(self.parameter_names))

