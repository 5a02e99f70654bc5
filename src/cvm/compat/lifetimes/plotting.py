"""lifetimes.plotting: the same figures drawn with matplotlib on an ``ax``, from the compat fitters.

matplotlib is an optional extra (``pip install cvm[plot]``); it is imported when a
function is called. Every function returns the matplotlib axes it drew on; where
lifetimes takes ``ax`` it is honoured, elsewhere the current axes (or a new figure)
are used, as in lifetimes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cvm.compat.lifetimes.utils import calculate_alive_path, expected_cumulative_transactions


def _pyplot():
    try:
        from matplotlib import pyplot as plt
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("cvm.compat.lifetimes.plotting needs matplotlib: pip install 'cvm[plot]'") from None
    return plt


def _square(ax) -> None:
    """Make an image's cells square whatever the matrix's shape (lifetimes' ``forceAspect``)."""
    left, right, bottom, top = ax.get_images()[0].get_extent()
    ax.set_aspect(abs((right - left) / (top - bottom)))


def plot_period_transactions(model, max_frequency=7, title="Frequency of Repeat Transactions",
                             xlabel="Number of Calibration Period Transactions", ylabel="Customers", **kwargs):
    """Bars of customers per number of repeat transactions: the data against data simulated from the model."""
    _pyplot()
    labels = kwargs.pop("label", ["Actual", "Model"])
    simulated = model.generate_new_data(size=model.data.shape[0])
    actual = model.data["frequency"].value_counts().sort_index().iloc[:max_frequency]
    drawn = simulated["frequency"].value_counts().sort_index().iloc[:max_frequency]
    counts = pd.concat([actual, drawn], axis=1).fillna(0)
    counts.columns = labels
    ax = counts.plot(kind="bar", **kwargs)
    ax.legend()
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    return ax


def plot_calibration_purchases_vs_holdout_purchases(model, calibration_holdout_matrix, kind="frequency_cal", n=7,
                                                    **kwargs):
    """Mean holdout purchases, actual and predicted, by a calibration statistic (``kind``)."""
    _pyplot()
    x_labels = {
        "frequency_cal": "Purchases in calibration period",
        "recency_cal": "Age of customer at last purchase",
        "T_cal": "Age of customer at the end of calibration period",
        "time_since_last_purchase": "Time since user made last purchase",
    }
    summary = calibration_holdout_matrix.copy()
    duration = summary.iloc[0]["duration_holdout"]
    summary["model_predictions"] = model.conditional_expected_number_of_purchases_up_to_time(
        duration, summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
    if kind == "time_since_last_purchase":
        summary["time_since_last_purchase"] = summary["T_cal"] - summary["recency_cal"]
    ax = summary.groupby(kind)[["frequency_holdout", "model_predictions"]].mean().iloc[:n].plot(**kwargs)
    ax.set_title("Actual Purchases in Holdout Period vs Predicted Purchases")
    ax.set_xlabel(x_labels[kind])
    ax.set_ylabel("Average of Purchases in Holdout Period")
    ax.legend()
    return ax


def plot_frequency_recency_matrix(model, T=1, max_frequency=None, max_recency=None, title=None,
                                  xlabel="Customer's Historical Frequency", ylabel="Customer's Recency", **kwargs):
    """Heat map of expected purchases in the next ``T`` by frequency (columns) and recency (rows), age = max recency."""
    plt = _pyplot()
    max_frequency = int(model.data["frequency"].max()) if max_frequency is None else max_frequency
    max_recency = int(model.data["T"].max()) if max_recency is None else max_recency
    rec, freq = np.meshgrid(np.arange(max_recency + 1.0), np.arange(max_frequency + 1.0), indexing="ij")
    rec = np.where(freq == 0, 0.0, rec) if getattr(model, "_recency_unused_without_repeats", False) else rec
    possible = (freq > 0) | (rec == 0)
    z = np.full(rec.shape, np.nan)
    z[possible] = np.asarray(model.conditional_expected_number_of_purchases_up_to_time(
        T, freq[possible], rec[possible], np.full(possible.sum(), float(max_recency))), dtype=float)
    interpolation = kwargs.pop("interpolation", "none")
    ax = kwargs.pop("ax", None) or plt.subplot(111)
    image = ax.imshow(z, interpolation=interpolation, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is None:
        title = (f"Expected Number of Future Purchases for {T} Unit{'s'[T == 1:]} of Time,"
                 "\nby Frequency and Recency of a Customer")
    ax.set_title(title)
    _square(ax)
    plt.colorbar(image, ax=ax)
    return ax


def plot_probability_alive_matrix(model, max_frequency=None, max_recency=None,
                                  title="Probability Customer is Alive,\nby Frequency and Recency of a Customer",
                                  xlabel="Customer's Historical Frequency", ylabel="Customer's Recency", **kwargs):
    """Heat map of ``model.conditional_probability_alive_matrix``."""
    plt = _pyplot()
    z = model.conditional_probability_alive_matrix(max_frequency, max_recency)
    interpolation = kwargs.pop("interpolation", "none")
    ax = kwargs.pop("ax", None) or plt.subplot(111)
    image = ax.imshow(z, interpolation=interpolation, **kwargs)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _square(ax)
    plt.colorbar(image, ax=ax)
    return ax


def plot_expected_repeat_purchases(model, title="Expected Number of Repeat Purchases per Customer",
                                   xlabel="Time Since First Purchase", ax=None, label=None, **kwargs):
    """E[X(t)] of a new customer up to the largest age (solid) and half as far again (dashed)."""
    plt = _pyplot()
    ax = ax or plt.subplot(111)
    color = kwargs.pop("c", None) or kwargs.pop("color", None) or ax._get_lines.get_next_color()
    max_T = model.data["T"].max()
    inside = np.linspace(0, max_T, 100)
    ax.plot(inside, model.expected_number_of_purchases_up_to_time(inside), color=color, label=label, **kwargs)
    beyond = np.linspace(max_T, 1.5 * max_T, 100)
    ax.plot(beyond, model.expected_number_of_purchases_up_to_time(beyond), color=color, ls="--", **kwargs)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right")
    return ax


def plot_history_alive(model, t, transactions, datetime_col, freq="D", start_date=None, ax=None, **kwargs):
    """One customer's P(alive) over ``t`` periods since the first purchase, purchases as dashed lines."""
    plt = _pyplot()
    stamps = pd.to_datetime(transactions[datetime_col])
    start_date = stamps.min() if start_date is None else start_date
    ax = ax or plt.subplot(111)
    path = calculate_alive_path(model, transactions, datetime_col, t, freq)
    path_dates = pd.date_range(start=stamps.min(), periods=len(path), freq=freq)
    ax.plot(path_dates, path.to_numpy(), "-", label="P_alive")
    per_period = pd.Series(1, index=pd.DatetimeIndex(stamps)).resample(freq).sum()
    ax.vlines(per_period[per_period >= 1].index.to_numpy(), ymin=0, ymax=1, colors="r", linestyles="dashed",
              label="purchases")
    ax.set_ylim(0, 1.0)
    ax.set_yticks(np.arange(0, 1.1, 0.1))
    ax.set_xlim(start_date, path_dates[-1])
    ax.legend(loc=3)
    ax.set_ylabel("P_alive")
    ax.set_title("History of P_alive")
    return ax


def _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq, set_index_date,
              title, xlabel, ylabel, ax, incremental, **kwargs):
    plt = _pyplot()
    ax = ax or plt.subplot(111)
    frame = expected_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t,
                                             datetime_format=datetime_format, freq=freq, set_index_date=set_index_date)
    if incremental:
        frame = frame.apply(lambda column: column - column.shift(1))
    ax = frame.plot(ax=ax, title=title, **kwargs)
    if set_index_date:
        x_line, xlabel = frame.index[int(t_cal)], "date"
    else:
        x_line = t_cal
    ax.axvline(x=x_line, color="r", linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_cumulative_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format=None,
                                 freq="D", set_index_date=False, title="Tracking Cumulative Transactions",
                                 xlabel="day", ylabel="Cumulative Transactions", ax=None, **kwargs):
    """Actual and predicted cumulative repeat transactions (:func:`~cvm.compat.lifetimes.utils.expected_cumulative_transactions`),
    a red line at the end of calibration ``t_cal``."""
    return _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
                     set_index_date, title, xlabel, ylabel, ax, False, **kwargs)


def plot_incremental_transactions(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format=None,
                                  freq="D", set_index_date=False, title="Tracking Daily Transactions", xlabel="day",
                                  ylabel="Transactions", ax=None, **kwargs):
    """Actual and predicted repeat transactions per period (differences of the cumulative tracking)."""
    return _tracking(model, transactions, datetime_col, customer_id_col, t, t_cal, datetime_format, freq,
                     set_index_date, title, xlabel, ylabel, ax, True, **kwargs)


def _density(rv, mean, var, suptitle, xlabel, ylabel, suptitle_fontsize, ax, **kwargs):
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(1)
    else:
        fig = ax.figure
    x = np.linspace(0, rv.ppf(0.99), 100)
    fig.suptitle(suptitle, fontsize=suptitle_fontsize, fontweight="bold")
    ax.set_title(f"mean: {mean:.3f}, var: {var:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout(rect=[0, 0.03, 1, 0.95])
    ax.plot(x, rv.pdf(x), **kwargs)
    return ax


def plot_transaction_rate_heterogeneity(model, suptitle="Heterogeneity in Transaction Rate",
                                        xlabel="Transaction Rate", ylabel="Density", suptitle_fontsize=14, ax=None,
                                        **kwargs):
    """Density of the purchase rate, Gamma(r, alpha): mean ``r/alpha``, variance ``r/alpha**2``."""
    r, alpha = model._unload_params("r", "alpha")
    return _density(stats.gamma(r, scale=1 / alpha), r / alpha, r / alpha**2, suptitle, xlabel, ylabel,
                    suptitle_fontsize, ax, **kwargs)


def plot_dropout_rate_heterogeneity(model, suptitle="Heterogeneity in Dropout Probability",
                                    xlabel="Dropout Probability p", ylabel="Density", suptitle_fontsize=14, ax=None,
                                    **kwargs):
    """Density of the dropout probability, Beta(a, b): mean ``a/(a+b)``, variance ``ab/((a+b)^2 (a+b+1))``."""
    a, b = model._unload_params("a", "b")
    return _density(stats.beta(a, b), a / (a + b), a * b / (a + b) ** 2 / (a + b + 1), suptitle, xlabel, ylabel,
                    suptitle_fontsize, ax, **kwargs)


__all__ = [
    "plot_calibration_purchases_vs_holdout_purchases", "plot_cumulative_transactions",
    "plot_dropout_rate_heterogeneity", "plot_expected_repeat_purchases", "plot_frequency_recency_matrix",
    "plot_history_alive", "plot_incremental_transactions", "plot_period_transactions",
    "plot_probability_alive_matrix", "plot_transaction_rate_heterogeneity",
]
