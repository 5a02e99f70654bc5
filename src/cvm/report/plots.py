"""Plotly figures built from frames: what the report, the web app and a notebook show.

Each function takes a frame (or arrays) and returns a ``plotly.graph_objects.Figure``;
nothing here reads a workspace or fits a model, except the two small helpers
that evaluate a fitted model on a grid (:func:`frequency_recency_matrix`,
:func:`probability_alive_path`). Titles and axis labels are keyword
arguments, so the report can pass them in Dutch or English.

:func:`save_png` writes a static image through ``kaleido`` (which drives a
local Chrome or Chromium); when that is not available it raises a
:class:`~cvm.errors.CvmError` saying what to install.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from cvm.errors import CvmError, SchemaError

#: one colour per series, the same across every figure
PALETTE = ["#1f3b73", "#d9822b", "#2a9d8f", "#c0392b", "#7b5ea7", "#8c6d31", "#5d6d7e"]
ACTUAL_COLOUR = "#222222"


def _go():
    import plotly.graph_objects as go

    return go


#: keys whose strings are Plotly's own instructions, not text to show: left as they are
_TEMPLATE_KEYS = frozenset({"hovertemplate", "texttemplate", "template", "hovertemplatesrc"})


def plain_text(value: Any) -> Any:
    """A label made plain text for plotly.js: ``&``, ``<`` and ``>`` as entities (other values unchanged).

    plotly.js draws trace names, categories, hover texts and titles as a small
    HTML dialect (``<a href>``, ``<b>``, ``<br>``…) and turns the entities
    ``&amp; &lt; &gt;`` back into characters *after* reading the tags
    (``svg_text_utils.convertEntities``), so an escaped label is shown exactly as
    written. A channel ``<a href="https://evil.example">Klik</a>`` is then text,
    not a link.
    """
    if isinstance(value, str):
        if "&" in value or "<" in value or ">" in value:
            return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return value
    return value


def plain_text_figure(fig: Any) -> Any:
    """Every text of a figure made plain with :func:`plain_text` (a figure dict, or a ``go.Figure``).

    Walks the whole figure (traces, layout, annotations, axis tick texts, Sankey
    labels, custom data): whatever comes from data is text, wherever plotly.js
    shows it. Only hover and text templates, which cvm writes itself, keep their
    markup. A ``go.Figure`` gives a new ``go.Figure``; a dict a new dict.
    """
    if isinstance(fig, dict):
        return _plain(fig)
    for trace in fig.data:
        _plain_object(trace)
    _plain_object(fig.layout)
    return fig


def _plain_object(obj: Any) -> None:
    """:func:`plain_text` on every text of a plotly object, in place (arrays stay arrays)."""
    from plotly.basedatatypes import BasePlotlyType

    for key in list(obj.to_plotly_json()):
        if key in _TEMPLATE_KEYS or key == "type":
            continue
        value = obj[key]
        if isinstance(value, BasePlotlyType):
            _plain_object(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], BasePlotlyType):
            for item in value:
                _plain_object(item)
        elif _has_markup(value):
            obj[key] = _plain(value)


def _has_markup(value: Any) -> bool:
    """True when a string, or a list or array of strings, holds ``&``, ``<`` or ``>``."""
    if isinstance(value, str):
        return "&" in value or "<" in value or ">" in value
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "OU" and any(_has_markup(v) for v in value.ravel().tolist())
    if isinstance(value, (list, tuple)):
        return any(_has_markup(v) for v in value)
    return False


def _plain(value: Any, key: str | None = None) -> Any:
    if key in _TEMPLATE_KEYS:
        return value
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OU":
            return np.array([_plain(v) for v in value.ravel().tolist()], dtype=object).reshape(value.shape)
        return value
    if isinstance(value, pd.Series | pd.Index):
        return _plain(value.to_numpy())
    return value


def _layout(fig, title: str, x_title: str | None = None, y_title: str | None = None):
    """Title, margins, legend and axis titles of a cvm figure; every text in it made plain (:func:`plain_text_figure`)."""
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "y": -0.18},
        height=420,
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return plain_text_figure(fig)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"the {what} frame lacks column(s) {', '.join(missing)}")


# ----------------------------------------------------------------------------
# model validation
# ----------------------------------------------------------------------------


def tracking_figure(
    tracking: pd.DataFrame,
    cumulative: bool = True,
    title: str | None = None,
    x_title: str = "period",
    y_title: str = "repeat transactions",
    calibration_label: str = "end of calibration",
    names: Mapping[str, str] | None = None,
):
    """Actual against predicted repeat transactions per period (Fader, Hardie & Lee 2005, Fig. 3-4).

    ``tracking`` is the long frame of :class:`cvm.evaluation.BacktestResult`:
    columns ``period``, ``phase`` (``calibration``/``holdout``), ``series``
    (``actual`` or a model name), ``incremental`` and ``cumulative``. A
    dashed vertical line marks the last calibration period.
    """
    _require(tracking, ["period", "phase", "series", "incremental", "cumulative"], "tracking")
    go = _go()
    names = dict(names or {})
    column = "cumulative" if cumulative else "incremental"
    fig = go.Figure()
    colour = iter(PALETTE)
    for series, part in tracking.groupby("series", sort=False):
        is_actual = series == "actual"
        fig.add_trace(
            go.Scatter(
                x=part["period"], y=part[column], mode="lines", name=names.get(series, series),
                line={"color": ACTUAL_COLOUR if is_actual else next(colour), "width": 2.5 if is_actual else 1.8,
                      "dash": "solid" if is_actual else "dash"},
            )
        )
    cal = tracking.loc[tracking["phase"] == "calibration", "period"]
    if len(cal):
        fig.add_vline(x=float(cal.max()), line_dash="dot", line_color="#888888",
                      annotation_text=calibration_label, annotation_position="top left")
    default = "Cumulative repeat transactions" if cumulative else "Repeat transactions per period"
    return _layout(fig, title or default, x_title, y_title)


def conditional_figure(
    conditional: pd.DataFrame,
    title: str = "Holdout purchases by calibration frequency",
    x_title: str = "repeat purchases in calibration",
    y_title: str = "mean purchases in holdout",
    names: Mapping[str, str] | None = None,
):
    """Mean actual and predicted holdout purchases by calibration frequency (FHL 2005, Fig. 5).

    ``conditional`` is indexed by the frequency group; column ``actual`` and
    one column per model (``n_customers`` is skipped).
    """
    if "actual" not in conditional.columns:
        raise SchemaError("the conditional-expectation frame needs an 'actual' column")
    go = _go()
    names = dict(names or {})
    x = [str(v) for v in conditional.index]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=conditional["actual"], mode="lines+markers", name=names.get("actual", "actual"),
                             line={"color": ACTUAL_COLOUR, "width": 2.5}))
    colour = iter(PALETTE)
    for col in conditional.columns:
        if col in ("actual", "n_customers"):
            continue
        fig.add_trace(go.Scatter(x=x, y=conditional[col], mode="lines+markers", name=names.get(col, col),
                                 line={"color": next(colour), "dash": "dash"}))
    return _layout(fig, title, x_title, y_title)


def histogram_figure(
    histogram: pd.DataFrame,
    title: str = "Customers by repeat purchases in calibration",
    x_title: str = "repeat purchases in calibration",
    y_title: str = "customers",
    names: Mapping[str, str] | None = None,
):
    """Observed against expected numbers of customers with ``x = 0, 1, ..., 7+`` (FHL 2005, Fig. 2)."""
    if "observed" not in histogram.columns:
        raise SchemaError("the histogram frame needs an 'observed' column")
    go = _go()
    names = dict(names or {})
    x = [str(v) for v in histogram.index]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=x, y=histogram["observed"], name=names.get("observed", "observed"), marker_color=ACTUAL_COLOUR))
    colour = iter(PALETTE)
    for col in histogram.columns:
        if col == "observed":
            continue
        fig.add_trace(go.Bar(x=x, y=histogram[col], name=names.get(col, col), marker_color=next(colour)))
    fig.update_layout(barmode="group")
    return _layout(fig, title, x_title, y_title)


def probability_alive_calibration_figure(
    calibration: pd.DataFrame,
    title: str = "P(alive) against activity in the holdout",
    x_title: str = "predicted P(alive)",
    y_title: str = "share that bought in the holdout",
    names: Mapping[str, str] | None = None,
):
    """Binned P(alive) against the share of customers active in the holdout, one line per model.

    ``calibration`` has columns ``model``, ``predicted``, ``observed`` (see
    :func:`cvm.evaluation.metrics.calibration_table`). The diagonal is drawn for reference;
    P(alive) is an upper bound of the chance to buy, so points tend to lie below it.
    """
    _require(calibration, ["model", "predicted", "observed"], "P(alive) calibration")
    go = _go()
    names = dict(names or {})
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="y = x", line={"color": "#bbbbbb", "dash": "dot"}))
    colour = iter(PALETTE)
    for model, part in calibration.groupby("model", sort=False):
        fig.add_trace(go.Scatter(x=part["predicted"], y=part["observed"], mode="lines+markers",
                                 name=names.get(model, model), line={"color": next(colour)}))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return _layout(fig, title, x_title, y_title)


def frequency_recency_matrix(
    model: Any,
    T: float,
    quantity: str = "probability_alive",
    t: float = 1.0,
    max_frequency: int | None = None,
    n_recency: int = 40,
) -> pd.DataFrame:
    """Evaluate a fitted purchase model on a grid of frequency and recency for customers of age ``T``.

    ``quantity`` is ``probability_alive`` or ``expected_purchases`` (in the
    next ``t`` time units, ``E[Y(t) | x, t_x, T]``). Rows are frequencies
    ``0 .. max_frequency``, columns recency values in ``[0, T]``; customers
    with frequency 0 have recency 0 by definition, so their whole row uses
    ``t_x = 0``.
    """
    if T <= 0:
        raise SchemaError("T must be positive for a frequency/recency grid")
    if quantity not in ("probability_alive", "expected_purchases"):
        raise SchemaError(f"unknown quantity '{quantity}'", hint="use probability_alive or expected_purchases")
    max_frequency = int(max_frequency if max_frequency is not None else 20)
    freq = np.arange(max_frequency + 1, dtype=float)
    rec = np.linspace(0.0, float(T), n_recency)
    F, R = np.meshgrid(freq, rec, indexing="ij")
    R = np.where(F == 0, 0.0, R)
    TT = np.full_like(F, float(T))
    if quantity == "probability_alive":
        values = model.probability_alive(F.ravel(), R.ravel(), TT.ravel())
    else:
        values = model.expected_purchases(t, F.ravel(), R.ravel(), TT.ravel())
    grid = np.asarray(values, dtype=float).reshape(F.shape)
    return pd.DataFrame(grid, index=pd.Index(freq.astype(int), name="frequency"),
                        columns=pd.Index(np.round(rec, 2), name="recency"))


def heatmap_figure(
    matrix: pd.DataFrame,
    title: str,
    x_title: str | None = None,
    y_title: str | None = None,
    colour_title: str | None = None,
    colorscale: str = "Viridis",
    text_format: str | None = None,
):
    """A heatmap of any matrix frame (rows on the y axis, columns on the x axis).

    Used for the frequency/recency grids, the value matrix and the migration
    matrix. ``text_format`` (e.g. ``".0f"``) writes the values in the cells.
    """
    if matrix.empty:
        raise SchemaError("the matrix is empty; there is nothing to draw")
    go = _go()
    values = matrix.to_numpy(dtype=float)
    kwargs: dict[str, Any] = {}
    if text_format:
        kwargs = {"text": values, "texttemplate": "%{text:" + text_format + "}"}
    fig = go.Figure(go.Heatmap(
        z=values, x=[str(c) for c in matrix.columns], y=[str(i) for i in matrix.index],
        colorscale=colorscale, colorbar={"title": {"text": colour_title or ""}}, **kwargs,
    ))
    return _layout(fig, title, x_title or (matrix.columns.name or ""), y_title or (matrix.index.name or ""))


def migration_sankey_figure(matrix: pd.DataFrame, title: str = "Migration between tiers",
                            from_label: str = "from", to_label: str = "to"):
    """A Sankey diagram of a migration matrix (rows: group at the start, columns: group at the end)."""
    if matrix.empty:
        raise SchemaError("the migration matrix is empty; there is nothing to draw")
    go = _go()
    sources = [f"{r} ({from_label})" for r in matrix.index]
    targets = [f"{c} ({to_label})" for c in matrix.columns]
    labels = sources + targets
    s, t, v = [], [], []
    values = matrix.to_numpy(dtype=float)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if values[i, j] > 0:
                s.append(i)
                t.append(len(sources) + j)
                v.append(values[i, j])
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 12}, link={"source": s, "target": t, "value": v}))
    return _layout(fig, title)


# ----------------------------------------------------------------------------
# value distribution
# ----------------------------------------------------------------------------


def clv_histogram_figure(values: Any, title: str = "Distribution of predicted CLV", x_title: str = "CLV",
                         y_title: str = "customers", bins: int = 50):
    """Histogram of predicted customer lifetime values."""
    v = pd.Series(np.asarray(values, dtype=float)).dropna()
    if v.empty:
        raise SchemaError("no CLV values to draw")
    go = _go()
    fig = go.Figure(go.Histogram(x=v, nbinsx=bins, marker_color=PALETTE[0]))
    return _layout(fig, title, x_title, y_title)


def lorenz_figure(values: Any, title: str = "Concentration of value (Lorenz curve)",
                  x_title: str = "share of customers (highest value first)", y_title: str = "share of value"):
    """The Pareto (cumulative-gains) curve: highest-value customers first, against share of total value.

    The 80/20 reading is where the curve crosses 80 % of value. Negative
    values are clipped at zero (a customer cannot hold a negative share).
    """
    from cvm.evaluation.metrics import lorenz_curve

    v = np.clip(np.asarray(values, dtype=float), 0, None)
    curve = lorenz_curve(v)
    go = _go()
    # Lorenz runs poorest first; the Pareto view is its mirror image
    x = 1.0 - curve["customer_share"].to_numpy()[::-1]
    y = 1.0 - curve["value_share"].to_numpy()[::-1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="cvm", line={"color": PALETTE[0], "width": 2.5}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="=", line={"color": "#bbbbbb", "dash": "dot"}))
    fig.update_layout(showlegend=False)
    fig.update_xaxes(tickformat=".0%")
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, title, x_title, y_title)


def bar_figure(frame: pd.DataFrame, x: str, y: str | list[str], title: str, x_title: str | None = None,
               y_title: str | None = None, horizontal: bool = False):
    """Bars of one or more value columns of a frame (segments, investment, receivables, actions)."""
    ys = [y] if isinstance(y, str) else list(y)
    _require(frame, [x, *ys], "bar chart")
    if frame.empty:
        raise SchemaError("no rows to draw")
    go = _go()
    fig = go.Figure()
    for k, col in enumerate(ys):
        if horizontal:
            fig.add_trace(go.Bar(y=frame[x].astype(str), x=frame[col], name=col, orientation="h",
                                 marker_color=PALETTE[k % len(PALETTE)]))
        else:
            fig.add_trace(go.Bar(x=frame[x].astype(str), y=frame[col], name=col, marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_layout(barmode="group", showlegend=len(ys) > 1)
    return _layout(fig, title, x_title if x_title is not None else x, y_title if y_title is not None else (ys[0] if len(ys) == 1 else ""))


def lines_figure(frame: pd.DataFrame, title: str, x_title: str | None = None, y_title: str | None = None):
    """One line per column of a wide frame, the index on the x axis (cohort curves, retention)."""
    if frame.empty:
        raise SchemaError("no rows to draw")
    go = _go()
    fig = go.Figure()
    for k, col in enumerate(frame.columns):
        fig.add_trace(go.Scatter(x=[str(v) if not np.issubdtype(type(v), np.number) else v for v in frame.index],
                                 y=frame[col], mode="lines+markers", name=str(col),
                                 line={"color": PALETTE[k % len(PALETTE)]}))
    return _layout(fig, title, x_title if x_title is not None else (frame.index.name or ""), y_title)


def cohort_figure(cohorts: pd.DataFrame, cohort: str = "cohort", x: str = "period", y: str = "value",
                  title: str = "Cohorts", x_title: str | None = None, y_title: str | None = None):
    """Cohort curves from a long frame: one line per ``cohort``, ``x`` on the axis, ``y`` as height."""
    _require(cohorts, [cohort, x, y], "cohort")
    wide = cohorts.pivot_table(index=x, columns=cohort, values=y, aggfunc="sum").sort_index()
    return lines_figure(wide, title, x_title if x_title is not None else x, y_title if y_title is not None else y)


# ----------------------------------------------------------------------------
# one customer
# ----------------------------------------------------------------------------


def probability_alive_path(model: Any, purchase_times: Any, until: float, points: int = 200) -> pd.DataFrame:
    """P(alive) of one customer over time, as the model would have said it at each moment.

    ``purchase_times`` are the customer's purchase times in model time units,
    the first purchase first (time 0 is taken as the first purchase). At each
    grid time ``tau`` in ``[0, until]`` the history so far is
    ``x = #{repeat purchases <= tau}``, ``t_x`` = time of the last of them,
    ``T = tau``, and the value is ``P(alive | x, t_x, T)``; the curve jumps
    back up at each purchase. Purchase times themselves are on the grid, and
    P(alive) at the first purchase is 1.
    """
    times = np.sort(np.asarray(purchase_times, dtype=float))
    if times.size == 0:
        raise SchemaError("the customer has no purchases")
    times = times - times[0]
    if until <= 0:
        raise SchemaError("'until' must be after the first purchase")
    grid = np.union1d(np.linspace(0.0, float(until), points), times[times <= until])
    repeats = times[1:]
    x = np.searchsorted(repeats, grid, side="right").astype(float)
    t_x = np.where(x > 0, repeats[np.maximum(x.astype(int) - 1, 0)] if repeats.size else 0.0, 0.0)
    p = np.ones(len(grid))
    later = grid > 0  # at the first purchase the customer is alive by definition
    p[later] = np.asarray(model.probability_alive(x[later], t_x[later], grid[later]), dtype=float)
    return pd.DataFrame({"t": grid, "frequency": x, "recency": t_x, "probability_alive": p})


def probability_alive_history_figure(path: pd.DataFrame, purchase_times: Any = None,
                                     title: str = "P(alive) over time", x_title: str = "time since first purchase",
                                     y_title: str = "P(alive)", purchase_label: str = "purchase"):
    """Draw :func:`probability_alive_path` with the purchases marked on the time axis."""
    _require(path, ["t", "probability_alive"], "P(alive) history")
    go = _go()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=path["t"], y=path["probability_alive"], mode="lines", name="P(alive)",
                             line={"color": PALETTE[0], "width": 2.2, "shape": "hv"}))
    if purchase_times is not None:
        t = np.asarray(purchase_times, dtype=float)
        t = t - t.min() if t.size else t
        fig.add_trace(go.Scatter(x=t, y=np.ones_like(t), mode="markers", name=purchase_label,
                                 marker={"symbol": "triangle-down", "size": 10, "color": PALETTE[1]}))
    fig.update_yaxes(range=[0, 1.05])
    return _layout(fig, title, x_title, y_title)


# ----------------------------------------------------------------------------
# static images
# ----------------------------------------------------------------------------


def save_png(fig: Any, path: str | Path, width: int = 900, height: int = 450, scale: float = 1.0) -> Path:
    """Write a figure as PNG through kaleido and a local Chrome/Chromium.

    Raises :class:`CvmError` with what to install when no engine is available
    (``pip install kaleido`` and a Chrome or Chromium browser).
    """
    path = Path(path)
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise CvmError("PNG export needs the kaleido package", hint="pip install kaleido (and have Chrome or Chromium installed); the HTML report works without it") from None
    if not os.environ.get("BROWSER_PATH"):
        for candidate in ("chromium", "chromium-browser", "google-chrome", "chrome"):
            found = shutil.which(candidate)
            if found:
                os.environ["BROWSER_PATH"] = found
                break
    try:
        data = fig.to_image(format="png", width=width, height=height, scale=scale)
    except Exception as exc:  # kaleido raises several types when no browser can start
        raise CvmError(f"PNG export failed: {exc}", hint="install Chrome or Chromium, or set BROWSER_PATH to one; the HTML report works without it") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
