"""One self-contained HTML report of a workspace, in English or Dutch.

:func:`build_report` gathers every answer of the library — data quality, the
model fit and its backtest, the value distribution and the value-management
questions — and renders them with the Jinja2 template
``templates/report.html.j2``. plotly.js is embedded once, inline, so the file
opens offline and makes no network request. Each section is computed on its
own: a section without data shows a clear note, and a section that fails shows
the error instead of breaking the whole report.
"""

from __future__ import annotations

import html
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from cvm.data.reasons import code_columns_sql, kind_key_sql, quarantine_reason, reason_kind
from cvm.errors import CvmError
from cvm.i18n import text
from cvm.fitting import fit_model
from cvm.models.registry import spec
from cvm import answers
from cvm.report import plots
from cvm.service.overview import at_stake
from cvm.report.i18n import Formatter

MAX_ROWS = 20

_PERCENT_WORDS = ("share", "probability", "retention", "_pct", "percent", "_rate", "_ece", "tracking_error")
_MONEY_WORDS = ("clv", "value", "spend", "amount", "revenue", "margin", "investment", "cost", "outstanding",
                "receivable", "profit", "budget", "overdue", "residual")
_NOT_MONEY = ("p_value", "score", "count")


@dataclass
class Block:
    """One piece of a section: a note, key figures, a table, a chart or trusted HTML."""

    kind: str
    html: str = ""
    title: str = ""
    text: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    #: sentences of a ``lines`` block: dicts with ``level``, ``text`` and ``hint``
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Section:
    key: str
    title: str
    intro: str = ""
    blocks: list[Block] = field(default_factory=list)
    failed: str | None = None
    #: the answer the section opens with (:mod:`cvm.answers`)
    answer: list[str] = field(default_factory=list)


class ReportBuilder:
    """Collects the sections of one report; see :func:`build_report`."""

    def __init__(self, ws: Any, language: str = "en", backtest_result: Any = None) -> None:
        self.ws = ws
        self.fmt = Formatter(language, ws.settings.currency)
        self.settings = ws.settings
        self.sections: list[Section] = []
        self._chart_ids = itertools.count(1)
        self._backtest = backtest_result
        self._scores: pd.DataFrame | None = None
        self._valuation_model: Any = None
        self.errors: list[str] = []
        self.seconds: dict[str, float] = {}

    # ---------------------------------------------------------------- blocks
    def note(self, text: str) -> Block:
        return Block("note", text=text)

    def no_data(self, detail: str | None = None) -> Block:
        return Block("note", text=self.fmt.t("no_data") + (f": {detail}" if detail else "."))

    def figure(self, fig: Any) -> Block:
        import plotly.io as pio

        fig.update_layout(separators=self.fmt.plotly_separators())
        div_id = f"cvm-chart-{next(self._chart_ids)}"
        snippet = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=div_id,
                              config={"displaylogo": False, "responsive": True})
        return Block("figure", html=snippet)

    def table(self, frame: pd.DataFrame | None, title: str = "", formats: dict[str, str] | None = None,
              digits: int = 2, max_rows: int = MAX_ROWS, index: bool = False) -> Block:
        if frame is None or len(frame) == 0:
            return Block("note", title=title, text=self.fmt.t("no_data") + ".")
        return Block("table", title=title, html=render_table(frame, self.fmt, formats, digits, max_rows, index))

    def key_figures(self, rows: list[tuple[str, str]]) -> Block:
        return Block("kv", rows=rows)

    # --------------------------------------------------------------- sections
    def add(self, key: str, builder: Callable[[Section], None], intro_key: str | None = None, **intro_values: Any) -> None:
        section = Section(key, self.fmt.t(key), self.fmt.t(intro_key, **intro_values) if intro_key else "")
        start = time.perf_counter()
        try:
            builder(section)
        except CvmError as exc:
            section.blocks.append(self.no_data(exc.message))
        except Exception as exc:  # one failing section must not take the report down
            message = f"{type(exc).__name__}: {exc}"
            self.errors.append(f"{key}: {message}")
            section.failed = message
        if not section.blocks and section.failed is None:
            section.blocks.append(self.no_data())
        self.seconds[key] = time.perf_counter() - start
        self.sections.append(section)

    # ------------------------------------------------------------ shared data
    def scores(self) -> pd.DataFrame:
        if self._scores is None:
            from cvm.data.scores import latest_scores, score_runs

            if score_runs(self.ws).empty:
                from cvm.service import score_customers

                score_customers(self.ws)
            self._scores = latest_scores(self.ws)
        return self._scores

    def backtest(self):
        if self._backtest is None:
            from cvm.service import backtest, default_calibration_end, latest_backtest

            stored = latest_backtest(self.ws)
            if stored is None:
                unit = self.settings.time_unit
                stored = backtest(self.ws, default_calibration_end(self.ws), time_unit=unit)
            self._backtest = stored
        return self._backtest

    def valuation_model(self):
        """The purchase model of the latest scoring run, fitted on the data up to its as-of date."""
        if self._valuation_model is None:
            scores = self.scores()
            name = str(scores.attrs.get("model") or "bgnbd")
            unit = scores.attrs.get("time_unit") or self.settings.time_unit
            summary = self.ws.summary(as_of=scores.attrs.get("as_of"), time_unit=unit)
            entry = spec(name)
            if entry.kind == "purchase":
                model = fit_model(summary, name)
            else:  # the valuation used the limit its model reached (NBD, Poisson): that limit, on the same customers
                seen = summary[summary["T"] > 0]
                model = entry.cls().fit(seen["frequency"], seen["recency"], seen["T"])
            self._valuation_model = (name, unit, model, summary)
        return self._valuation_model


# ----------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------


def column_kind(name: str, series: pd.Series) -> str:
    """How to show a column: ``text``, ``date``, ``integer``, ``percent``, ``money`` or ``number``."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_bool_dtype(series):
        return "text"
    if not pd.api.types.is_numeric_dtype(series):
        return "text"
    low = str(name).lower()
    if pd.api.types.is_integer_dtype(series) or low in ("customers", "active", "rows", "line") or low.startswith("n_"):
        return "integer"
    if any(w in low for w in _PERCENT_WORDS):
        return "percent"
    if any(w in low for w in _MONEY_WORDS) and not any(w in low for w in _NOT_MONEY):
        return "money"
    return "number"


def format_cell(value: Any, kind: str, fmt: Formatter, digits: int = 2) -> str:
    if kind == "date":
        return fmt.date(value)
    if kind == "integer":
        return fmt.integer(value)
    if kind == "percent":
        return fmt.percent(value)
    if kind == "money":
        return fmt.money(value)
    if kind == "number":
        return fmt.number(value, digits)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if kind == "term":
        return text("term." + str(value), fmt.language, default=str(value))
    return str(value)


#: columns whose cells are codes of the library, shown in words (``term.<code>``) as the dashboard shows them
TERM_COLUMNS = ("segment", "group", "channel", "flag", "value_tier", "lifecycle_stage", "bucket", "action",
                "matrix_segment", "model", "rfm_segment", "acquisition_verdict")


#: the dashboard's kinds of column (:data:`cvm.web.present.COLUMN_KINDS`) as the report's kinds
_FROM_DASHBOARD = {"money": "money", "percent": "percent", "count": "integer", "number": "number", "days": "number",
                   "date": "date", "datetime": "date"}


def _dashboard_kind(name: str, series: pd.Series) -> str | None:
    """How the dashboard shows column ``name`` (so the report and the pages agree), or None when it does not know it."""
    from cvm.i18n.columns import COLUMN_KINDS

    if name in TERM_COLUMNS and not pd.api.types.is_numeric_dtype(series):
        return "term"
    kind = COLUMN_KINDS.get(name)
    if kind in ("date", "datetime") and not pd.api.types.is_datetime64_any_dtype(series):
        return None
    if kind is None or (kind not in ("term", "date", "datetime") and not pd.api.types.is_numeric_dtype(series)):
        return None
    return "term" if kind == "term" else _FROM_DASHBOARD.get(kind)


def render_table(frame: pd.DataFrame, fmt: Formatter, formats: dict[str, str] | None = None, digits: int = 2,
                 max_rows: int = MAX_ROWS, index: bool = False) -> str:
    """An HTML table with every cell escaped and formatted in the report's locale."""
    f = frame.reset_index() if index else frame
    formats = dict(formats or {})
    shown = f.head(max_rows)
    kinds = {c: formats.get(str(c)) or _dashboard_kind(str(c), f[c]) or column_kind(str(c), f[c]) for c in f.columns}
    head = "".join(f"<th>{html.escape(fmt.column(str(c)))}</th>" for c in f.columns)
    body = []
    for _, row in shown.iterrows():
        cells = []
        for c in f.columns:
            kind = kinds[c]
            css = ' class="num"' if kind not in ("text", "date", "term") else ""
            cells.append(f"<td{css}>{html.escape(format_cell(row[c], kind, fmt, digits))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = ""
    if len(f) > max_rows:
        note = f'<p class="more">{html.escape(fmt.t("showing_rows", shown=fmt.integer(max_rows), total=fmt.integer(len(f))))}</p>'
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}'


# ----------------------------------------------------------------------------
# the sections
# ----------------------------------------------------------------------------


def _overview(b: ReportBuilder, s: Section) -> None:
    fmt = b.fmt
    rows: list[tuple[str, str]] = [(fmt.t("workspace"), str(b.ws.path))]
    if b.ws.has_table("transactions"):
        t = b.ws.frame("SELECT count(*) AS n, count(DISTINCT customer_id) AS c, min(ts) AS first, max(ts) AS last FROM transactions")
        rows += [
            (fmt.t("transactions"), fmt.integer(t["n"].iloc[0])),
            (fmt.t("customers"), fmt.integer(t["c"].iloc[0])),
            (fmt.t("first_transaction"), fmt.date(t["first"].iloc[0])),
            (fmt.t("last_transaction"), fmt.date(t["last"].iloc[0])),
        ]
    try:
        scores = b.scores()
    except CvmError as exc:
        s.blocks.append(b.key_figures(rows))
        s.blocks.append(b.no_data(exc.message))
        return
    rows += [
        (fmt.t("customers_valued"), fmt.integer(len(scores))),
        (fmt.t("as_of"), fmt.date(scores.attrs.get("as_of"))),
        (fmt.t("total_clv"), fmt.money(scores["clv"].sum())),
        (fmt.t("valuation_model"), fmt.term(scores.attrs.get("model", ""))),
    ]
    s.answer = answers.overview(at_stake(scores, b.settings.stage_rules.at_risk_below), fmt.formats)
    s.blocks.append(b.key_figures(rows))


def _data_health(b: ReportBuilder, s: Section) -> None:
    """The data-health summary (:mod:`cvm.health`) of the data and of the valuation this report shows."""
    from cvm.health import data_health

    try:
        run_id = b.scores().attrs.get("run_id")
    except CvmError:  # nothing can be valued: the summary still describes the data
        run_id = None
    summary = data_health(b.ws, run_id=run_id, scored=run_id is not None)
    s.blocks.append(Block("lines", items=summary.sentences(b.fmt.language)))


def _data_quality(b: ReportBuilder, s: Section) -> None:
    fmt = b.fmt
    if not b.ws.has_table("quarantine"):
        s.blocks.append(b.note(fmt.t("no_quarantine")))
        return
    total = int(b.ws.frame("SELECT count(*) AS n FROM quarantine")["n"].iloc[0])
    if total == 0:
        s.blocks.append(b.note(fmt.t("no_quarantine")))
        return
    s.blocks.append(b.key_figures([(fmt.t("quarantined_rows"), fmt.integer(total))]))
    # counted per kind of reason (the sentence without the offending value), in the reader's language
    stored_codes = code_columns_sql(b.ws.con)
    stored = b.ws.frame(f"SELECT min(reason) AS reason, reason_code, min(reason_values) AS reason_values, "
                        f"count(*) AS rows FROM (SELECT reason, {stored_codes} FROM quarantine) "
                        f"GROUP BY reason_code, {kind_key_sql()}")
    stored["reason"] = [reason_kind(r, fmt.language, fmt.column, c, v)
                        for r, c, v in zip(stored["reason"], stored["reason_code"], stored["reason_values"])]
    stored = stored[["reason", "rows"]]
    by_reason = (stored.groupby("reason", as_index=False, sort=False)["rows"].sum()
                 .sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True))
    s.blocks.append(b.table(by_reason, fmt.t("quarantine_by_reason")))
    sample = b.ws.frame(f"SELECT source, line, reason, raw, {stored_codes} FROM quarantine "
                        f"ORDER BY source, line LIMIT 10")
    sample["reason"] = [quarantine_reason(r, fmt.language, fmt.column, c, v)
                        for r, c, v in zip(sample["reason"], sample["reason_code"], sample["reason_values"])]
    sample = sample[["source", "line", "reason", "raw"]]
    s.blocks.append(b.table(sample, fmt.t("quarantine_sample"), formats={"line": "integer"}))


def _model_fit(b: ReportBuilder, s: Section) -> None:
    fmt = b.fmt
    name, unit, model, _ = b.valuation_model()
    s.blocks.append(Block("html", title=f"{fmt.t('valuation_model')}: {fmt.term(name)} ({fmt.unit(unit)})",
                          html=_summary_html(model.summary().to_html(), fmt)))
    bt = b.backtest()
    for key, snippet in bt.summaries_html.items():
        title = (fmt.t("spend_model_title", model=fmt.term(key)) if key == "gg"
                 else f"{fmt.t('backtest')}: {fmt.term(key)} ({fmt.unit(bt.time_unit)})")
        s.blocks.append(Block("html", title=title, html=_summary_html(snippet, fmt)))


def _summary_html(snippet: str, fmt: Formatter) -> str:
    """A model summary's HTML (:meth:`cvm.models.base.FitSummary.to_html`, written in English with Python's
    numbers) in the report's language: headers in words, "customers" and the numbers of its first line in the
    locale."""
    import re

    def header(match: "re.Match[str]") -> str:
        return f"<th>{html.escape(fmt.column(match.group(1)))}</th>"

    out = re.sub(r"<th>(estimate|std_error|lower_[0-9.]+|upper_[0-9.]+)</th>", header, snippet)

    def head(match: "re.Match[str]") -> str:
        n, ll, aic = (float(v.replace(",", "")) for v in match.groups())
        return fmt.nt("summary_head", n, n=fmt.integer(n), ll=fmt.number(ll, 3), aic=fmt.number(aic, 2))

    out = re.sub(r"([0-9,]+) customers, log-likelihood (-?[0-9,.]+), AIC (-?[0-9,.]+)", head, out)
    return re.sub(r"<td>(-?[0-9]+\.[0-9]+)</td>", lambda m: f"<td>{fmt.number(float(m.group(1)), 4)}</td>", out)


def _backtest(b: ReportBuilder, s: Section) -> None:
    fmt = b.fmt
    bt = b.backtest()
    s.intro = fmt.t("backtest_intro", calibration_end=fmt.date(bt.calibration_end), holdout_end=fmt.date(bt.holdout_end))
    why = fmt.explain(bt.reason_code, bt.reason_values) if bt.reason_code else bt.reason
    s.answer = [why]
    s.blocks.append(b.key_figures([(fmt.t("best_model"), fmt.term(bt.best)),
                                   (fmt.t("backtest_customers"), fmt.integer(bt.n_customers))]))
    keep = ["holdout_actual", "holdout_predicted", "tracking_error", "mae_purchases", "rmse_purchases", "mae_spend",
            "rmse_spend", "chi_square", "chi_square_dof", "chi_square_p_value", "probability_alive_ece", "ranking_gini",
            "top_decile_share", "bic"]
    rows = {m: {k: r.get(k) for k in keep if k in r} for m, r in bt.models.items() if m != "gg" and "error" not in r}
    table = pd.DataFrame(rows).T
    table = table[[c for c in keep if c in table.columns]].astype(float)
    table.index.name = "model"
    s.blocks.append(b.table(table, fmt.t("backtest_metrics"), digits=3, index=True,
                            formats={"chi_square_dof": "integer", "holdout_actual": "number", "holdout_predicted": "number"}))
    failed = {m: r["error"] for m, r in bt.models.items() if "error" in r}
    for m, err in failed.items():
        s.blocks.append(b.note(f"{m}: {err}"))
    names = {"actual": fmt.t("actual"), "observed": fmt.t("observed")}
    unit_word = fmt.unit(bt.tracking_unit)
    if not bt.tracking.empty:
        for cumulative, key in ((True, "tracking_cumulative"), (False, "tracking_incremental")):
            s.blocks.append(b.figure(plots.tracking_figure(
                bt.tracking, cumulative=cumulative, title=fmt.t(key), x_title=f"{fmt.t('period')} ({unit_word})",
                y_title=fmt.t("repeat_transactions"), calibration_label=fmt.t("end_of_calibration"), names=names)))
    if not bt.conditional.empty:
        s.blocks.append(b.figure(plots.conditional_figure(
            bt.conditional, title=fmt.t("conditional_title"), x_title=fmt.t("repeat_purchases_calibration"),
            y_title=fmt.t("mean_holdout_purchases"), names=names)))
        s.blocks.append(b.table(bt.conditional, fmt.t("conditional_title"), digits=3, index=True))
    if not bt.histogram.empty:
        s.blocks.append(b.figure(plots.histogram_figure(
            bt.histogram, title=fmt.t("histogram_title"), x_title=fmt.t("repeat_purchases_calibration"),
            y_title=fmt.t("customers_axis"), names=names)))
        s.blocks.append(b.table(bt.histogram, fmt.t("histogram_title"), digits=1, index=True))
        s.blocks.append(b.note(fmt.t("chi_square_note")))
    if not bt.probability_alive_calibration.empty:
        s.blocks.append(b.figure(plots.probability_alive_calibration_figure(
            bt.probability_alive_calibration, title=fmt.t("palive_calibration_title"),
            x_title=fmt.t("predicted_palive"), y_title=fmt.t("share_bought"))))


def _value_distribution(b: ReportBuilder, s: Section) -> None:
    fmt = b.fmt
    scores = b.scores()
    if scores.empty:
        s.blocks.append(b.no_data())
        return
    s.blocks.append(b.figure(plots.clv_histogram_figure(scores["clv"], title=fmt.t("clv_histogram"), x_title="CLV",
                                                        y_title=fmt.t("customers_axis"))))
    top = scores.sort_values("clv", ascending=False).head(10)
    cols = [c for c in ("customer_id", "frequency", "recency", "T", "historic_value", "probability_alive",
                        "expected_purchases", "clv", "clv_low", "clv_high", "value_tier", "lifecycle_stage") if c in top.columns]
    s.blocks.append(b.table(top[cols], fmt.t("top_customers"), formats={"frequency": "integer", "recency": "number", "T": "number"}))
    name, unit, model, summary = b.valuation_model()
    T = float(np.nanpercentile(summary["T"], 90))
    max_f = int(min(max(np.nanpercentile(summary["frequency"], 99), 5), 40))
    horizon = int(b.settings.horizon)
    palive = plots.frequency_recency_matrix(model, T, "probability_alive", max_frequency=max_f, n_recency=30)
    s.blocks.append(b.figure(plots.heatmap_figure(palive, fmt.t("palive_heatmap"), x_title=f"{fmt.t('recency')} ({fmt.unit(unit)})",
                                                  y_title=fmt.t("frequency"), colour_title=fmt.column("probability_alive"))))
    expected = plots.frequency_recency_matrix(model, T, "expected_purchases", t=horizon, max_frequency=max_f, n_recency=30)
    s.blocks.append(b.figure(plots.heatmap_figure(
        expected, fmt.t("expected_heatmap", horizon=horizon, unit=fmt.unit(unit)),
        x_title=f"{fmt.t('recency')} ({fmt.unit(unit)})", y_title=fmt.t("frequency"), colour_title="E[Y]")))
    _customer_history(b, s, scores, model, unit)


def _customer_history(b: ReportBuilder, s: Section, scores: pd.DataFrame, model: Any, unit: str) -> None:
    from cvm.settings import DAYS_PER_UNIT

    fmt = b.fmt
    customer = str(scores.sort_values("clv", ascending=False)["customer_id"].iloc[0])
    as_of = pd.Timestamp(scores.attrs.get("as_of")) if scores.attrs.get("as_of") else None
    tx = b.ws.frame("SELECT DISTINCT CAST(date_trunc('day', ts) AS DATE) AS day FROM transactions "
                    "WHERE CAST(customer_id AS VARCHAR) = ? ORDER BY day", [customer])
    days = pd.to_datetime(tx["day"])
    if as_of is not None:
        days = days[days <= as_of]
    if days.empty:
        return
    end = as_of if as_of is not None else days.max()
    per_unit = DAYS_PER_UNIT[unit]
    times = ((days - days.min()).dt.days / per_unit).to_numpy()
    until = max(float((end - days.min()).days) / per_unit, float(times.max()), 1.0 / per_unit)
    path = plots.probability_alive_path(model, times, until)
    s.blocks.append(b.figure(plots.probability_alive_history_figure(
        path, times, title=fmt.t("palive_history", customer=customer),
        x_title=f"{fmt.t('time_since_first')} ({fmt.unit(unit)})", purchase_label=fmt.t("purchase"))))


def _concentration(b: ReportBuilder, s: Section) -> None:
    from cvm.service import concentration

    fmt = b.fmt
    scores = b.scores()
    result = concentration(scores, column="clv")
    s.blocks.append(b.note(fmt.t("concentration_sentence", share=fmt.percent(result.customer_share),
                                 value_share=fmt.percent(result.share, 0), gini=fmt.number(result.gini, 3))))
    s.blocks.append(b.figure(plots.lorenz_figure(scores["clv"], title=fmt.t("lorenz_title"),
                                                 x_title=fmt.t("share_customers"), y_title=fmt.t("share_value"))))
    if result.by_column:
        frame = pd.DataFrame(result.by_column).T
        frame.index = [fmt.column(str(i)) for i in frame.index]
        frame.index.name = "measure"
        s.blocks.append(b.table(frame, formats={"customer_share": "percent", "customers_needed": "integer",
                                                "gini": "number", "total": "money"}, index=True))
    s.blocks.append(b.table(result.top, fmt.t("top_customers")))


def _segments(b: ReportBuilder, s: Section) -> None:
    from cvm.service import segments

    fmt = b.fmt
    scores = b.scores()
    for by, key in (("value_tier", "tiers"), ("lifecycle_stage", "stages"), ("rfm", "rfm")):
        try:
            frame = segments(b.ws, by=by, scores=scores)
        except CvmError as exc:
            s.blocks.append(Block("note", title=fmt.t(key), text=f"{fmt.t('no_data')}: {exc.message}"))
            continue
        if by == "value_tier":
            s.answer = answers.segments(frame, fmt.formats, b.settings.stage_rules.at_risk_below)
        shown = [c for c in ("segment", "customers", "customer_share", "historic_value_sum", "clv_sum", "clv_share",
                             "clv_mean", "probability_alive_mean") if c in frame.columns]
        s.blocks.append(b.table(frame[shown], fmt.t(key)))
        if len(frame):  # predicted value per segment (cvm.value.segments: one row per segment, its clv_sum)
            s.blocks.append(b.figure(plots.bar_figure(frame, x="segment", y="clv_sum", title=fmt.t(key),
                                                      x_title=fmt.column("segment"), y_title=fmt.column("clv_sum"))))


def _value_matrix(b: ReportBuilder, s: Section) -> None:
    from cvm.service import value_matrix

    fmt = b.fmt
    frame = value_matrix(b.ws, scores=b.scores())
    if frame.empty:
        s.blocks.append(b.no_data())
        return
    counts = frame.groupby("matrix_segment").agg(customers=("customer_id", "count"), clv=("clv", "sum")).reset_index()
    s.blocks.append(b.table(counts, fmt.t("matrix_counts")))
    go = plots._go()
    fig = go.Figure()
    for k, (seg, part) in enumerate(frame.groupby("matrix_segment")):
        sample = part.head(1500)
        fig.add_trace(go.Scattergl(x=sample["economic_score"], y=sample["relational_score"], mode="markers", name=str(seg),
                                   marker={"size": 5, "opacity": 0.6, "color": plots.PALETTE[k % len(plots.PALETTE)]}))
    plots._layout(fig, fmt.t("value_matrix"), "economic score", "relational score")
    s.blocks.append(b.figure(fig))
    s.blocks.append(b.table(frame, fmt.t("value_matrix")))


def _migration(b: ReportBuilder, s: Section) -> None:
    from cvm.service import migration
    from cvm.data.scores import score_runs

    fmt = b.fmt
    runs = score_runs(b.ws)
    dates = sorted(pd.to_datetime(runs["as_of"]).dt.normalize().unique()) if not runs.empty else []
    if len(dates) >= 2:
        start, end = dates[-2], dates[-1]
    else:
        end = pd.Timestamp(b.scores().attrs.get("as_of"))
        first = pd.Timestamp(b.ws.frame("SELECT min(ts) AS f FROM transactions")["f"].iloc[0]).normalize()
        start = max(first + (end - first) / 2, end - pd.Timedelta(days=182)).normalize()
    # score the earlier date with the same model as the latest run (no new model choice)
    model = str(b.scores().attrs.get("model") or "auto")
    result = migration(b.ws, start.date().isoformat(), end.date().isoformat(), by="value_tier", model=model)
    s.intro = fmt.t("migration_intro", from_date=fmt.date(result.from_date), to_date=fmt.date(result.to_date))
    counts = result.counts.rename(index=fmt.term, columns=fmt.term)
    shares = result.shares.rename(index=fmt.term, columns=fmt.term)
    if counts.empty:
        s.blocks.append(b.no_data())
        return
    counts.index.name = fmt.t("migration_from")
    counts.columns.name = fmt.t("migration_to")
    s.blocks.append(b.figure(plots.heatmap_figure(counts, fmt.t("migration"), colorscale="Blues", text_format=".0f")))
    s.blocks.append(b.figure(plots.migration_sankey_figure(counts, fmt.t("migration"), fmt.t("migration_from"), fmt.t("migration_to"))))
    s.blocks.append(b.table(shares.astype(float), formats={c: "percent" for c in map(str, shares.columns)}, index=True))


def _cohorts(b: ReportBuilder, s: Section) -> None:
    from cvm.service import cohorts

    fmt = b.fmt
    table = cohorts(b.ws, period="month")
    if table.empty:
        s.blocks.append(b.no_data())
        return
    s.answer = answers.cohorts(table, fmt.formats, "month")
    table = table.assign(cohort=pd.to_datetime(table["cohort"]).dt.strftime("%Y-%m"))
    s.blocks.append(b.figure(plots.cohort_figure(table, "cohort", "age", "retention", fmt.t("retention_by_cohort"),
                                                 fmt.t("age"), fmt.column("retention"))))
    s.blocks.append(b.figure(plots.cohort_figure(table, "cohort", "age", "cumulative_value_per_customer",
                                                 fmt.t("value_by_cohort"), fmt.t("age"), "")))
    wide = table.pivot_table(index="cohort", columns="age", values="retention").iloc[:, :13]
    wide.columns = [str(c) for c in wide.columns]
    s.blocks.append(b.table(wide, fmt.t("retention_by_cohort"), formats={c: "percent" for c in wide.columns}, index=True))


def _investment(b: ReportBuilder, s: Section) -> None:
    """Cost-to-serve and returns (:func:`cvm.value.investment`): the total cost, then the tables per group."""
    from cvm.service import investment

    result = investment(b.ws, b.scores())
    fmt = b.fmt
    s.answer = answers.investment(result, fmt.formats)
    s.blocks.append(b.key_figures([(fmt.column("total_cost"), fmt.money(float(result.customers["cost"].sum())))]))
    columns = ["group", "customers", "historic_value", "clv", "cost", "cost_to_serve", "roi", "clv_share", "cost_share",
               "flag"]
    for title, frame, label in (("investment.by_segment", result.by_segment, "segment"),
                                ("investment.by_channel", result.by_channel, "channel")):
        s.blocks.append(b.table(frame[[c for c in columns if c in frame.columns]].rename(columns={"group": label}),
                                text(title, fmt.language), formats={"roi": "percent"}))
    s.blocks.append(b.table(result.acquisition, text("investment.acquisition", fmt.language)))


def _receivables(b: ReportBuilder, s: Section) -> None:
    """Outstanding and overdue money (:func:`cvm.value.receivables`): key figures, ageing, per segment and customer."""
    from cvm.service import receivables

    result = receivables(b.ws)
    fmt = b.fmt
    s.blocks.append(b.key_figures([
        (fmt.column("as_of"), fmt.date(result.as_of)), (fmt.column("outstanding"), fmt.money(result.outstanding)),
        (fmt.column("overdue"), fmt.money(result.overdue)),
        (fmt.column("dso"), "–" if result.dso is None else fmt.number(result.dso, 1)),
    ]))
    for title, frame in (("investment.ageing", result.ageing), ("investment.receivables_by_segment", result.by_segment),
                         ("investment.late_payers", result.owing)):
        s.blocks.append(b.table(frame, text(title, fmt.language)))


def _actions(b: ReportBuilder, s: Section) -> None:
    """How many customers get each action, then the first customers with action and reason in the reader's words."""
    from cvm.service import next_best_actions
    from cvm.value.actions import ACTIONS

    fmt = b.fmt
    frame = next_best_actions(b.ws, b.scores())
    if frame.empty:
        s.blocks.append(b.no_data())
        return
    counts = frame["action"].value_counts().reindex(ACTIONS).dropna()
    s.blocks.append(b.table(pd.DataFrame({"action": [fmt.term(a) for a in counts.index],
                                          "customers": counts.to_numpy(int)}), fmt.t("actions_count")))
    head = frame.head(MAX_ROWS)
    shown = pd.DataFrame({
        "customer_id": head["customer_id"].astype(str).to_numpy(),
        "action": [fmt.term(a) for a in head["action"]],
        "reason": [fmt.explain(c, v) for c, v in zip(head["reason_code"], head["reason_values"])],
        "value_tier": [fmt.term(v) for v in head["value_tier"]],
        "lifecycle_stage": [fmt.term(v) for v in head["lifecycle_stage"]],
        "clv": head["clv"].to_numpy(float),
        "probability_alive": head["probability_alive"].to_numpy(float),
    })
    s.blocks.append(b.table(shown, fmt.t("actions_list")))
    if len(frame) > MAX_ROWS:
        s.blocks.append(b.note(fmt.t("showing_rows", shown=fmt.integer(MAX_ROWS), total=fmt.integer(len(frame)))))


def _network(b: ReportBuilder, s: Section) -> None:
    from cvm.service import network_value

    frame = network_value(b.ws, b.scores())
    if frame.empty or "network_value" not in frame.columns or not (frame["network_value"] > 0).any():
        s.blocks.append(b.no_data())
        return
    s.blocks.append(b.table(frame.sort_values("network_value", ascending=False)))


SECTIONS: list[tuple[str, Callable[[ReportBuilder, Section], None], str | None]] = [
    ("overview", _overview, "overview_intro"),
    ("data_health", _data_health, "data_health_intro"),
    ("data_quality", _data_quality, "data_quality_intro"),
    ("model_fit", _model_fit, "model_fit_intro"),
    ("backtest", _backtest, None),
    ("value_distribution", _value_distribution, "value_distribution_intro"),
    ("concentration", _concentration, "concentration_intro"),
    ("segments", _segments, "segments_intro"),
    ("value_matrix", _value_matrix, "value_matrix_intro"),
    ("migration", _migration, None),
    ("cohorts", _cohorts, "cohorts_intro"),
    ("investment", _investment, "investment_intro"),
    ("receivables", _receivables, "receivables_intro"),
    ("actions", _actions, "actions_intro"),
    ("network", _network, "network_intro"),
]


# ----------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(loader=PackageLoader("cvm.report", "templates"), autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True)


def render(builder: ReportBuilder) -> str:
    """The report's HTML from collected sections, with plotly.js inline once."""
    from plotly.offline import get_plotlyjs

    template = _environment().get_template("report.html.j2")
    return template.render(
        lang=builder.fmt.language, t=builder.fmt.t, sections=builder.sections,
        generated=builder.fmt.datetime(datetime.now()), plotly_js=get_plotlyjs(),
    )


def build_report(ws: Any, out: str | Path, language: str = "en", backtest_result: Any = None) -> Path:
    """Write one self-contained HTML report of the workspace and return its path.

    Parameters
    ----------
    ws
        A :class:`cvm.data.Workspace`.
    out
        Where to write the ``.html`` file (folders are created).
    language
        ``en`` (numbers as en_GB) or ``nl`` (nl_NL).
    backtest_result
        A :class:`cvm.evaluation.BacktestResult` to show; default the latest
        stored backtest of the workspace, else one run now with the last third
        of the data as holdout.

    The file embeds plotly.js once and loads nothing from the network. A
    section without data says so; a section that fails shows its error in
    place (use :func:`collect` to get the sections and their errors without
    writing a file).
    """
    builder = collect(ws, language, backtest_result)
    text = render(builder)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def collect(ws: Any, language: str = "en", backtest_result: Any = None) -> ReportBuilder:
    """Compute every section (without rendering); ``builder.errors`` lists sections that failed."""
    builder = ReportBuilder(ws, language, backtest_result)
    for key, fn, intro in SECTIONS:
        builder.add(key, lambda s, fn=fn: fn(builder, s), intro)
    return builder
