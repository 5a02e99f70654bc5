r"""Which customer groups buy more often, stay longer, spend more and pay back their costs (seed 002:
*welke klantgroepen zijn wel, minder en niet winstgevend, en door welke factoren?*).

Pure functions over frames and fitted models; :func:`cvm.service.drivers.drivers` reads a workspace,
fits and calls them.

**Groups.** Each attribute (``channel``, ``region``, any column of ``customers``) is dummy coded:
one 0/1 covariate per value, the value with the most customers (the *baseline*) left out. Values
with fewer than :data:`MIN_CUSTOMERS_PER_VALUE` customers are not compared (they are named with
their count); their customers, and customers without a value, are left out of the model.

**How often they buy and how long they stay** come from one Pareto/NBD with covariates
(Fader & Hardie 2007, "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
models"; CLVTools' parameterisation) fitted on every compared customer, all attributes at once
(each effect is adjusted for the other attributes):

.. math:: \alpha_i = \alpha\,e^{-\gamma_1^\top z_i},\qquad \beta_i = \beta\,e^{-\gamma_2^\top z_i}.

A customer's purchase rate while active is :math:`\lambda_i \sim \mathrm{Gamma}(r, \alpha_i)`, so
:math:`\lambda_i = G/\alpha_i` with :math:`G \sim \mathrm{Gamma}(r, 1)`: being in group *g*
instead of the baseline multiplies the whole distribution of the purchase rate (its mean
:math:`r/\alpha_i` included) by :math:`e^{\gamma_{1g}}` — "buys :math:`e^{\gamma_{1g}}`\× as
often". Likewise the dropout rate :math:`\mu_i = G'/\beta_i` is multiplied by
:math:`e^{\gamma_{2g}}` and the lifetime :math:`\tau_i = E/\mu_i` (:math:`E` standard exponential)
by :math:`e^{-\gamma_{2g}}` — "stays :math:`e^{-\gamma_{2g}}`\× as long". The interval of a factor
is :math:`\exp(\hat\gamma \pm z_{(1+\ell)/2}\,\widehat{se})` with the standard error from the
inverse Hessian (:meth:`cvm.models.base.LikelihoodModel.covariance_`).

**How much they spend** per repeat purchase: a Gamma-Gamma model (Fader, Hardie & Lee 2005,
"RFM and CLV: using iso-value curves", appendix; Fader & Hardie 2013, note 025) fitted on each
group's repeat buyers alone; the group's mean spend is the model's population mean
:math:`m_g = p\gamma/(q-1)` (``GammaGamma.expected_spend_new``). Its interval is the delta method
on the log scale: with the covariance :math:`\Sigma` of :math:`(\ln p, \ln q, \ln\gamma)`,
:math:`\mathrm{Var}(\ln m_g) = d^\top\Sigma d`, :math:`d = (1, -q/(q-1), 1)`. Groups are fitted
separately (independent samples), so the ratio to the baseline has
:math:`\mathrm{Var}(\ln m_g - \ln m_0) = \mathrm{Var}(\ln m_g) + \mathrm{Var}(\ln m_0)`. Spend is
compared per attribute, not adjusted for the other attributes.

**No driver without evidence.** A difference is *clear* only when its interval excludes 1 and the
attribute as a whole differs: a Wald test of all its coefficients being zero
(:math:`W = \hat\gamma^\top\hat\Sigma^{-1}\hat\gamma \sim \chi^2_k`; for spend Cochran's
:math:`Q = \sum_g (\ln m_g - \overline{\ln m})^2/\mathrm{Var}(\ln m_g) \sim \chi^2_{k-1}` around the
inverse-variance weighted mean) rejects. With many values some single interval excludes 1 by
chance; the joint test keeps those from being called drivers. One run asks three joint questions
(buy, stay, spend) per attribute, so each is tested at :math:`(1-\ell)/(3m)` for *m* attributes
(Bonferroni): the chance that any attribute without an effect is called a driver stays below
:math:`1-\ell`. Otherwise the words say "no clear difference".

**Profitable after costs.** From the latest valuation: per customer the margin so far
(``historic_value``) plus the predicted margin (``clv``) minus the costs charged to the customer
by :func:`cvm.value.investment.allocate_costs` (the rules of the investment question). A group's
profit per customer has the interval :math:`\bar x \pm z\,s/\sqrt n` (the spread of its customers;
the models' own uncertainty is not added). A group is *profitable* when the interval lies above
zero, *loss-making* when it lies below, otherwise *unclear* (around break-even).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import chi2

from cvm.errors import SchemaError
from cvm.i18n import Formats, text
from cvm.value.profile import CHANNEL_ATTRIBUTES

#: fewest customers a value needs to be compared (fewer: named, not compared)
MIN_CUSTOMERS_PER_VALUE = 50
#: fewest repeat buyers (with a positive spend) a group needs for its own spend model
MIN_REPEAT_BUYERS = 20
#: most values of one attribute compared at once (each is two coefficients of the one model)
MAX_VALUES = 20
#: customer columns that are the ingest's bookkeeping, not attributes
NOT_ATTRIBUTES = ("customer_id", "source", "line", "attributes")
#: the effects, in the order they are told
KINDS = ("purchase", "dropout", "spend")


# ----------------------------------------------------------------------------- groups
def value_texts(values: pd.Series) -> pd.Series:
    """Attribute values as the texts groups are named by (``7.0`` → ``"7"``, dates as ``YYYY-MM-DD``,
    blanks stripped), None where missing or blank; column-wise, no loop over rows."""
    known = values.notna()
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype(float)
        whole = known & np.isfinite(numbers) & (numbers == numbers.round())
        out = numbers.astype(str)
        out[whole] = numbers[whole].round().astype("int64").astype(str)
    else:
        out = values.astype(str).str.strip()
    out = out.astype(object).where(known & (out != ""), None)
    return out


def customer_groups(attributes: pd.DataFrame, first_channels: pd.Series | None = None) -> pd.DataFrame:
    """Every customer's attributes as text (:func:`value_texts`), indexed by ``customer_id``.

    ``attributes`` is :func:`cvm.value.profile.customer_attributes` of the ``customers`` table. When
    the customers carry no acquisition channel (none of :data:`cvm.value.profile.CHANNEL_ATTRIBUTES`),
    ``channel`` is the channel of each customer's first transaction (``first_channels``, by id), as
    the investment question groups channels.
    """
    frame = attributes.copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame = frame.drop_duplicates("customer_id", keep="last").set_index("customer_id")
    frame = frame[[c for c in frame.columns if c not in NOT_ATTRIBUTES]]
    out = pd.DataFrame({c: value_texts(frame[c]) for c in frame.columns}, index=frame.index, dtype=object)
    own = any(c in out.columns and out[c].notna().any() for c in CHANNEL_ATTRIBUTES)
    if not own and first_channels is not None and len(first_channels):
        from_tx = value_texts(pd.Series(first_channels.to_numpy(), index=first_channels.index.astype(str)))
        out = out.reindex(out.index.union(from_tx.index))
        out["channel"] = from_tx.reindex(out.index)
    return out


@dataclass
class AttributeDesign:
    """One attribute's groups: the baseline, the compared values (largest first) and what was left out."""

    attribute: str
    baseline: str
    values: list[str]
    counts: dict[str, int]
    left_out: dict[str, int]
    without_value: int


@dataclass
class Design:
    """The dummy-coded covariates of the compared customers (index ``customer_id``, columns ``z0, z1, ...``)."""

    attributes: list[AttributeDesign]
    covariates: pd.DataFrame
    columns: dict[str, tuple[str, str]]  # covariate name -> (attribute, value)

    def names(self, attribute: str) -> list[str]:
        """The covariates of ``attribute``, in the order of its values."""
        return [n for n, (a, _) in self.columns.items() if a == attribute]


def usable_attributes(groups: pd.DataFrame, min_customers: int = MIN_CUSTOMERS_PER_VALUE,
                      max_values: int = MAX_VALUES) -> dict[str, int]:
    """The attributes that can be compared: name → number of values with at least ``min_customers`` customers
    (at least two and at most ``max_values``)."""
    out = {}
    for column in groups.columns:
        counts = groups[column].value_counts()
        n = int((counts >= min_customers).sum())
        if 2 <= n <= max_values:
            out[column] = n
    return out


def design(groups: pd.DataFrame, by: Sequence[str], min_customers: int = MIN_CUSTOMERS_PER_VALUE,
           max_values: int = MAX_VALUES) -> Design:
    """Dummy-code the attributes ``by`` of the customers in ``groups`` (one row per customer in the model).

    Raises
    ------
    SchemaError
        An attribute is unknown (``drivers_unknown_attribute``), has one value only
        (``drivers_one_value``), fewer than two values with ``min_customers`` customers
        (``drivers_too_few``), more than ``max_values`` such values (``drivers_too_many_values``),
        or two attributes tell the same thing (``drivers_same_information``).
    """
    by = list(dict.fromkeys(str(b) for b in by))
    filled = sorted(c for c in groups.columns if groups[c].notna().any()) or ["–"]
    if not by:
        raise SchemaError.coded("drivers_no_attribute", available=filled)
    for attribute in by:
        if attribute not in groups.columns or groups[attribute].isna().all():
            raise SchemaError.coded("drivers_unknown_attribute", attribute=attribute, available=filled)
    keep = pd.Series(True, index=groups.index)
    for _ in range(10):  # leaving out one attribute's small values can make another's small: repeat until stable
        usable = {}
        for attribute in by:
            counts = groups.loc[keep, attribute].value_counts()
            usable[attribute] = counts[counts >= min_customers]
        now = keep & np.logical_and.reduce([groups[a].isin(usable[a].index).to_numpy() for a in by])
        if now.equals(keep):
            break
        keep = now
    parts = []
    for attribute in by:
        column = groups[attribute]
        counts = column.value_counts()
        known = column.notna()
        if len(counts) == 1:
            raise SchemaError.coded("drivers_one_value", attribute=attribute, value=str(counts.index[0]),
                                    n=int(counts.iloc[0]))
        compared = groups.loc[keep, attribute].value_counts()
        if len(compared) < 2:  # the counts among the customers with a value for every attribute asked for
            known_all = np.logical_and.reduce([groups[a].notna().to_numpy() for a in by])
            shown = ", ".join(f"{v} {n}" for v, n in groups.loc[known_all, attribute].value_counts().head(8).items())
            raise SchemaError.coded("drivers_too_few", attribute=attribute, minimum=min_customers, counts=shown)
        if len(compared) > max_values:
            raise SchemaError.coded("drivers_too_many_values", attribute=attribute, n=len(compared), maximum=max_values)
        ordered = sorted(compared.index, key=lambda v: (-int(compared[v]), v))
        left_out = {v: int(n) for v, n in counts.items() if v not in compared.index}
        parts.append(AttributeDesign(attribute, ordered[0], ordered, {v: int(compared[v]) for v in ordered}, left_out,
                                     int((~known).sum())))
    kept = groups.loc[keep]
    columns: dict[str, tuple[str, str]] = {}
    data = {}
    for part in parts:
        for value in part.values[1:]:
            name = f"z{len(columns)}"
            columns[name] = (part.attribute, value)
            data[name] = (kept[part.attribute] == value).to_numpy(float)
    covariates = pd.DataFrame(data, index=kept.index)
    matrix = np.column_stack([np.ones(len(kept))] + [covariates[c].to_numpy() for c in columns])
    if np.linalg.matrix_rank(np.unique(matrix, axis=0)) < matrix.shape[1]:
        raise SchemaError.coded("drivers_same_information", attributes=list(by))
    return Design(parts, covariates, columns)


# ----------------------------------------------------------------------------- effects
@dataclass
class Effect:
    """A multiplicative effect relative to the baseline group, with its interval.

    ``factor`` multiplies the baseline's purchase rate (``purchase``), lifetime (``dropout``: how
    long customers stay, the inverse of the factor on the dropout rate; ``lifetime`` and
    ``dropout_rate`` in :meth:`DriversResult.to_dict`) or mean spend per repeat purchase (``spend``). ``clear`` says the interval excludes 1 and the attribute's joint
    test rejects "no differences" (module docstring). ``reason`` says why there is no figure.
    """

    kind: str
    factor: float | None = None
    lower: float | None = None
    upper: float | None = None
    clear: bool = False
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"factor": _num(self.factor), "lower": _num(self.lower), "upper": _num(self.upper),
                "clear": bool(self.clear), "reason": self.reason}

    def inverse(self) -> "Effect":
        """The same effect as the inverse factor (a lifetime factor as the factor on the dropout rate)."""
        flip = lambda x: None if x is None or x == 0 else 1.0 / x  # noqa: E731
        return Effect(self.kind, flip(self.factor), flip(self.upper), flip(self.lower), self.clear, self.reason)


@dataclass
class Profit:
    """A group's margin so far, predicted margin and costs, and its profit per customer with its interval."""

    customers: int
    historic_value: float
    clv: float
    cost: float
    per_customer: float
    lower: float | None
    upper: float | None
    verdict: str  # profitable | loss | unclear

    @property
    def profit(self) -> float:
        return self.historic_value + self.clv - self.cost

    def to_dict(self) -> dict[str, Any]:
        return {"customers": self.customers, "historic_value": _num(self.historic_value), "clv": _num(self.clv),
                "cost": _num(self.cost), "profit": _num(self.profit), "profit_per_customer": _num(self.per_customer),
                "lower": _num(self.lower), "upper": _num(self.upper), "verdict": self.verdict}


@dataclass
class GroupEffects:
    """One value of an attribute: its customers and its three effects (1 for the baseline)."""

    value: str
    customers: int
    baseline: bool
    purchase: Effect
    dropout: Effect
    spend: Effect
    repeat_buyers: int = 0
    mean_spend: float | None = None
    mean_spend_lower: float | None = None
    mean_spend_upper: float | None = None
    profit: Profit | None = None

    def effect(self, kind: str) -> Effect:
        return getattr(self, kind)


@dataclass
class AttributeEffects:
    """One attribute: its baseline, its compared groups (baseline first), the values left out, the joint tests."""

    attribute: str
    baseline: str
    groups: list[GroupEffects]
    left_out: dict[str, int] = field(default_factory=dict)
    without_value: int = 0
    tests: dict[str, dict[str, float] | None] = field(default_factory=dict)


@dataclass
class DriversResult:
    """The answer of ``cvm drivers`` and the ``/drivers`` page; :meth:`sentences` says it in words."""

    attributes: list[AttributeEffects]
    n_customers: int
    as_of: str | None
    time_unit: str
    level: float
    currency: str = "EUR"
    profit_note: str | None = None  # why there is no profitability: "no_scores"; "no_costs": before costs
    notes: list[str] = field(default_factory=list)

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        """Every figure for ``--json`` (factors with their interval, profit per group) and the sentences in ``language``."""
        attributes = []
        for attr in self.attributes:
            groups = []
            for g in attr.groups:
                groups.append({
                    "value": g.value, "baseline": g.baseline, "customers": g.customers,
                    "repeat_buyers": g.repeat_buyers,
                    "purchase": g.purchase.to_dict(), "lifetime": g.dropout.to_dict(),
                    "dropout_rate": g.dropout.inverse().to_dict(), "spend": g.spend.to_dict(),
                    "mean_spend": _num(g.mean_spend), "mean_spend_lower": _num(g.mean_spend_lower),
                    "mean_spend_upper": _num(g.mean_spend_upper),
                    "profit": None if g.profit is None else g.profit.to_dict(),
                    "words": group_sentences(self, attr, g, language),
                })
            attributes.append({
                "attribute": attr.attribute, "baseline": attr.baseline, "customers": sum(g.customers for g in attr.groups),
                "without_value": attr.without_value,
                "left_out": [{"value": v, "customers": n} for v, n in attr.left_out.items()],
                "tests": {k: (None if t is None else {key: _num(val) for key, val in t.items()}) for k, t in attr.tests.items()},
                "groups": groups,
            })
        return {"as_of": self.as_of, "time_unit": self.time_unit, "level": self.level, "n_customers": self.n_customers,
                "purchase_model": "pnbd", "spend_model": "gg", "min_customers_per_value": MIN_CUSTOMERS_PER_VALUE,
                "profit_note": self.profit_note, "attributes": attributes, "answer": self.answer(language),
                "notes": list(self.notes)}

    def answer(self, language: str = "en") -> list[str]:
        """The answer in a few sentences: the clear drivers (or that there are none) and the groups' profitability."""
        return answer_sentences(self, language)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _quantile(level: float) -> float:
    if not 0 < level < 1:
        raise SchemaError(f"level must lie strictly between 0 and 1, got {level}")
    return float(ndtri(0.5 + level / 2))


def _wald(coefficients: np.ndarray, covariance: np.ndarray) -> dict[str, float] | None:
    """Wald test of all ``coefficients`` being zero; None when the covariance cannot be inverted."""
    if coefficients.size == 0 or not np.all(np.isfinite(covariance)):
        return None
    try:
        statistic = float(coefficients @ np.linalg.solve(covariance, coefficients))
    except np.linalg.LinAlgError:
        return None
    if not math.isfinite(statistic) or statistic < 0:
        return None
    df = int(coefficients.size)
    return {"statistic": statistic, "df": df, "p_value": float(chi2.sf(statistic, df))}


def covariate_effects(params: pd.Series, covariance: pd.DataFrame | None, design_: Design,
                      level: float = 0.95, family: int = 1) -> tuple[dict[tuple[str, str], dict[str, Effect]], dict[str, dict[str, Any]]]:
    """Purchase and lifetime factors of every compared value, and each attribute's joint tests.

    ``params`` and ``covariance`` are a fitted :class:`~cvm.models.pnbd.ParetoNBD`'s ``params_`` and
    ``covariance_`` with purchase and dropout covariates ``design_.covariates``' columns (the
    coefficients are free parameters, so their covariance is on their own scale). Returns
    ``{(attribute, value): {"purchase": Effect, "dropout": Effect}}`` and
    ``{attribute: {"purchase": test, "dropout": test}}``. A difference is clear when its interval
    excludes 1 and its attribute's joint test rejects at ``(1 - level) / family`` (module docstring).
    """
    q = _quantile(level)
    cov = None if covariance is None else covariance
    effects: dict[tuple[str, str], dict[str, Effect]] = {}
    tests: dict[str, dict[str, Any]] = {}
    for part in design_.attributes:
        names = design_.names(part.attribute)
        tests[part.attribute] = {}
        for kind, prefix in (("purchase", "purchase"), ("dropout", "dropout")):
            keys = [f"{prefix}[{n}]" for n in names]
            gamma = params[keys].to_numpy(float)
            sub = None if cov is None else cov.loc[keys, keys].to_numpy(float)
            test = None if sub is None else _wald(gamma, sub)
            tests[part.attribute][kind] = test
            differs = test is not None and test["p_value"] < (1 - level) / family
            se = (np.sqrt(np.clip(np.diag(sub), 0, None)) if sub is not None and np.all(np.isfinite(sub))
                  else np.full(len(keys), np.nan))
            for name, g, s in zip(names, gamma, se):
                value = design_.columns[name][1]
                sign = 1.0 if kind == "purchase" else -1.0  # a lifetime is the inverse of the dropout rate
                if not np.isfinite(s) or s <= 0:
                    effect = Effect(kind, float(np.exp(sign * g)), reason="not_estimable")
                else:
                    lo, hi = sorted((float(np.exp(sign * (g - q * s))), float(np.exp(sign * (g + q * s)))))
                    effect = Effect(kind, float(np.exp(sign * g)), lo, hi, clear=bool(differs and (lo > 1 or hi < 1)))
                effects.setdefault((part.attribute, value), {})[kind] = effect
    return effects, tests


def mean_spend(params: Mapping[str, float], covariance: pd.DataFrame | None) -> tuple[float, float] | None:
    r"""A Gamma-Gamma fit's population mean spend :math:`p\gamma/(q-1)` and the variance of its logarithm
    (delta method, module docstring); None when ``q <= 1`` (no finite mean) or without a covariance."""
    p, q, g = float(params["p"]), float(params["q"]), float(params["gamma"])
    if not q > 1:
        return None
    mean = p * g / (q - 1)
    if covariance is None:
        return None
    sigma = covariance.loc[["p", "q", "gamma"], ["p", "q", "gamma"]].to_numpy(float)
    if not np.all(np.isfinite(sigma)):
        return None
    d = np.array([1.0, -q / (q - 1), 1.0])
    var = float(d @ sigma @ d)
    if not (math.isfinite(mean) and math.isfinite(var) and var > 0):
        return None
    return mean, var


def spend_effects(means: Mapping[str, tuple[float, float] | None], baseline: str, level: float = 0.95,
                  reasons: Mapping[str, str] | None = None, family: int = 1,
                  ) -> tuple[dict[str, Effect], dict[str, tuple[float, float, float]], dict[str, float] | None]:
    """Spend factors against the baseline's mean spend, each group's mean with its interval, and Cochran's Q.

    ``means`` maps each value to :func:`mean_spend` of its own Gamma-Gamma fit (None: not estimated,
    for the reason in ``reasons``, default ``not_estimable``).
    """
    reasons = dict(reasons or {})
    q = _quantile(level)
    known = {v: m for v, m in means.items() if m is not None}
    shown = {v: (m, m * math.exp(-q * math.sqrt(var)), m * math.exp(q * math.sqrt(var))) for v, (m, var) in known.items()}
    test = None
    if len(known) >= 2:
        logs = np.array([math.log(m) for m, _ in known.values()])
        variances = np.array([var for _, var in known.values()])
        weights = 1 / variances
        centre = float(weights @ logs / weights.sum())
        statistic = float(np.sum((logs - centre) ** 2 * weights))
        test = {"statistic": statistic, "df": len(known) - 1, "p_value": float(chi2.sf(statistic, len(known) - 1))}
    differs = test is not None and test["p_value"] < (1 - level) / family
    effects = {}
    base = known.get(baseline)
    for value, found in means.items():
        if value == baseline:
            effects[value] = Effect("spend", 1.0) if base is not None else Effect("spend", reason="baseline_unknown")
            continue
        if found is None:
            effects[value] = Effect("spend", reason=reasons.get(value, "not_estimable"))
            continue
        if base is None:
            effects[value] = Effect("spend", reason="baseline_unknown")
            continue
        log_ratio = math.log(found[0]) - math.log(base[0])
        se = math.sqrt(found[1] + base[1])
        lo, hi = math.exp(log_ratio - q * se), math.exp(log_ratio + q * se)
        effects[value] = Effect("spend", math.exp(log_ratio), lo, hi, clear=bool(differs and (lo > 1 or hi < 1)))
    return effects, shown, test


def group_profit(table: pd.DataFrame, attribute: str, level: float = 0.95) -> dict[str, Profit]:
    """Profit after costs per value of ``attribute``: ``table`` has ``historic_value``, ``clv`` and ``cost``
    per customer (module docstring for the interval and the verdict)."""
    q = _quantile(level)
    profit = table["historic_value"].fillna(0.0) + table["clv"].fillna(0.0) - table["cost"].fillna(0.0)
    frame = pd.DataFrame({"group": table[attribute], "historic_value": table["historic_value"].fillna(0.0),
                          "clv": table["clv"].fillna(0.0), "cost": table["cost"].fillna(0.0), "profit": profit})
    out = {}
    for value, rows in frame.dropna(subset=["group"]).groupby("group", sort=False):
        n = len(rows)
        mean = float(rows["profit"].mean())
        lower = upper = None
        if n >= 2:
            half = q * float(rows["profit"].std(ddof=1)) / math.sqrt(n)
            lower, upper = mean - half, mean + half
        verdict = ("profitable" if lower is not None and lower > 0 else
                   "loss" if upper is not None and upper < 0 else "unclear")
        out[str(value)] = Profit(n, float(rows["historic_value"].sum()), float(rows["clv"].sum()),
                                 float(rows["cost"].sum()), mean, lower, upper, verdict)
    return out


# ----------------------------------------------------------------------------- words
def _words(language: str, currency: str):
    formats = Formats(language, currency)

    def say(key: str, **values: Any) -> str:
        return text("drivers." + key, language, values)

    def factor(x: float | None) -> str:
        return formats.number(x, 2)

    return say, factor, formats


def _who(attribute: str, value: str, language: str) -> str:
    shown = text("term." + value, language, default=value)
    return text("drivers.who", language, {"attribute": _label(attribute, language), "value": shown})


def group_sentences(result: DriversResult, attr: AttributeEffects, group: GroupEffects, language: str = "en",
                    clear_only: bool = False) -> list[str]:
    """What one group's figures say, a sentence per effect and one on profit, in ``language``; with ``clear_only``
    the clear differences alone (the drivers)."""
    say, factor, formats = _words(language, result.currency)
    who = _who(attr.attribute, group.value, language)
    base = _who(attr.attribute, attr.baseline, language)
    level = formats.percent(result.level, 0)
    out = []
    if group.baseline:
        if not clear_only:
            out.append(say("baseline", who=who, n=formats.number(group.customers)))
    else:
        for kind in KINDS:
            e = group.effect(kind)
            if e.reason is not None or e.lower is None:
                if clear_only:
                    continue
                if kind == "spend" and e.reason == "too_few_repeat_buyers":
                    out.append(say("spend.too_few", who=who, n=formats.number(group.repeat_buyers),
                                   minimum=MIN_REPEAT_BUYERS))
                else:
                    out.append(say(f"{kind}.not_estimable", who=who))
                continue
            values = dict(who=who, baseline=base, factor=factor(e.factor), lower=factor(e.lower), upper=factor(e.upper),
                          level=level)
            if e.clear:
                out.append(say(f"{kind}.{'more' if e.factor > 1 else 'less'}", **values))
            elif clear_only:
                continue
            elif e.lower > 1 or e.upper < 1:  # this interval excludes 1, the attribute's joint test does not reject
                out.append(say(f"{kind}.chance", **values))
            else:
                out.append(say(f"{kind}.unclear", **values))
    if group.profit is not None and not clear_only:
        p = group.profit
        out.append(say(f"profit.{p.verdict}", who=who, profit=formats.money(p.per_customer),
                       lower=formats.money(p.lower), upper=formats.money(p.upper), level=level))
    return [_capital(s) for s in out]


def _label(attribute: str, language: str) -> str:
    """An attribute in words, lower case inside a sentence (``Kanaal`` → ``kanaal``)."""
    label = text("col." + attribute, language, default=attribute.replace("_", " ").strip())
    return label[:1].lower() + label[1:]


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


#: the columns of a drivers table (headers ``drivers.col.<id>``), in order
TABLE_COLUMNS = ("group", "customers", "purchase", "dropout", "spend", "mean_spend", "profit", "verdict")


def table_rows(result: DriversResult, attr: AttributeEffects, language: str = "en") -> list[dict[str, Any]]:
    """One attribute's groups as table rows of text in ``language`` (keys :data:`TABLE_COLUMNS`), each factor
    with its interval (``1,42× (1,20–1,68×)``), plus ``clear_kinds``: the effects that are clear differences."""
    say, factor, formats = _words(language, result.currency)
    out = []
    for g in attr.groups:
        row: dict[str, Any] = {"group": text("term." + g.value, language, default=g.value),
                               "customers": formats.number(g.customers), "clear_kinds": []}
        for kind in KINDS:
            e = g.effect(kind)
            if g.baseline:
                row[kind] = say("cell.baseline")
            elif e.lower is None:
                row[kind] = say("cell.none")
            else:
                row[kind] = f"{factor(e.factor)}× ({factor(e.lower)}–{factor(e.upper)}×)"
                if e.clear:
                    row["clear_kinds"].append(kind)
        row["mean_spend"] = ("–" if g.mean_spend is None else
                             f"{formats.money(g.mean_spend)} ({formats.money(g.mean_spend_lower)}–{formats.money(g.mean_spend_upper)})")
        p = g.profit
        row["profit"] = "–" if p is None else (
            formats.money(p.per_customer) if p.lower is None else
            f"{formats.money(p.per_customer)} ({formats.money(p.lower)} – {formats.money(p.upper)})")
        row["verdict"] = "–" if p is None else say("verdict." + p.verdict)
        out.append(row)
    return out


def answer_sentences(result: DriversResult, language: str = "en") -> list[str]:
    """The page's first lines: every clear driver in one sentence per attribute (or that there is none), which
    groups are profitable, unclear or loss-making after their costs, and what to do."""
    say, factor, formats = _words(language, result.currency)
    out = []
    any_found = False
    for attr in result.attributes:
        label = _label(attr.attribute, language)
        found = []
        for g in attr.groups:
            effects = [say(f"short.{kind}.{'more' if g.effect(kind).factor > 1 else 'less'}",
                           factor=factor(g.effect(kind).factor)) for kind in KINDS if g.effect(kind).clear]
            if effects:
                found.append(say("short.group", value=text("term." + g.value, language, default=g.value),
                                 effects=formats.join(effects)))
        any_found = any_found or bool(found)
        if found:
            out.append(say("answer.found", attribute=label, found="; ".join(found),
                           baseline=text("term." + attr.baseline, language, default=attr.baseline)))
        else:
            out.append(say("answer.none", attribute=label))
        profits = {v: [text("term." + g.value, language, default=g.value) for g in attr.groups
                       if g.profit is not None and g.profit.verdict == v] for v in ("profitable", "unclear", "loss")}
        if any(profits.values()):
            parts = [say(f"answer.{v}", groups=formats.join(names)) for v, names in profits.items() if names]
            out.append(say("answer.profit", attribute=label, parts="; ".join(parts)))
    if result.attributes:
        out.append(say("answer.todo_found" if any_found else "answer.todo_none"))
    if result.profit_note:
        out.append(say("note." + result.profit_note))
    out += [say("note." + n) for n in result.notes]
    return [_capital(s) for s in out]


def attribute_effects(design_: Design, effects: Mapping[tuple[str, str], Mapping[str, Effect]],
                      tests: Mapping[str, Mapping[str, Any]], spend: Mapping[str, tuple], repeat_buyers: Mapping[str, Mapping[str, int]],
                      profits: Mapping[str, Mapping[str, Profit]] | None) -> list[AttributeEffects]:
    """Put the pieces together per attribute: the groups (baseline first), their effects, spend and profit.

    ``spend`` maps each attribute to :func:`spend_effects`' result (effects, means, test);
    ``repeat_buyers`` to each value's number of repeat buyers; ``profits`` to :func:`group_profit`.
    """
    out = []
    for part in design_.attributes:
        spend_effect, means, spend_test = spend[part.attribute]
        groups = []
        for value in part.values:
            is_base = value == part.baseline
            found = effects.get((part.attribute, value), {})
            purchase = Effect("purchase", 1.0) if is_base else found["purchase"]
            dropout = Effect("dropout", 1.0) if is_base else found["dropout"]
            mean = means.get(value)
            groups.append(GroupEffects(
                value=value, customers=part.counts[value], baseline=is_base, purchase=purchase, dropout=dropout,
                spend=spend_effect[value], repeat_buyers=int(repeat_buyers[part.attribute].get(value, 0)),
                mean_spend=None if mean is None else mean[0], mean_spend_lower=None if mean is None else mean[1],
                mean_spend_upper=None if mean is None else mean[2],
                profit=None if profits is None else profits.get(part.attribute, {}).get(value)))
        out.append(AttributeEffects(part.attribute, part.baseline, groups, dict(part.left_out), part.without_value,
                                    {**tests.get(part.attribute, {}), "spend": spend_test}))
    return out
