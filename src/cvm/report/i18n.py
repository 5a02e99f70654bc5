"""The report's words in English and Dutch, and numbers, money and dates in the reader's locale.

Both languages hold the same keys (a test checks it). Numbers are formatted
with Babel: ``en`` uses ``en_GB`` (1,234.56; 31 Dec 1997), ``nl`` uses ``nl_NL``
(1.234,56; 31 dec. 1997); money carries the workspace currency.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

from cvm.errors import SchemaError

LOCALES: dict[str, str] = {"en": "en_GB", "nl": "nl_NL"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Customer value report",
        "generated": "Generated",
        "workspace": "Workspace",
        "contents": "Contents",
        "no_data": "No data for this section",
        "section_failed": "This section could not be computed",
        "showing_rows": "Showing the first {shown} of {total} rows.",
        # overview
        "overview": "Overview",
        "overview_intro": "What the workspace holds and what it is worth, as of the latest scoring run.",
        "transactions": "Transactions",
        "customers": "Customers",
        "first_transaction": "First transaction",
        "last_transaction": "Last transaction",
        "as_of": "Valued as of",
        "total_clv": "Predicted value (CLV) of all customers",
        "valuation_model": "Model used for valuation",
        # data quality
        "data_health": "Data health",
        "data_health_intro": "What looks wrong in the data, and what the valuation could and could not use; each warning says what to do.",
        "hint": "What to do",
        "data_quality": "Data quality",
        "data_quality_intro": "Rows that failed validation are kept in quarantine with the reason and the source line; nothing is dropped silently.",
        "quarantined_rows": "Quarantined rows",
        "quarantine_by_reason": "Quarantined rows by reason",
        "quarantine_sample": "Sample of quarantined rows",
        "no_quarantine": "No rows were quarantined: every row passed validation.",
        # model fit
        "model_fit": "Model fit",
        "model_fit_intro": "Parameters estimated by maximum likelihood on the calibration period, with standard errors and confidence intervals.",
        # backtest
        "backtest": "Backtest on the holdout",
        "backtest_intro": "Every model was fitted on the calibration period ({calibration_end} and before) and compared with what customers actually did up to {holdout_end}.",
        "best_model": "Chosen model",
        "backtest_metrics": "Accuracy on the holdout",
        "tracking_cumulative": "Cumulative repeat transactions",
        "tracking_incremental": "Repeat transactions per period",
        "conditional_title": "Holdout purchases by repeat purchases in calibration",
        "histogram_title": "Customers by repeat purchases in calibration",
        "palive_calibration_title": "P(alive) against buying in the holdout",
        "chi_square_note": "Chi-square over the groups 0-6 and 7+ (degrees of freedom: 8 groups - 1 - number of parameters).",
        "period": "period",
        "end_of_calibration": "end of calibration",
        "repeat_transactions": "repeat transactions",
        "repeat_purchases_calibration": "repeat purchases in calibration",
        "mean_holdout_purchases": "mean purchases in holdout",
        "predicted_palive": "predicted P(alive)",
        "share_bought": "share that bought in the holdout",
        "actual": "actual",
        "observed": "observed",
        # value
        "value_distribution": "Value distribution",
        "value_distribution_intro": "How predicted customer lifetime value is spread over the customers.",
        "clv_histogram": "Distribution of predicted CLV",
        "lorenz_title": "Concentration of value",
        "share_customers": "share of customers (highest value first)",
        "share_value": "share of value",
        "customers_axis": "customers",
        "concentration_sentence": "{share} of customers make {value_share} of predicted value (Gini {gini}).",
        "palive_heatmap": "P(alive) by frequency and recency",
        "expected_heatmap": "Expected purchases in the next {horizon} {unit} by frequency and recency",
        "frequency": "frequency",
        "recency": "recency",
        "palive_history": "P(alive) over time of the most valuable customer ({customer})",
        "time_since_first": "time since first purchase",
        "purchase": "purchase",
        "top_customers": "Most valuable customers",
        # value management
        "concentration": "Concentration",
        "concentration_intro": "Which share of the customers makes which share of the value (the 80/20 question).",
        "segments": "Segments",
        "segments_intro": "Value tiers, journey stages and RFM segments.",
        "tiers": "Value tiers",
        "stages": "Journey stages",
        "rfm": "RFM segments",
        "value_matrix": "Value matrix",
        "value_matrix_intro": "Economic value against relational value (ambassadorship, strategic fit).",
        "matrix_counts": "Customers per quadrant",
        "migration": "Migration",
        "migration_intro": "How customers moved between value tiers from {from_date} to {to_date}.",
        "migration_from": "from",
        "migration_to": "to",
        "cohorts": "Cohorts",
        "cohorts_intro": "Customers grouped by the month of their first purchase.",
        "retention_by_cohort": "Share of each cohort still buying, by age in months",
        "value_by_cohort": "Cumulative value per customer, by age in months",
        "age": "age",
        "investment": "Investment",
        "investment_intro": "How much each customer or group is worth spending on, and the return of doing so.",
        "receivables": "Receivables",
        "receivables_intro": "Who pays late, and how much is outstanding.",
        "actions": "Next-best actions",
        "actions_intro": "What to do next for each customer, following value and journey stage.",
        "actions_count": "Customers per action",
        "actions_list": "Customers with their action and the reason",
        "network": "Referral network",
        "network_intro": "The value customers bring in through the customers they referred.",
        "footer": "Made with cvm. This file works offline: charts are drawn by plotly.js embedded in the page.",
    },
    "nl": {
        "title": "Rapport klantwaarde",
        "generated": "Gemaakt op",
        "workspace": "Werkmap",
        "contents": "Inhoud",
        "no_data": "Geen gegevens voor dit onderdeel",
        "section_failed": "Dit onderdeel kon niet worden berekend",
        "showing_rows": "De eerste {shown} van {total} rijen.",
        "overview": "Overzicht",
        "overview_intro": "Wat de werkmap bevat en wat het waard is, volgens de laatste waardering.",
        "transactions": "Transacties",
        "customers": "Klanten",
        "first_transaction": "Eerste transactie",
        "last_transaction": "Laatste transactie",
        "as_of": "Gewaardeerd per",
        "total_clv": "Voorspelde waarde (CLV) van alle klanten",
        "valuation_model": "Model voor de waardering",
        "data_health": "Gezondheid van de gegevens",
        "data_health_intro": "Wat er mis lijkt in de gegevens, en wat de waardering wel en niet kon gebruiken; bij elke waarschuwing staat wat u kunt doen.",
        "hint": "Wat te doen",
        "data_quality": "Datakwaliteit",
        "data_quality_intro": "Rijen die de controle niet doorstaan staan in quarantaine met de reden en de bronregel; er verdwijnt niets ongemerkt.",
        "quarantined_rows": "Rijen in quarantaine",
        "quarantine_by_reason": "Rijen in quarantaine per reden",
        "quarantine_sample": "Voorbeeld van rijen in quarantaine",
        "no_quarantine": "Geen rijen in quarantaine: elke rij doorstond de controle.",
        "model_fit": "Modelschatting",
        "model_fit_intro": "Parameters geschat met de meest aannemelijke schatter op de kalibratieperiode, met standaardfouten en betrouwbaarheidsintervallen.",
        "backtest": "Toets op de controleperiode",
        "backtest_intro": "Elk model is geschat op de kalibratieperiode (tot en met {calibration_end}) en vergeleken met wat klanten werkelijk deden tot {holdout_end}.",
        "best_model": "Gekozen model",
        "backtest_metrics": "Nauwkeurigheid in de controleperiode",
        "tracking_cumulative": "Cumulatieve herhaalaankopen",
        "tracking_incremental": "Herhaalaankopen per periode",
        "conditional_title": "Aankopen in de controleperiode naar herhaalaankopen in de kalibratie",
        "histogram_title": "Klanten naar aantal herhaalaankopen in de kalibratie",
        "palive_calibration_title": "P(actief) tegenover kopen in de controleperiode",
        "chi_square_note": "Chi-kwadraat over de groepen 0-6 en 7+ (vrijheidsgraden: 8 groepen - 1 - aantal parameters).",
        "period": "periode",
        "end_of_calibration": "einde kalibratie",
        "repeat_transactions": "herhaalaankopen",
        "repeat_purchases_calibration": "herhaalaankopen in de kalibratie",
        "mean_holdout_purchases": "gemiddeld aantal aankopen in de controleperiode",
        "predicted_palive": "voorspelde P(actief)",
        "share_bought": "aandeel dat kocht in de controleperiode",
        "actual": "werkelijk",
        "observed": "waargenomen",
        "value_distribution": "Verdeling van de waarde",
        "value_distribution_intro": "Hoe de voorspelde klantwaarde over de klanten verdeeld is.",
        "clv_histogram": "Verdeling van de voorspelde CLV",
        "lorenz_title": "Concentratie van de waarde",
        "share_customers": "aandeel klanten (hoogste waarde eerst)",
        "share_value": "aandeel in de waarde",
        "customers_axis": "klanten",
        "concentration_sentence": "{share} van de klanten maakt {value_share} van de voorspelde waarde (Gini {gini}).",
        "palive_heatmap": "P(actief) naar frequentie en recentheid",
        "expected_heatmap": "Verwachte aankopen in de komende {horizon} {unit} naar frequentie en recentheid",
        "frequency": "frequentie",
        "recency": "recentheid",
        "palive_history": "P(actief) door de tijd van de waardevolste klant ({customer})",
        "time_since_first": "tijd sinds de eerste aankoop",
        "purchase": "aankoop",
        "top_customers": "Waardevolste klanten",
        "concentration": "Concentratie",
        "concentration_intro": "Welk deel van de klanten welk deel van de waarde maakt (de 80/20-vraag).",
        "segments": "Segmenten",
        "segments_intro": "Waardeklassen, fasen in de klantreis en RFM-segmenten.",
        "tiers": "Waardeklassen",
        "stages": "Fasen in de klantreis",
        "rfm": "RFM-segmenten",
        "value_matrix": "Waardematrix",
        "value_matrix_intro": "Economische waarde tegenover relationele waarde (ambassadeurschap, strategisch belang).",
        "matrix_counts": "Klanten per kwadrant",
        "migration": "Migratie",
        "migration_intro": "Hoe klanten tussen waardeklassen bewogen van {from_date} tot {to_date}.",
        "migration_from": "van",
        "migration_to": "naar",
        "cohorts": "Cohorten",
        "cohorts_intro": "Klanten gegroepeerd naar de maand van hun eerste aankoop.",
        "retention_by_cohort": "Aandeel van elk cohort dat nog koopt, naar leeftijd in maanden",
        "value_by_cohort": "Cumulatieve waarde per klant, naar leeftijd in maanden",
        "age": "leeftijd",
        "investment": "Investeren",
        "investment_intro": "Hoeveel het waard is om in elke klant of groep te investeren, en wat dat oplevert.",
        "receivables": "Debiteuren",
        "receivables_intro": "Wie laat betaalt, en hoeveel er openstaat.",
        "actions": "Volgende beste acties",
        "actions_intro": "Wat de volgende stap is voor elke klant, naar waarde en fase in de klantreis.",
        "actions_count": "Klanten per actie",
        "actions_list": "Klanten met hun actie en de reden",
        "network": "Verwijzingsnetwerk",
        "network_intro": "De waarde die klanten binnenbrengen via de klanten die zij aanbrachten.",
        "footer": "Gemaakt met cvm. Dit bestand werkt offline: de grafieken tekent plotly.js, dat in de pagina zit.",
    },
}

#: column headers the tables translate; other columns show their name with spaces
COLUMNS: dict[str, dict[str, str]] = {
    "en": {},
    "nl": {
        "customer_id": "klant",
        "frequency": "frequentie",
        "recency": "recentheid",
        "monetary_value": "gemiddeld bedrag",
        "clv": "CLV",
        "clv_low": "CLV laag",
        "clv_high": "CLV hoog",
        "probability_alive": "P(actief)",
        "expected_purchases": "verwachte aankopen",
        "historic_value": "historische waarde",
        "value_tier": "waardeklasse",
        "lifecycle_stage": "fase",
        "customers": "klanten",
        "n_customers": "klanten",
        "share": "aandeel",
        "value_share": "aandeel waarde",
        "customer_share": "aandeel klanten",
        "reason": "reden",
        "action": "actie",
        "rows": "rijen",
        "source": "bron",
        "line": "regel",
        "raw": "ruwe regel",
        "model": "model",
        "actual": "werkelijk",
        "observed": "waargenomen",
        "holdout_actual": "werkelijk in controle",
        "holdout_predicted": "voorspeld in controle",
        "tracking_error": "volgfout",
        "mae_purchases": "MAE aankopen",
        "rmse_purchases": "RMSE aankopen",
        "mae_spend": "MAE bestedingen",
        "rmse_spend": "RMSE bestedingen",
        "chi_square": "chi-kwadraat",
        "chi_square_dof": "vrijheidsgraden",
        "chi_square_p_value": "p-waarde",
        "probability_alive_ece": "kalibratiefout P(actief)",
        "ranking_gini": "Gini van de rangorde",
        "top_decile_share": "aandeel top-10%",
        "bic": "BIC",
        "segment": "segment",
        "matrix_segment": "kwadrant",
        "cohort": "cohort",
        "age": "leeftijd",
        "retention": "behoud",
    },
}

UNITS: dict[str, dict[str, str]] = {
    "en": {"day": "days", "week": "weeks", "month": "months", "year": "years"},
    "nl": {"day": "dagen", "week": "weken", "month": "maanden", "year": "jaar"},
}


def check_language(language: str) -> str:
    """The language code, or a :class:`SchemaError` naming the supported ones."""
    code = (language or "en").strip().lower()
    if code not in LOCALES:
        raise SchemaError(f"the report speaks English or Dutch, not '{language}'", hint="use language='en' or 'nl'")
    return code


class Formatter:
    """Babel formatting for one language and currency.

    Examples
    --------
    >>> Formatter("nl", "EUR").number(1234.5)
    '1.234,50'
    >>> Formatter("en", "EUR").percent(0.125)
    '12.5%'
    """

    def __init__(self, language: str = "en", currency: str = "EUR") -> None:
        self.language = check_language(language)
        self.locale = LOCALES[self.language]
        self.currency = currency
        self.strings = STRINGS[self.language]

    # words
    def t(self, key: str, **values: Any) -> str:
        text = self.strings.get(key, key)
        return text.format(**values) if values else text

    def column(self, name: str) -> str:
        return COLUMNS[self.language].get(name, str(name).replace("_", " "))

    def unit(self, time_unit: str) -> str:
        return UNITS[self.language].get(time_unit, time_unit)

    def term(self, value: Any) -> str:
        """A tier, stage, action or model code in words (:func:`cvm.value.explain.term`)."""
        from cvm.value.explain import term

        return "–" if self._missing(value) else term(value, self.language)

    def explain(self, reason_code: str, values: Any = None) -> str:
        """A reason code with its figures in this language and currency (:func:`cvm.value.explain.explain`)."""
        from cvm.value.explain import explain

        return explain(reason_code, values or {}, self.language, self.currency)

    # numbers
    @staticmethod
    def _missing(value: Any) -> bool:
        try:
            return value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value)
        except (TypeError, ValueError):
            return False

    def number(self, value: Any, digits: int = 2) -> str:
        from babel.numbers import format_decimal

        if self._missing(value):
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(float(value), format=pattern, locale=self.locale)

    def integer(self, value: Any) -> str:
        return self.number(value, 0)

    def money(self, value: Any) -> str:
        from babel.numbers import format_currency

        if self._missing(value):
            return "–"
        return format_currency(float(value), self.currency, locale=self.locale)

    def percent(self, value: Any, digits: int = 1) -> str:
        from babel.numbers import format_percent

        if self._missing(value):
            return "–"
        pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "") + "%"
        return format_percent(float(value), format=pattern, locale=self.locale)

    def date(self, value: Any) -> str:
        from babel.dates import format_date

        if self._missing(value):
            return "–"
        if isinstance(value, str):
            value = pd.Timestamp(value)
        if isinstance(value, (pd.Timestamp, datetime)):
            value = value.date()
        if not isinstance(value, date):
            return str(value)
        return format_date(value, format="short", locale=self.locale)  # as the web app: nl 30-09-1997, en 30/09/1997

    def datetime(self, value: datetime) -> str:
        from babel.dates import format_datetime

        return format_datetime(value, format="short", locale=self.locale)

    def plotly_separators(self) -> str:
        """Decimal and thousands separators for Plotly's ``layout.separators``."""
        return ",." if self.language == "nl" else ".,"
