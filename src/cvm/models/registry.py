"""The one list of cvm's models: command-line name, class, kind and label; the data columns and what a
model can predict are read from its class.

Every place that names models (the CLI's ``--model`` choices, the fit service, the backtest, the
Spark driver, explanations, stored fits) reads this registry; a new model is its file of mathematics
plus one entry here (docs/models.md).

kinds: ``purchase`` (continuous-time repeat purchases and dropout, fitted on frequency, recency,
T), ``spend`` (average spend per transaction), ``discrete`` (purchase opportunities),
``contractual`` (cohort survival), ``limit`` (a purchase model's limiting case, reached by a fit at
the edge of its parameter space, :mod:`cvm.models.limits`; known by name, not offered as a choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from cvm.errors import SchemaError


#: what the models can predict, by method name; :meth:`cvm.models.base.LikelihoodModel.__init_subclass__`
#: wraps each with :func:`~cvm.models.base.shaped_like_input` (``GammaGamma.customer_lifetime_value`` is
#: not one of them: it keeps returning an array, which existing callers compare with ``pytest.approx``)
PREDICTIONS: tuple[str, ...] = (
    "probability_alive", "expected_purchases", "expected_purchases_new", "purchase_probability",
    "discounted_expected_purchases", "expected_spend", "survival", "churn_probability", "retention_rate",
    "discounted_expected_residual_lifetime",
)


@dataclass(frozen=True)
class ModelSpec:
    """One model: its command-line ``name``, where its class lives, its ``kind`` and its ``label``.

    ``data_columns`` (what its likelihood reads) and ``predicts`` (which of :data:`PREDICTIONS` it
    offers) come from the class itself, imported on first use so that naming models stays cheap.
    """

    name: str
    class_name: str
    module: str
    kind: str
    label: str

    @property
    def cls(self) -> type:
        """The model class."""
        return getattr(import_module(self.module), self.class_name)

    @property
    def data_columns(self) -> tuple[str, ...]:
        """The per-customer columns the model's likelihood reads (its class's ``data_columns``)."""
        return tuple(self.cls.data_columns)

    @property
    def predicts(self) -> frozenset[str]:
        """The predictions the model's class offers, e.g. ``{"probability_alive", "expected_purchases", ...}``."""
        return frozenset(name for name in PREDICTIONS if callable(getattr(self.cls, name, None)))


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("bgnbd", "BGNBD", "cvm.models.bgnbd", "purchase", "BG/NBD"),
    ModelSpec("mbgnbd", "MBGNBD", "cvm.models.mbgnbd", "purchase", "MBG/NBD"),
    ModelSpec("pnbd", "ParetoNBD", "cvm.models.pnbd", "purchase", "Pareto/NBD"),
    ModelSpec("bgbb", "BGBB", "cvm.models.bgbb", "discrete", "BG/BB"),
    ModelSpec("sbg", "ShiftedBetaGeometric", "cvm.models.sbg", "contractual", "sBG"),
    ModelSpec("gg", "GammaGamma", "cvm.models.gamma_gamma", "spend", "Gamma-Gamma"),
    ModelSpec("nbd", "NBD", "cvm.models.limits", "limit", "NBD"),
    ModelSpec("poisson", "Poisson", "cvm.models.limits", "limit", "Poisson"),
)}


def names(kind: str | None = None) -> tuple[str, ...]:
    """Command-line names of the models of one ``kind`` (all choosable models when None)."""
    return tuple(n for n, s in MODELS.items() if (s.kind == kind if kind else s.kind != "limit"))


#: the purchase models, in the order a backtest and ``--model auto`` consider them
PURCHASE_MODELS: tuple[str, ...] = names("purchase")


def spec(name: str) -> ModelSpec:
    """The registry entry for a command-line name (``bgnbd``) or a class name (``BGNBD``)."""
    found = _find(name)
    if found is None:
        raise SchemaError.coded("unknown_model", name=name, models=names())
    return found


def _find(name: str) -> ModelSpec | None:
    key = str(name).lower()
    return MODELS.get(key) or next((s for s in MODELS.values() if s.class_name.lower() == key), None)


def label(name: str) -> str:
    """The label of a model for people (``pnbd`` or ``ParetoNBD`` → ``Pareto/NBD``); unknown names as given."""
    found = _find(name)
    return found.label if found else str(name)


def short_name(model: object) -> str:
    """The command-line name of a fitted model (or model class): ``BGNBD()`` → ``bgnbd``."""
    cls = model if isinstance(model, type) else type(model)
    return next((s.name for s in MODELS.values() if s.class_name == cls.__name__), cls.__name__.lower())
