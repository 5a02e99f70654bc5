"""Workspace settings: one TOML file (``settings.toml``) beside ``cvm.duckdb``.

Everything a manager may want to change without touching code lives here:
margin, horizon, discount rate, tier cut-offs, value-matrix weights, journey
stage rules, currency and language. The CLI (``cvm settings``), the web app and
the library all read and write the same file through :class:`Settings`.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cvm.errors import SchemaError

TimeUnit = Literal["day", "week", "month", "year"]

#: days in one time unit (month and year use the mean Gregorian year)
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "year": 365.25}


def discount_rate_per_unit(yearly_rate: float, time_unit: str) -> float:
    """A yearly discount rate ``d`` per time unit of ``u`` days, compounded: ``(1 + d) ** (u / 365.25) - 1``."""
    return (1.0 + yearly_rate) ** (DAYS_PER_UNIT[time_unit] / 365.25) - 1.0


class StageRules(BaseModel):
    """Rules that place a customer in a journey stage (seed 001: becoming, being, staying a customer).

    Evaluated in this order: prospect (no purchase), new (first purchase within ``new_days``),
    lapsed (P(alive) below ``lapsed_below``), at risk (P(alive) below ``at_risk_below``),
    loyal (at least ``loyal_min_purchases`` repeat purchases), otherwise active.
    """

    model_config = ConfigDict(extra="forbid")
    new_days: int = Field(90, ge=1)
    at_risk_below: float = Field(0.5, gt=0, lt=1)
    lapsed_below: float = Field(0.2, gt=0, lt=1)
    loyal_min_purchases: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "StageRules":
        if self.lapsed_below >= self.at_risk_below:
            raise ValueError("lapsed_below must be smaller than at_risk_below")
        return self


class MatrixWeights(BaseModel):
    """Weights of the value matrix (seed 002): economic, ambassador and strategic value."""

    model_config = ConfigDict(extra="forbid")
    economic: float = Field(0.6, ge=0)
    ambassador: float = Field(0.25, ge=0)
    strategic: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _positive_sum(self) -> "MatrixWeights":
        if self.economic + self.ambassador + self.strategic <= 0:
            raise ValueError("at least one value-matrix weight must be positive")
        return self


class ServerSettings(BaseModel):
    """How ``cvm serve`` runs and how long access lasts (``cvm serve``'s options win over these).

    The session timeouts apply to every request of a running server; the rest is
    read when the server starts.

    Sessions end after ``session_idle_minutes`` without a request and at the latest
    ``session_max_hours`` after the login. Failed logins wait longer from the
    ``login_delay_after``-th failure on and lock the account (or address) for
    ``login_lockout_minutes`` after ``login_lockout_after`` failures
    (:mod:`cvm.web.throttle`).
    """

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    proxy_headers: bool = False
    secure_cookies: bool = False
    max_upload_mb: float = Field(200.0, gt=0, le=100_000)
    workers: int = Field(2, ge=1, le=64)
    session_idle_minutes: float = Field(60.0, gt=0)
    session_max_hours: float = Field(12.0, gt=0)
    login_delay_after: int = Field(3, ge=0)
    login_lockout_after: int = Field(10, ge=1)
    login_lockout_minutes: float = Field(15.0, gt=0)


class Settings(BaseModel):
    """All workspace settings, validated.

    Attributes
    ----------
    margin
        Share of revenue that is gross contribution (0..1], used when the data have no margin column.
    horizon
        Number of ``time_unit`` periods over which CLV is predicted.
    time_unit
        Unit of the model's time axis (``day``, ``week``, ``month``, ``year``).
    discount_rate
        Yearly discount rate ``d``; converted to the time unit as ``(1 + d) ** (days / 365.25) - 1``.
    tier_cutoffs
        Percentile cut-offs (descending) with tier names: the top 5 % are "platinum", etc.
    contact_success
        The chance that a retention or win-back contact keeps or wins back the customer (0..1],
        default 0.2 (one contact in five). The maximum sensible spend on the worklists and the
        budget plan's expected saving are this share of the value at risk (:mod:`cvm.value.actions`).
    time_zone
        The workspace's clock (an IANA name): times that carry a zone (ISO offsets, zone-aware
        Parquet or frames) are converted to it on ingest, and "today" (dates in the future are
        refused) is its date — never the machine's zone.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    margin: float = Field(0.3, gt=0, le=1)
    horizon: int = Field(52, ge=1, le=10_000)
    time_unit: TimeUnit = "week"
    discount_rate: float = Field(0.10, ge=0, le=1)
    currency: str = "EUR"
    language: Literal["en", "nl"] = "en"
    interval_level: float = Field(0.90, gt=0, lt=1)
    tier_cutoffs: dict[str, float] = Field(
        default_factory=lambda: {"platinum": 0.95, "gold": 0.80, "silver": 0.50, "bronze": 0.0}
    )
    matrix_weights: MatrixWeights = Field(default_factory=MatrixWeights)
    stage_rules: StageRules = Field(default_factory=StageRules)
    referral_decay: float = Field(0.5, ge=0, le=1)
    retention_cost_per_customer: float = Field(0.0, ge=0)
    contact_success: float = Field(0.2, gt=0, le=1)
    server: ServerSettings = Field(default_factory=ServerSettings)
    time_zone: str = "Europe/Amsterdam"

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Amsterdam or UTC") from None
        return value

    @field_validator("tier_cutoffs")
    @classmethod
    def _cutoffs(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("at least one tier is needed")
        if any(not 0 <= v < 1 for v in value.values()):
            raise ValueError("tier cut-offs are percentiles in [0, 1)")
        if min(value.values()) != 0:
            raise ValueError("the lowest tier must start at 0 so every customer has a tier")
        return dict(sorted(value.items(), key=lambda kv: -kv[1]))

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        value = value.strip().upper()
        if len(value) != 3 or not value.isalpha():
            raise ValueError("currency is a three-letter ISO code such as EUR or USD")
        return value

    # ------------------------------------------------------------------ derived
    @property
    def days_per_unit(self) -> float:
        return DAYS_PER_UNIT[self.time_unit]

    def discount_rate_per_unit(self, time_unit: str | None = None) -> float:
        """The yearly discount rate expressed per ``time_unit`` (:func:`discount_rate_per_unit`)."""
        return discount_rate_per_unit(self.discount_rate, time_unit or self.time_unit)

    # ------------------------------------------------------------------ file I/O
    @classmethod
    def load(cls, path: str | Path) -> "Settings":
        """Read ``settings.toml``; a missing file gives the defaults."""
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SchemaError(f"{path} is not valid TOML: {exc}", hint="fix or delete the file") from None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise SchemaError(f"{path}: {_first_error(exc)}") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        # written aside and renamed over: a process reading the settings meanwhile sees the old or the new file
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_text(tomli_w.dumps(self.model_dump()), encoding="utf-8")
        os.replace(part, path)
        return path

    def set(self, key: str, value: Any) -> "Settings":
        """Return a copy with one setting changed; ``key`` may be dotted (``stage_rules.new_days``).

        String values from a command line are parsed as TOML literals when possible
        (``0.25`` becomes a float), so ``cvm settings --set margin=0.25`` works.
        """
        if isinstance(value, str):
            value = _parse_literal(value)
        data = self.model_dump()
        parts = key.split(".")
        target = data
        for part in parts[:-1]:
            if part not in target or not isinstance(target[part], dict):
                raise SchemaError.coded("unknown_setting", key=key, known=self.keys())
            target = target[part]
        if parts[-1] not in target and parts[0] != "tier_cutoffs":
            raise SchemaError.coded("unknown_setting", key=key, known=self.keys())
        if parts[0] == "tier_cutoffs" and len(parts) == 2 and isinstance(value, (int, float)):
            _check_tier_rank(data["tier_cutoffs"], parts[1], float(value))
        target[parts[-1]] = value
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise _setting_problem(exc, key) from None

    def keys(self) -> list[str]:
        out: list[str] = []
        for name, value in self.model_dump().items():
            if isinstance(value, dict) and name != "tier_cutoffs":
                out.extend(f"{name}.{k}" for k in value)
            else:
                out.append(name)
        return out


def _check_tier_rank(cutoffs: dict[str, float], name: str, value: float) -> None:
    """Refuse a changed cut-off that would move a tier past its neighbours.

    Tiers are ranked by their cut-offs, so ``gold=0.99`` next to ``platinum=0.95``
    would silently make gold the top tier; a re-ranking must be said in full
    (``tier_cutoffs={...}``).
    """
    if name not in cutoffs:
        return
    ranked = sorted(cutoffs.items(), key=lambda kv: -kv[1])
    names = [n for n, _ in ranked]
    i = names.index(name)
    above = ranked[i - 1] if i > 0 else None
    below = ranked[i + 1] if i + 1 < len(ranked) else None
    if (above and value >= above[1]) or (below and value <= below[1]):
        lower = below[1] if below else 0.0
        upper = above[1] if above else 1.0
        raise SchemaError(
            f"tier_cutoffs.{name}={value:g} would move {name} past "
            f"{above[0] if above and value >= above[1] else below[0]}: cut-offs must keep the tiers in order "
            f"({', '.join(f'{n} {v:g}' for n, v in ranked)})",
            hint=f"choose a value between {lower:g} and {upper:g}, or set every tier at once, "
                 "e.g. --set 'tier_cutoffs={gold=0.9, silver=0.5, bronze=0}'",
        )


def _parse_literal(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _setting_problem(exc: ValidationError, key: str) -> SchemaError:
    """Why ``key`` was refused, in the catalogue's words for pydantic's common error types (else its English)."""
    err = exc.errors()[0]
    kind, context = err.get("type", ""), err.get("ctx") or {}
    if kind == "less_than_equal":
        return SchemaError.coded("setting_at_most", key=key, limit=str(context.get("le")))
    if kind == "less_than":
        return SchemaError.coded("setting_below", key=key, limit=str(context.get("lt")))
    if kind == "greater_than_equal":
        return SchemaError.coded("setting_at_least", key=key, limit=str(context.get("ge")))
    if kind == "greater_than":
        return SchemaError.coded("setting_above", key=key, limit=str(context.get("gt")))
    if kind == "literal_error":  # "'en' or 'nl'": the choices as a list, joined in the reader's words
        choices = [c.strip() for c in str(context.get("expected", "")).replace(" or ", ",").split(",")]
        return SchemaError.coded("setting_one_of", key=key, choices=choices)
    if kind in ("float_parsing", "float_type"):
        return SchemaError.coded("setting_not_a_number", key=key)
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return SchemaError.coded("setting_not_a_whole_number", key=key)
    return SchemaError.coded("invalid_setting", key=key, problem=_first_error(exc))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
    return f"{where}: {err.get('msg', 'invalid value')}"
