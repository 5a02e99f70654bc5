"""The data-health summary: what the workspace holds, what looks wrong in it, and what the model could use.

After an ingest or a scoring run a reader should see, in their own language, the things that
make a number untrustworthy before they trust it: rows in quarantine (counted per kind of
reason, :func:`cvm.data.reasons.reason_kind`, from the code and values stored with each reason), dates that cannot be right, amounts far outside
the usual range, customers with only returns, how many customers bought only once, and — after
a scoring run — which customers the models could not use and why.

One summary object, many renderings: :func:`data_health` computes a :class:`DataHealth` (figures
plus a list of :class:`HealthLine`, each a sentence code with the numbers it cites); the CLI
(``cvm ingest``, ``cvm score``, ``cvm health``), the HTML report and the dashboard's data page
render the same lines with :meth:`HealthLine.text` in English or Dutch. The words live in
:data:`SENTENCES` (ids ``health.<code>`` of the :mod:`cvm.i18n` catalogue, rendered by :func:`cvm.messages.render`);
numbers, money and dates are written in the reader's locale (Babel: ``en_GB``, ``nl_NL``).

Everything is counted in SQL over the workspace (three scans of ``transactions``, one of them grouped
by customer; one scan of a scoring run): nothing loops over rows in Python. Quarantine reasons are
grouped by kind in SQL too, by their stored code and values (:func:`cvm.data.reasons.kind_key_sql`).

The thresholds
--------------
* a date before :data:`PLAUSIBLE_FROM` or after today is *implausible*;
* an amount is *far outside the usual range* when ``|amount| > OUTLIER_FACTOR × median |amount|``
  (the median over the non-zero amounts), or when it is a return (negative) larger than the
  largest purchase;
* a *one-time buyer* has purchases (non-negative amounts) on one day only; a customer with
  *only returns* has no non-negative amount at all (returns are read from ``transactions``);
* the spend model (Gamma-Gamma, Fader, Hardie & Lee 2005b) is fitted on repeat customers with a
  positive mean repeat spend, and only when there are at least :data:`SPEND_MODEL_MINIMUM` of them
  (:func:`cvm.fitting.fit_spend_model`).

Examples
--------
>>> line = HealthLine("one_time_buyers", "info", {"customers": 1411, "total": 2357, "share": 1411 / 2357})
>>> line.text("nl")[0]
'59,9% van de klanten (1.411 van 2.357) kocht op één dag en nooit daarna.'
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from cvm.data.reasons import reason_kind
from cvm.i18n import Formats, plural_catalogue, text
from cvm.messages import Entries, field_word, render

#: dates before this day are implausible for a customer transaction
PLAUSIBLE_FROM = dt.date(1950, 1, 1)
#: an amount more than this many times the median absolute amount is far outside the usual range
OUTLIER_FACTOR = 1000
#: with more than this share of one-time buyers the models have little repeat behaviour to learn from
MANY_ONE_TIME = 0.9
#: the spend model is fitted on at least this many repeat customers with positive spend (cvm.fitting.fit_spend_model)
SPEND_MODEL_MINIMUM = 10
#: customers named in a line (the rest is counted)
EXAMPLES = 5

#: levels of a line: ``warning`` asks the reader to act, ``info`` tells, ``ok`` reassures, ``detail`` belongs to the line above
LEVELS = ("warning", "info", "ok", "detail")

#: the sentences of the summary, English and Dutch, each under a code (ids ``health.<code>`` and
#: ``health.<code>.hint`` of :mod:`cvm.i18n`)
SENTENCES = Entries("health")


#: how a value is shown, by its name (other names are shown as text)
_INTEGERS = {"rows", "customers", "total", "rows_read", "accepted", "quarantined", "duplicates", "changed",
             "factor", "minimum", "one_time"}
_MONEY = {"median", "largest", "largest_purchase", "clv"}
_DATES = {"first", "last", "floor", "today", "earliest", "latest", "as_of"}


@dataclass(frozen=True)
class HealthLine:
    """One sentence of the summary: a code of :data:`SENTENCES`, its level and the figures it cites.

    ``values`` hold plain numbers, ISO dates and lists (JSON-ready); :meth:`text` writes them
    in the reader's locale. A quarantine kind is kept as one stored reason of that kind
    (``reason``, ``reason_code``, ``reason_values``), so it can be put into Dutch
    (:func:`cvm.data.reasons.reason_kind`).
    """

    code: str
    level: str
    values: dict[str, Any] = field(default_factory=dict)

    def text(self, language: str = "en", currency: str = "EUR") -> tuple[str, str | None]:
        """The sentence and its hint (what to do, or None) in ``language``."""
        lang = "nl" if language == "nl" else "en"
        shown = {name: _show(name, value, lang, currency) for name, value in self.values.items()}
        if "reason" in self.values and self.code == "quarantine_kind":
            label = (lambda f: field_word(f, lang)) if lang == "nl" else None
            shown["kind"] = reason_kind(self.values["reason"], lang, label, self.values.get("reason_code"),
                                        self.values.get("reason_values"))
        if self.code == "run":
            shown["reason"] = _model_reason(self.values, lang, currency)
        if self.values.get("more"):
            shown["examples"] += " " + text("common.and_more", lang, {"n": _show("rows", self.values["more"], lang, currency)})
        code = self.sentence_code
        count = self.values.get("rows", self.values.get("customers")) if f"health.{code}" in plural_catalogue("en") else None
        message, hint = render(code, shown, lang, prefix="health", count=count)
        if hint is not None and lang == "en":
            hint = hint[:1].upper() + hint[1:] + "."
        return message, hint

    @property
    def sentence_code(self) -> str:
        """The code of the sentence that fits the count: ``<code>_none`` for none (a sentence of its own);
        one or more take the plural form that fits the count (:func:`cvm.i18n.ntext`)."""
        count = self.values.get("rows", self.values.get("customers"))
        if self.code == "returns" and count != 1 and self.values.get("customers") == 1:
            return "returns_one_customer"
        suffix = {0: "_none"}.get(count) if isinstance(count, int) else None
        return self.code + suffix if suffix and self.code + suffix in SENTENCES else self.code

    def to_dict(self, language: str = "en", currency: str = "EUR") -> dict[str, Any]:
        text, hint = self.text(language, currency)
        return {"code": self.code, "level": self.level, "values": self.values, "text": text, "hint": hint}


@dataclass
class DataHealth:
    """The data-health summary of a workspace: ``figures`` (numbers for scripts) and ``lines`` (for people).

    ``figures`` keys: ``transactions``, ``customers``, ``first``, ``last``, ``quarantined``,
    ``quarantine_by_kind`` (English kind → rows), ``dates_too_early``, ``dates_in_future``,
    ``median_abs_amount``, ``amount_outliers``, ``largest_purchase``, ``large_returns``,
    ``returns``, ``customers_with_returns``, ``only_returns``, ``one_time_buyers``,
    ``one_time_share``, ``first_on_last_day``, ``ingest`` (when given) and ``run`` (after a
    scoring run: ``run_id``, ``as_of``, ``model``, ``customers``, ``prospects``,
    ``fit_left_out``, ``spend_fitted_on``, ``spend_left_out``, ``spend_left_out_examples``,
    ``one_time``, ``clv_not_finite``, ``clv_min``, ``clv_max``, ``notes``).
    """

    figures: dict[str, Any]
    lines: list[HealthLine]
    currency: str = "EUR"

    @property
    def warnings(self) -> int:
        """How many lines ask the reader to act."""
        return sum(1 for line in self.lines if line.level == "warning")

    def sentences(self, language: str = "en") -> list[dict[str, Any]]:
        """Every line in ``language``: ``code``, ``level``, ``text``, ``hint``."""
        out = []
        for line in self.lines:
            text, hint = line.text(language, self.currency)
            out.append({"code": line.code, "level": line.level, "text": text, "hint": hint})
        return out

    def title(self, language: str = "en") -> str:
        return render("title", {}, language, prefix="health")[0]

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        """JSON-ready: ``language``, ``warnings``, ``figures`` and ``lines`` (code, level, values, text, hint)."""
        return {"language": "nl" if language == "nl" else "en", "warnings": self.warnings,
                "figures": self.figures, "lines": [line.to_dict(language, self.currency) for line in self.lines]}

    def to_text(self, language: str = "en") -> str:
        """Plain text: the title, then one line per sentence (a warning marked ``!``, its hint indented below)."""
        hint_word = text("common.hint_word", language)
        rows = [self.title(language)]
        for line in self.sentences(language):
            mark = {"warning": "!", "detail": " ", "ok": "✓"}.get(line["level"], "·")
            indent = "    " if line["level"] == "detail" else "  "
            rows.append(f"{indent}{mark} {line['text']}")
            if line["hint"]:
                rows.append(f"{indent}    {hint_word}: {line['hint']}")
        return "\n".join(rows)


# ----------------------------------------------------------------------------- computing


def data_health(ws: Any, ingest: Any = None, run_id: str | None = None, scored: bool = True,
                today: dt.date | None = None) -> DataHealth:
    """The data-health summary of the workspace ``ws`` (anything with a DuckDB ``con`` and ``settings``).

    Parameters
    ----------
    ingest
        An :class:`~cvm.data.warehouse.IngestReport` (or its ``to_dict()``) of the ingest just made: its
        counts (and the orders it ``changed``, when there are any) become the first line. Ingests are not
        recorded in the workspace, so without it that line is left out.
    run_id
        The scoring run to describe; default the latest as-of date (the newest of that date).
    scored
        Describe a scoring run at all (False: only the data).
    today
        The day after which a date is in the future (default the computer's date).
    """
    con = ws.con
    settings = getattr(ws, "settings", None)
    currency = getattr(settings, "currency", "EUR")
    today = today or dt.date.today()
    figures: dict[str, Any] = {}
    lines: list[HealthLine] = []
    if ingest is not None:
        report = ingest.to_dict() if hasattr(ingest, "to_dict") else dict(ingest)
        counts = {k: int(report.get(k) or 0) for k in ("rows_read", "accepted", "quarantined", "duplicates")}
        if report.get("changed") is not None:
            counts["changed"] = int(report["changed"])
        figures["ingest"] = counts
        lines.append(HealthLine("ingest_changed" if counts.get("changed") else "ingest", "info", counts))
    has_rows = _has_table(con, "transactions") and con.execute("SELECT count(*) FROM (SELECT 1 FROM transactions "
                                                               "LIMIT 1)").fetchone()[0] > 0
    lines += _quarantine_lines(con, figures)
    if has_rows:
        lines += _transaction_lines(con, figures, today)
    else:
        figures["transactions"] = 0
        lines.append(HealthLine("empty", "warning", {}))
    if scored and has_rows:
        lines += _run_lines(con, figures, run_id)
        if figures.get("run", {}).get("as_of") == figures.get("last"):  # the run's line says it for the fit
            lines = [line for line in lines if line.code != "first_on_last_day"]
    return DataHealth(figures=figures, lines=lines, currency=currency)


def _has_table(con: Any, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                      [name]).fetchone()
    return bool(row and row[0])


def _columns(con: Any, table: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                      "AND table_schema = 'main'", [table]).fetchall()}


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _transaction_lines(con: Any, figures: dict[str, Any], today: dt.date) -> list[HealthLine]:
    """The lines about ``transactions``: two plain scans (the second needs the first's median), one grouped by customer."""
    floor = dt.datetime.combine(PLAUSIBLE_FROM, dt.time())
    after_today = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    (rows, first, last, early, future, returns, median, largest_purchase) = con.execute(
        "SELECT count(*), min(ts), max(ts), count(*) FILTER (WHERE ts < ?), count(*) FILTER (WHERE ts >= ?), "
        "count(*) FILTER (WHERE amount < 0), median(abs(amount)) FILTER (WHERE amount <> 0), "
        "max(amount) FILTER (WHERE amount > 0) FROM transactions", [floor, after_today]).fetchone()
    earliest, latest = first, last
    last_day = last.date() if isinstance(last, dt.datetime) else last
    limit = None if median is None else OUTLIER_FACTOR * float(median)
    outliers, largest, large_returns = con.execute(
        "SELECT count(*) FILTER (WHERE abs(amount) > ?), arg_max(amount, abs(amount)) FILTER (WHERE abs(amount) > ?), "
        "count(*) FILTER (WHERE amount < 0 AND -amount > ?) FROM transactions",
        [limit, limit, largest_purchase]).fetchone()
    # per customer: the first and last day with a purchase (a non-negative amount), and whether they returned something
    (customers, only_returns, buyers, one_time, first_on_last, with_returns) = con.execute(
        "WITH c AS (SELECT customer_id, min(ts) FILTER (WHERE amount >= 0) AS first_ts, "
        "max(ts) FILTER (WHERE amount >= 0) AS last_ts, bool_or(amount < 0) AS returned "
        "FROM transactions GROUP BY customer_id) "
        "SELECT count(*), count(*) FILTER (WHERE first_ts IS NULL), count(*) FILTER (WHERE first_ts IS NOT NULL), "
        "count(*) FILTER (WHERE CAST(first_ts AS DATE) = CAST(last_ts AS DATE)), "
        "count(*) FILTER (WHERE CAST(first_ts AS DATE) = ?), count(*) FILTER (WHERE returned) FROM c",
        [last_day]).fetchone()
    figures.update({
        "transactions": int(rows), "customers": int(customers), "first": _day(first), "last": _day(last),
        "plausible_from": PLAUSIBLE_FROM.isoformat(), "today": today.isoformat(),
        "dates_too_early": int(early), "dates_in_future": int(future),
        "median_abs_amount": None if median is None else float(median), "outlier_factor": OUTLIER_FACTOR,
        "amount_outliers": int(outliers), "largest_purchase": None if largest_purchase is None else float(largest_purchase),
        "large_returns": int(large_returns), "returns": int(returns), "customers_with_returns": int(with_returns),
        "only_returns": int(only_returns), "buyers": int(buyers), "one_time_buyers": int(one_time),
        "one_time_share": (one_time / buyers) if buyers else None, "first_on_last_day": int(first_on_last),
    })
    lines = [HealthLine("holds", "info", {"rows": int(rows), "customers": int(customers), "first": _day(first),
                                          "last": _day(last)})]
    if early:
        lines.append(HealthLine("dates_too_early", "warning", {"rows": int(early), "floor": PLAUSIBLE_FROM.isoformat(),
                                                               "earliest": _day(earliest)}))
    if future:
        lines.append(HealthLine("dates_in_future", "warning", {"rows": int(future), "today": today.isoformat(),
                                                               "latest": _day(latest)}))
    if outliers:
        lines.append(HealthLine("amount_outliers", "warning", {"rows": int(outliers), "factor": OUTLIER_FACTOR,
                                                               "median": float(median), "largest": float(largest)}))
    if large_returns:
        lines.append(HealthLine("large_returns", "warning", {"rows": int(large_returns),
                                                             "largest_purchase": float(largest_purchase)}))
    if returns:
        lines.append(HealthLine("returns", "info", {"rows": int(returns), "customers": int(with_returns)}))
    if only_returns:
        lines.append(HealthLine("only_returns", "warning", {"customers": int(only_returns)}))
    if buyers:
        share = one_time / buyers
        code, level = ("many_one_time_buyers", "warning") if share > MANY_ONE_TIME else ("one_time_buyers", "info")
        lines.append(HealthLine(code, level, {"share": share, "customers": int(one_time), "total": int(buyers)}))
    if first_on_last:
        lines.append(HealthLine("first_on_last_day", "info", {"customers": int(first_on_last), "as_of": _day(last)}))
    return lines


def _quarantine_lines(con: Any, figures: dict[str, Any]) -> list[HealthLine]:
    """Rows in quarantine, counted per kind of reason (kinds in the order of their counts)."""
    if not _has_table(con, "quarantine"):
        figures.update(quarantined=0, quarantine_by_kind={})
        return [HealthLine("no_quarantine", "ok", {})]
    kinds = _quarantine_kinds(con)  # English kind -> [rows, one stored reason of that kind, its code, its values]
    total = sum(entry[0] for entry in kinds.values())
    ordered = sorted(kinds.items(), key=lambda kv: (-kv[1][0], kv[0]))
    figures.update(quarantined=int(total), quarantine_by_kind={k: v[0] for k, v in ordered})
    if not total:
        return [HealthLine("no_quarantine", "ok", {})]
    return [HealthLine("quarantine", "warning", {"rows": int(total)})] + [
        HealthLine("quarantine_kind", "detail", {"rows": n, "reason": reason or "", "reason_code": code,
                                                 "reason_values": values})
        for _, (n, reason, code, values) in ordered]


def _quarantine_kinds(con: Any) -> dict[str, list]:
    """Rows in quarantine per English kind of reason, with one stored reason of each kind, its code and values.

    Rows are grouped in SQL by their reason code and the values that name the kind (the offending
    value left out, :func:`cvm.data.reasons.kind_key_sql`): one group per kind however many different
    values were rejected. A row stored before reasons had codes is its own kind (its English text).
    """
    from cvm.data.reasons import code_columns_sql, kind_key_sql

    grouped = con.execute(
        f"SELECT reason_code, min(reason), min(reason_values), count(*) FROM (SELECT reason, "
        f"{code_columns_sql(con)} FROM quarantine) GROUP BY reason_code, {kind_key_sql()}").fetchall()
    kinds: dict[str, list] = {}
    for code, reason, values, n in grouped:
        parsed = json.loads(values) if values else None
        entry = kinds.setdefault(reason_kind(reason, "en", code=code, values=parsed) or "", [0, reason, code, parsed])
        entry[0] += int(n)
    return kinds


def _run_lines(con: Any, figures: dict[str, Any], run_id: str | None) -> list[HealthLine]:
    """What the scoring run could and could not use (nothing when no run is stored)."""
    if not (_has_table(con, "score_runs") and _has_table(con, "scores")):
        if run_id:
            from cvm.errors import WorkspaceError

            raise WorkspaceError.coded("nothing_scored")
        return []
    cur = con.execute("SELECT * FROM score_runs " + ("WHERE run_id = ? " if run_id else "")
                      + "ORDER BY as_of DESC NULLS LAST, created DESC NULLS LAST, run_id DESC LIMIT 1", [run_id] if run_id else [])
    row = cur.fetchone()
    if row is None and run_id:
        from cvm.errors import SchemaError

        raise SchemaError(f"unknown scoring run '{run_id}'", hint="leave --run out to describe the latest valuation")
    if row is None:
        return []
    run = dict(zip([d[0] for d in cur.description], row))
    columns = _columns(con, "scores")
    bought = "coalesce(n_transactions, 0) > 0" if "n_transactions" in columns else "probability_alive IS NOT NULL"
    (customers, prospects, fit_left_out, spend_fit, spend_left_out, one_time, not_finite, low, top) = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT ({bought})), count(*) FILTER (WHERE {bought} AND T = 0), "
        f"count(*) FILTER (WHERE {bought} AND frequency > 0 AND monetary_value > 0), "
        f"count(*) FILTER (WHERE {bought} AND frequency > 0 AND NOT coalesce(monetary_value > 0, false)), "
        f"count(*) FILTER (WHERE {bought} AND frequency = 0), "
        f"count(*) FILTER (WHERE {bought} AND (clv IS NULL OR NOT isfinite(clv))), "
        f"min(clv) FILTER (WHERE {bought} AND isfinite(clv)), max(clv) FILTER (WHERE {bought} AND isfinite(clv)) "
        f"FROM scores WHERE run_id = ?", [run["run_id"]]).fetchone()
    examples = [r[0] for r in con.execute(
        f"SELECT customer_id FROM scores WHERE run_id = ? AND {bought} AND frequency > 0 "
        f"AND NOT coalesce(monetary_value > 0, false) ORDER BY customer_id LIMIT {EXAMPLES}",
        [run["run_id"]]).fetchall()] if spend_left_out else []
    notes = _stored_notes(run)
    buyers = int(customers) - int(prospects)
    figures["run"] = {
        "run_id": run["run_id"], "as_of": _day(run.get("as_of")), "model": run.get("model"), "customers": int(customers),
        "prospects": int(prospects), "fit_left_out": int(fit_left_out), "spend_fitted_on": int(spend_fit),
        "spend_left_out": int(spend_left_out), "spend_left_out_examples": examples, "one_time": int(one_time),
        "clv_not_finite": int(not_finite), "clv_min": None if low is None else float(low),
        "clv_max": None if top is None else float(top), "notes": notes,
    }
    reason_values = run.get("model_reason_values")
    try:
        reason_values = json.loads(reason_values) if isinstance(reason_values, str) else (reason_values or {})
    except ValueError:
        reason_values = {}
    lines = [HealthLine("run", "info", {
        "customers": int(customers), "as_of": _day(run.get("as_of")), "model": run.get("model"),
        "reason_code": run.get("model_reason_code"), "reason_values": reason_values,
        "model_reason": run.get("model_reason")})]
    if prospects:
        lines.append(HealthLine("prospects", "info", {"customers": int(prospects)}))
    if fit_left_out:
        lines.append(HealthLine("fit_left_out", "info", {"customers": int(fit_left_out)}))
    if spend_fit >= SPEND_MODEL_MINIMUM:
        lines.append(HealthLine("spend_fitted", "info", {"customers": int(spend_fit), "one_time": int(one_time)}))
    elif buyers:
        lines.append(HealthLine("spend_not_fitted", "warning", {"customers": int(spend_fit),
                                                                "minimum": SPEND_MODEL_MINIMUM}))
    if spend_left_out:
        lines.append(HealthLine("spend_left_out", "warning", {"customers": int(spend_left_out), "examples": examples,
                                                              "more": int(spend_left_out) - len(examples)}))
    if not_finite:
        lines.append(HealthLine("clv_not_finite", "warning", {"customers": int(not_finite)}))
    if buyers - int(not_finite) > 1 and top is not None and low == top:
        lines.append(HealthLine("clv_constant", "warning", {"customers": buyers - int(not_finite),
                                                            "clv": float(top)}))
    elif buyers and top is not None and top < 0.01:
        lines.append(HealthLine("clv_negligible", "warning", {"clv": float(top)}))
    lines += [HealthLine("run_note", "info", {"note": note}) for note in notes]
    return lines


#: columns of ``score_runs`` that may hold what a run noted about its fits (a JSON list or one text)
NOTE_COLUMNS = ("notes", "warnings", "fit_warnings")


def _stored_notes(run: Mapping[str, Any]) -> list[str]:
    """The notes and fit warnings a scoring run stored, if its table has a column for them."""
    notes: list[str] = []
    for name in NOTE_COLUMNS:
        value = run.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = [value]
        if isinstance(value, str):
            value = [value]
        notes += [str(v) for v in (value or []) if v not in (None, "")]
    return list(dict.fromkeys(notes))


# ----------------------------------------------------------------------------- words


def _show(name: str, value: Any, lang: str, currency: str) -> Any:
    """One figure in the reader's locale (numbers grouped, shares as percentages, money with its currency)."""
    if value is None:
        return "–"
    formats = Formats(lang, currency)
    if name in _INTEGERS:
        return formats.number(int(value))
    if name == "share":
        return formats.percent(float(value), 1, optional=True)
    if name in _MONEY:
        return formats.money_or_power(float(value))  # from a trillion on in powers of ten
    if name in _DATES:
        return formats.date(dt.date.fromisoformat(str(value)[:10]))
    if name == "model":
        from cvm.value.explain import term

        return term(value, lang)
    if name == "examples":
        return ", ".join(str(v) for v in value)
    return value


def _model_reason(values: Mapping[str, Any], lang: str, currency: str) -> str:
    """Why the run chose its model, in the reader's language (the stored English when the code is unknown)."""
    from cvm.errors import CvmError
    from cvm.value.explain import explain

    code = values.get("reason_code")
    if code:
        try:
            return explain(code, values.get("reason_values") or {}, lang, currency)
        except (CvmError, KeyError, TypeError, ValueError):
            pass
    return values.get("model_reason") or "–"
