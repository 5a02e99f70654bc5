"""The one list of cvm's models: command-line name, class, kind, data columns and label.

Every place that names models (the CLI's ``--model`` choices, the fit service, the backtest, the
Spark driver, explanations) reads this registry; a new model is its file of mathematics plus one
entry here.

kinds: ``purchase`` (continuous-time repeat purchases and dropout, fitted on frequency, recency,
T), ``spend`` (average spend per transaction), ``discrete`` (purchase opportunities),
``contractual`` (cohort survival), ``limit`` (a purchase model's limiting case, reached by a fit at
the edge of its parameter space, :mod:`cvm.models.limits`; known by name, not offered as a choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from cvm.errors import SchemaError


@dataclass(frozen=True)
class ModelSpec:
    """One model: its command-line ``name``, where its class lives, what it reads and its label."""

    name: str
    class_name: str
    module: str
    kind: str
    data_columns: tuple[str, ...]
    label: str

    @property
    def cls(self) -> type:
        """The model class (imported on first use, so naming models stays cheap)."""
        return getattr(import_module(self.module), self.class_name)


_CONTINUOUS = ("frequency", "recency", "T")

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("bgnbd", "BGNBD", "cvm.models.bgnbd", "purchase", _CONTINUOUS, "BG/NBD"),
    ModelSpec("mbgnbd", "MBGNBD", "cvm.models.mbgnbd", "purchase", _CONTINUOUS, "MBG/NBD"),
    ModelSpec("pnbd", "ParetoNBD", "cvm.models.pnbd", "purchase", _CONTINUOUS, "Pareto/NBD"),
    ModelSpec("bgbb", "BGBB", "cvm.models.bgbb", "discrete", ("frequency", "recency", "n_periods"), "BG/BB"),
    ModelSpec("sbg", "ShiftedBetaGeometric", "cvm.models.sbg", "contractual", ("survivors",), "sBG"),
    ModelSpec("gg", "GammaGamma", "cvm.models.gamma_gamma", "spend", ("frequency", "monetary_value"), "Gamma-Gamma"),
    ModelSpec("nbd", "NBD", "cvm.models.limits", "limit", _CONTINUOUS, "NBD"),
    ModelSpec("poisson", "Poisson", "cvm.models.limits", "limit", _CONTINUOUS, "Poisson"),
)}


def names(kind: str | None = None) -> tuple[str, ...]:
    """Command-line names of the models of one ``kind`` (all choosable models when None)."""
    return tuple(n for n, s in MODELS.items() if (s.kind == kind if kind else s.kind != "limit"))


#: the purchase models, in the order a backtest and ``--model auto`` consider them
PURCHASE_MODELS: tuple[str, ...] = names("purchase")


def spec(name: str) -> ModelSpec:
    """The registry entry for a command-line name (``bgnbd``) or a class name (``BGNBD``)."""
    key = str(name).lower()
    found = MODELS.get(key) or next((s for s in MODELS.values() if s.class_name.lower() == key), None)
    if found is None:
        raise SchemaError(f"unknown model '{name}'", hint=f"choose one of {', '.join(names())}")
    return found


def short_name(model: object) -> str:
    """The command-line name of a fitted model (or model class): ``BGNBD()`` → ``bgnbd``."""
    cls = model if isinstance(model, type) else type(model)
    return next((s.name for s in MODELS.values() if s.class_name == cls.__name__), cls.__name__.lower())
