"""The words of the errors a user meets, in English and Dutch, under one code each.

An error raised with a code (:meth:`cvm.errors.CvmError.coded`) takes its English
message and hint from the catalogue (:mod:`cvm.i18n`: message ids ``errors.<code>`` and
``errors.<code>.hint``), so the English text and the catalogue cannot drift apart. A face
that knows its reader's language shows :func:`localize` instead of the raw exception: the
Dutch sentence when the code is known, else the exception's own (English) text.

Templates are ``str.format`` strings with named placeholders; both languages of one
code use the same names (a Dutch hint may repeat a value of the message). Values are formatted by the code that raises the error
(dates and numbers exactly as the English message always showed them); a list
becomes its items joined by ``", "``. In Dutch, placeholders listed in :data:`FIELDS`
hold target column names (``customer_id``) and are written in words
(``klantnummer``, ids ``column.<name>``), and those in :data:`KINDS` hold a kind of data
(``transactions``, written ``transacties``, ids ``kind.<name>``).

Examples
--------
>>> english("missing_columns", {"kind": "transactions", "missing": ["customer_id"], "columns": ["datum", "bedrag"]})[0]
'cannot find the transactions column(s) customer_id; columns found: datum, bedrag'
>>> render("missing_columns", {"kind": "transactions", "missing": ["customer_id"], "columns": ["datum", "bedrag"]}, "nl")[0]
'In het bestand met transacties ontbreekt een kolom voor: klantnummer. Gevonden kolommen: datum, bedrag.'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvm.i18n import LANGUAGES, Section, catalogue, placeholders, text

__all__ = ["LANGUAGES", "CATALOGUE", "Message", "render", "english", "localize", "localize_parts", "describe",
           "placeholders", "field_word", "kind_word"]


def field_word(name: str, language: str) -> str:
    """A target column of the ingest (``customer_id``) in the reader's words (nl ``klantnummer``)."""
    return text(f"column.{name}", language, default=str(name)) if language == "nl" else str(name)


def kind_word(name: str, language: str) -> str:
    """A kind of data (``transactions``) in the reader's words (nl ``transacties``)."""
    return text(f"kind.{name}", language, default=str(name)) if language == "nl" else str(name)


def _map_example(values: Mapping[str, Any], language: str) -> dict[str, Any]:
    missing = list(values.get("missing") or [])
    word = "<kolom>" if language == "nl" else "<column>"
    return {"example": " ".join(f"--map {m}={word}" for m in missing), "first": missing[0] if missing else ""}


_DATE_FORMAT_HINT_EN = "use strftime codes, e.g. %d-%m-%Y for 31-12-2024 or %Y-%m-%d for 2024-12-31"
_DATE_FORMAT_HINT_NL = "Gebruik %-codes, bijvoorbeeld %d-%m-%Y voor 31-12-2024 of %Y-%m-%d voor 2024-12-31."

CATALOGUE: dict[str, Message] = {
    # ---------------------------------------------------------------- reading a file
    "file_not_found": Message(
        "file not found: {path}",
        "Bestand niet gevonden: {path}"),
    "path_is_folder": Message(
        "{path} is a folder, not a file",
        "{path} is een map, geen bestand",
        "pass one CSV, Excel or Parquet file",
        "Kies één bestand: CSV, Excel of Parquet."),
    "file_empty": Message(
        "the file is empty",
        "Het bestand is leeg.",
        "check that you exported the right file",
        "Controleer of u het juiste bestand hebt geëxporteerd."),
    "upload_type_not_allowed": Message(
        "files of type '.{ext}' cannot be uploaded",
        "Bestanden van het type '.{ext}' kunnen niet worden geüpload.",
        "upload one of: {allowed}",
        "Upload een van deze soorten: {allowed}."),
    "upload_wrong_format": Message(
        "the file does not look like a .{ext} file",
        "Het bestand lijkt geen .{ext}-bestand te zijn.",
        "check that it was saved in that format",
        "Controleer of het in dat formaat is opgeslagen."),
    "upload_binary": Message(
        "the file looks binary, not like text",
        "Het bestand is geen tekst maar een binair bestand.",
        "export it as CSV (UTF-8 or cp1252)",
        "Exporteer het als CSV (UTF-8 of cp1252)."),
    "upload_empty": Message(
        "the uploaded file is empty",
        "Het geüploade bestand is leeg."),
    "named_file_empty": Message(
        "the file {name} is empty",
        "Het bestand {name} is leeg.",
        "check that you exported the right file",
        "Controleer of u het juiste bestand hebt geëxporteerd."),
    "xls_not_supported": Message(
        "old Excel files (.xls) are not supported",
        "Oude Excel-bestanden (.xls) kunnen niet worden gelezen.",
        "save the sheet as .xlsx or CSV",
        "Sla het werkblad op als .xlsx of als CSV."),
    "binary_file": Message(
        "{name} is not a table: it is a binary file",
        "{name} is geen tabel maar een binair bestand.",
        "export the data as CSV, Excel or Parquet",
        "Exporteer de gegevens als CSV, Excel of Parquet."),
    "unknown_encoding": Message(
        "unknown encoding '{encoding}'",
        "Onbekende tekencodering '{encoding}'.",
        "use utf-8 or cp1252",
        "Gebruik utf-8 of cp1252."),
    "no_delimiter": Message(
        "this file is not a table: no delimiter (; , tab |) splits its lines into columns",
        "Dit bestand is geen tabel: geen scheidingsteken (; , tab |) verdeelt de regels in kolommen.",
        "export the data as CSV or Excel, or pass --delimiter",
        "Exporteer de gegevens als CSV of Excel, of geef het scheidingsteken op (--delimiter)."),
    "unreadable_text": Message(
        "cannot read {name}: {detail}",
        "{name} kan niet worden gelezen ({detail}).",
        "pass --encoding or --delimiter",
        "Geef de tekencodering of het scheidingsteken op (--encoding, --delimiter)."),
    "unreadable_excel": Message(
        "{name} is not a readable Excel workbook ({error})",
        "{name} is geen leesbaar Excel-bestand ({error}).",
        "save it again as .xlsx, or export CSV",
        "Sla het opnieuw op als .xlsx, of exporteer het als CSV."),
    "no_sheet": Message(
        "no sheet '{sheet}' in {name}",
        "{name} heeft geen werkblad '{sheet}'.",
        "sheets: {sheets}",
        "Werkbladen in het bestand: {sheets}"),
    "sheet_empty": Message(
        "the sheet in {name} is empty",
        "Het werkblad in {name} is leeg.",
        "check that you exported the right sheet",
        "Controleer of u het juiste werkblad hebt geëxporteerd."),
    "no_columns": Message(
        "{name} has no columns",
        "{name} heeft geen kolommen.",
        "pass a table with customer, date and amount columns",
        "Gebruik een tabel met kolommen voor klant, datum en bedrag."),
    "unreadable_parquet": Message(
        "{name} is not a readable Parquet file: {detail}",
        "{name} is geen leesbaar Parquet-bestand ({detail})."),
    "header_only": Message(
        "{name} has column names but no rows of data; nothing was ingested",
        "{name} heeft kolomnamen maar geen regels met gegevens; er is niets ingelezen.",
        "check that you exported the rows and not only the header",
        "Controleer of u de regels zelf hebt geëxporteerd en niet alleen de kopregel."),
    # ---------------------------------------------------------------- columns and mapping
    "unknown_kind": Message(
        "unknown kind '{kind}'",
        "Onbekende soort gegevens '{kind}'.",
        "choose one of {kinds}",
        "Kies uit: {kinds}"),
    "map_unknown_target": Message(
        "'{target}' is not a column of {kind}",
        "'{target}' is geen kolom van {kind}.",
        "{kind} columns are: {fields}",
        "De kolommen van {kind} zijn: {fields}",
        kinds=("kind",)),
    "map_missing_column": Message(
        "--map {target}={source}: the file has no column '{source}'",
        "--map {target}={source}: het bestand heeft geen kolom '{source}'.",
        "columns found: {columns}",
        "Gevonden kolommen: {columns}"),
    "missing_columns": Message(
        "cannot find the {kind} column(s) {missing}; columns found: {columns}",
        "In het bestand met {kind} ontbreekt een kolom voor: {missing}. Gevonden kolommen: {columns}.",
        "name the columns with {example} (Python: mapping={{'{first}': '<column>'}})",
        "Geef de kolom in het bestand een kopnaam die cvm herkent ({missing}), of wijs hem aan met {example} "
        "(in Python: mapping={{'{first}': '<kolom>'}}).",
        fields=("missing",), kinds=("kind",), derive=_map_example),
    # ---------------------------------------------------------------- reading options
    "same_separators": Message(
        "the decimal mark and thousands separator cannot be the same",
        "Het decimaalteken en het scheidingsteken voor duizendtallen kunnen niet hetzelfde zijn."),
    "bad_delimiter": Message(
        "the delimiter must be one character, got {delimiter!r}",
        "Het scheidingsteken moet één teken zijn, niet {delimiter!r}.",
        "e.g. ';' or ',' or '|', or '\\t' for a tab; leave it out to have it detected",
        "Bijvoorbeeld ';' of ',' of '|', of '\\t' voor een tab; laat het weg om het te laten herkennen."),
    "bad_decimal": Message(
        "the decimal mark must be '.' or ',', got {decimal!r}",
        "Het decimaalteken moet '.' of ',' zijn, niet {decimal!r}.",
        "leave it out to have it detected",
        "Laat het weg om het te laten herkennen."),
    "bad_locale": Message(
        "unknown locale {locale!r}; use one of {locales}",
        "Onbekende locale {locale!r}; kies uit {locales}.",
        "nl, de and fr write 1.234,56 and day-first dates, en writes 1,234.56 and day-first dates, "
        "us 1,234.56 and month-first dates",
        "nl, de en fr schrijven 1.234,56 en de dag eerst, en schrijft 1,234.56 en de dag eerst, "
        "us 1,234.56 en de maand eerst."),
    "bad_thousands": Message(
        "the thousands separator must be one character or empty, got {thousands!r}",
        "Het scheidingsteken voor duizendtallen moet één teken zijn of leeg, niet {thousands!r}."),
    "date_format_no_codes": Message(
        "the date format {date_format!r} holds no % codes",
        "De datumnotatie {date_format!r} bevat geen %-codes.",
        _DATE_FORMAT_HINT_EN, _DATE_FORMAT_HINT_NL),
    "date_format_invalid": Message(
        "the date format {date_format!r} is not valid: {detail}",
        "De datumnotatie {date_format!r} is ongeldig ({detail}).",
        _DATE_FORMAT_HINT_EN, _DATE_FORMAT_HINT_NL),
    # ---------------------------------------------------------------- the workspace
    "workspace_is_file": Message(
        "{path} is a file, not a workspace folder",
        "{path} is een bestand, geen map van een werkruimte.",
        "give the folder that holds cvm.duckdb, or a new folder name",
        "Geef de map met cvm.duckdb op, of de naam van een nieuwe map."),
    "workspace_cannot_create": Message(
        "cannot create the workspace folder {path}: {reason}",
        "De map van de werkruimte {path} kan niet worden gemaakt ({reason}).",
        "choose a folder you can write to with --workspace DIR, or check the disk's permissions and free space",
        "Kies met --workspace MAP een map waarin u mag schrijven, of controleer de rechten en de vrije ruimte "
        "op de schijf."),
    "workspace_in_use": Message(
        "the workspace {path} is in use by another process",
        "De werkruimte {path} is in gebruik door een ander programma.",
        "close the other cvm command or notebook using it (or stop `cvm serve`) and try again",
        "Sluit het andere cvm-commando of notebook dat haar gebruikt (of stop `cvm serve`) en probeer het opnieuw."),
    "workspace_cannot_open": Message(
        "cannot open {path}: {detail}",
        "{path} kan niet worden geopend ({detail})."),
    "no_table": Message(
        "the workspace has no table '{table}'",
        "De werkruimte heeft geen tabel '{table}'.",
        "ingest data first (cvm ingest FILE)",
        "Laad eerst gegevens in (op de pagina Gegevens, of met cvm ingest BESTAND)."),
    "no_transactions": Message(
        "the workspace has no transactions",
        "Er staan nog geen transacties in de werkruimte.",
        "ingest a transaction file first (cvm ingest FILE)",
        "Laad eerst een bestand met transacties in (op de pagina Gegevens, of met cvm ingest BESTAND)."),
    "no_purchase_by": Message(
        "no customer has purchased by {date}",
        "Op {date} had nog geen enkele klant iets gekocht.",
        "pick a date on or after the first transaction ({first})",
        "Kies een datum op of na de eerste transactie ({first})."),
    "no_positive_spend": Message(
        "no customer has a positive spend, so there is no spend to value purchases with",
        "Geen enkele klant heeft een positief bestedingsbedrag, dus er is geen besteding om aankopen mee te waarderen.",
        "check the amounts: are they all returns or zero?",
        "Controleer de bedragen: zijn het allemaal retouren of nullen?"),
    "nothing_scored": Message(
        "no customers have been scored yet",
        "Er zijn nog geen klanten gewaardeerd.",
        "run 'cvm score' (or cvm.service.score_customers(ws)) first",
        "Waardeer eerst de klanten (met de knop ‘Klanten nu waarderen’ op het overzicht, of met cvm score)."),
    "no_run_as_of": Message(
        "no scoring run as of {date}",
        "Er is geen waardering op {date}.",
        "score at that date first: score_customers(ws, as_of=...)",
        "Waardeer de klanten eerst op die datum: score_customers(ws, as_of=...)."),
    # ---------------------------------------------------------------- model fits that leave the model's space
    "fit_over_budget": Message(
        "{model} did not finish its fit within {seconds} s: the data drive it to extreme parameters",
        "{model} kwam niet binnen {seconds} s tot een schatting: de gegevens drijven het model naar extreme waarden.",
        "choose another model (e.g. --model bgnbd), or check the data with cvm backtest",
        "Kies een ander model (bijvoorbeeld --model bgnbd), of controleer de gegevens met cvm backtest."),
    "fit_edge": Message(
        "{model}: parameter(s) went to the edge of their range ({params}); the data may not identify them",
        "{model}: parameter(s) liepen naar de rand van hun bereik ({params}); de gegevens bepalen ze mogelijk niet.",
        "compare the predictions with what happened (cvm backtest), or use a simpler model or a small penalizer",
        "Vergelijk de voorspellingen met wat er gebeurde (cvm backtest), of kies een eenvoudiger model of een kleine penalizer."),
    "fit_not_converged": Message(
        "{model}: the optimiser stopped before the gradient vanished; estimates may be imprecise",
        "{model}: de optimalisatie stopte voordat de gradiënt nul was; de schattingen kunnen onnauwkeurig zijn.",
        "try max_iter higher or a small penalizer",
        "Probeer een hogere max_iter of een kleine penalizer."),
    "fit_limit_nbd": Message(
        "{model} ({params}): nobody in these data seems to drop out, so the fit is the model's limit "
        "without dropout, the NBD model",
        "{model} ({params}): in deze gegevens lijkt niemand af te haken, dus de schatting is de grens van "
        "het model zonder afhaken, het NBD-model.",
        "the valuation uses the NBD model (every customer stays active); check it later with cvm backtest",
        "De waardering gebruikt het NBD-model (elke klant blijft actief); controleer het later met cvm backtest."),
    "fit_limit_poisson": Message(
        "{model} ({params}): every customer seems to buy at the same rate, so the fit is the model's limit, "
        "one Poisson purchase rate for all",
        "{model} ({params}): alle klanten lijken even vaak te kopen, dus de schatting is de grens van het "
        "model, één Poisson-koopritme voor iedereen.",
        "the valuation uses that one rate for every customer; check it later with cvm backtest",
        "De waardering gebruikt dat ene koopritme voor elke klant; controleer het later met cvm backtest."),
    "fit_disagrees_with_data": Message(
        "{model} expects {expected} repeat purchases in the calibration period, where the customers made "
        "{actual}: its predictions do not match the data",
        "{model} verwacht {expected} herhaalaankopen in de kalibratieperiode, terwijl de klanten er {actual} "
        "deden: de voorspellingen passen niet bij de gegevens.",
        "try another model (--model bgnbd or pnbd) and compare them with cvm backtest",
        "Probeer een ander model (--model bgnbd of pnbd) en vergelijk ze met cvm backtest."),
    "predictions_broken": Message(
        "{model} predicts no usable number of purchases for any customer ({params}): the fit left the model's space",
        "{model} voorspelt voor geen enkele klant een bruikbaar aantal aankopen ({params}): de schatting ligt "
        "buiten wat het model kan zeggen.",
        "choose another model (e.g. --model pnbd or bgnbd), or check the data with cvm backtest",
        "Kies een ander model (bijvoorbeeld --model pnbd of bgnbd), of controleer de gegevens met cvm backtest."),
    "no_repeat_buyers": Message(
        "none of the {n} customers bought a second time, so no model can tell how often customers come back",
        "Geen van de {n} klanten kocht een tweede keer, dus geen model kan zeggen hoe vaak klanten terugkomen.",
        "value customers once some have come back (a later --as-of), and use their historic value until then",
        "Waardeer de klanten zodra er enkele zijn teruggekomen (een latere --as-of); gebruik tot dan de historische waarde."),
    "all_on_one_day": Message(
        "every customer bought for the first time on {date}, so there is no history to fit",
        "Elke klant kocht op {date} voor het eerst, dus er is nog geen geschiedenis om een model op te schatten.",
        "pick a later --as-of (or --calibration-end) date, once purchases span more than one day",
        "Kies een latere --as-of (of --calibration-end), zodra de aankopen meer dan één dag beslaan."),
    "model_left_out": Message(
        "{model} was left out of the model choice: {reason}",
        "{model} is niet meegenomen in de modelkeuze: {reason}"),
    # ---------------------------------------------------------------- the machine (cvm.errors.EnvironmentProblem)
    "disk_full": Message(
        "there is no space left on the disk for {path}",
        "Er is geen ruimte meer op de schijf voor {path}.",
        "free some space on that disk, or choose a place on another disk, and run the command again",
        "Maak ruimte vrij op die schijf, of kies een plaats op een andere schijf, en voer de opdracht opnieuw uit."),
    "no_permission": Message(
        "no permission to use {path}",
        "Geen toestemming om {path} te gebruiken.",
        "choose a file or folder you may write to, or ask whoever manages this computer for access",
        "Kies een bestand of map waarin u mag schrijven, of vraag de beheerder van deze computer om toegang."),
    "read_only": Message(
        "{path} is on a read-only disk or folder",
        "{path} staat op een schijf of in een map waarin niet geschreven kan worden.",
        "choose a folder that can be written to, e.g. in your home folder",
        "Kies een map waarin geschreven kan worden, bijvoorbeeld in uw eigen map."),
    "file_vanished": Message(
        "{path} is not there (any more): it was moved or deleted while cvm was using it",
        "{path} is er niet (meer): het is verplaatst of verwijderd terwijl cvm het gebruikte.",
        "check that no other program moves or deletes it (a sync or clean-up job), and run the command again",
        "Controleer of geen ander programma het verplaatst of verwijdert (synchronisatie, opruimen) "
        "en voer de opdracht opnieuw uit."),
    "os_error": Message(
        "cannot use {path}: {detail}",
        "{path} kan niet worden gebruikt ({detail}).",
        "check the disk, the folder's permissions and free space, and run the command again",
        "Controleer de schijf, de rechten op de map en de vrije ruimte, en voer de opdracht opnieuw uit."),
    # ---------------------------------------------------------------- the web pages' own checks
    "backtest_needs_calibration_end": Message(
        "a backtest needs a calibration end date",
        "Voor een backtest is een einddatum van de kalibratieperiode nodig.",
        "pick a date such as 1997-09-30",
        "Kies een datum, bijvoorbeeld 1997-09-30."),
    "not_a_date": Message(
        "'{text}' is not a date",
        "'{text}' is geen datum.",
        "use YYYY-MM-DD",
        "Schrijf de datum als JJJJ-MM-DD."),
    "job_internal_error": Message(
        "internal error ({kind})",
        "Er ging bij ons iets mis ({kind}). De fout is vastgelegd; probeer het opnieuw of meld het bij uw beheerder."),
    "cannot_remove_self": Message(
        "you cannot remove yourself",
        "U kunt uzelf niet verwijderen.",
        "ask another admin",
        "Vraag het aan een andere beheerder."),
    # ---------------------------------------------------------------- access: users, tokens, logins, uploads
    "user_name_invalid": Message(
        "the user name '{name}' cannot be used: {reason}",
        "De gebruikersnaam '{name}' kan niet worden gebruikt: {reason}.",
        "choose a name without '/' or '\\' and without control characters (tabs, new lines), "
        "at most 100 characters, e.g. eva.jansen",
        "Kies een naam zonder '/' of '\\' en zonder stuurtekens (tabs, nieuwe regels), hoogstens 100 tekens, "
        "bijvoorbeeld eva.jansen."),
    "user_not_found": Message(
        "there is no user '{name}'",
        "Er is geen gebruiker '{name}'.",
        "see the users with: cvm users list",
        "Bekijk de gebruikers met: cvm users list."),
    "token_not_found": Message(
        "no API token has the name or id '{token}'",
        "Geen API-sleutel heeft de naam of het id '{token}'.",
        "see the tokens with: cvm token list",
        "Bekijk de sleutels met: cvm token list."),
    "token_name_ambiguous": Message(
        "{count} tokens are named '{token}'",
        "{count} sleutels heten '{token}'.",
        "revoke one by its id: {ids}",
        "Trek er één in met het id: {ids}."),
    "token_expiry_invalid": Message(
        "'{text}' is not an expiry",
        "'{text}' is geen vervaldatum.",
        "give a period such as 30d, 12h or 8w, or a date in the future such as 2027-01-31",
        "Geef een termijn zoals 30d, 12h of 8w, of een datum in de toekomst zoals 2027-01-31."),
    "login_throttled": Message(
        "too many failed logins: try again in {seconds} seconds",
        "Te veel mislukte aanmeldpogingen: probeer het over {seconds} seconden opnieuw.",
        "after repeated failures an account and an address wait longer each time, and are locked for a while",
        "Na herhaalde mislukte pogingen moeten een account en een adres steeds langer wachten, en worden ze een "
        "tijd geblokkeerd."),
    "upload_too_large": Message(
        "the upload is larger than this server accepts ({limit} MB)",
        "Het bestand is groter dan deze server aanneemt ({limit} MB).",
        "split the file or ask an admin to raise the limit (cvm serve --max-upload-mb)",
        "Splits het bestand, of vraag een beheerder de grens te verhogen (cvm serve --max-upload-mb)."),
    "password_wrong": Message(
        "the current password is not right",
        "Het huidige wachtwoord klopt niet.",
        "type the password you logged in with",
        "Typ het wachtwoord waarmee u zich hebt aangemeld."),
}
#: error codes whose placeholders hold target column names (written in words in Dutch)
FIELDS: dict[str, tuple[str, ...]] = {"missing_columns": ("missing",)}
#: error codes whose placeholders hold a kind of data (written in words in Dutch)
KINDS: dict[str, tuple[str, ...]] = {"missing_columns": ("kind",), "map_unknown_target": ("kind",)}
#: error codes with values computed from the given ones, per language (for hints that spell out an example)
DERIVE: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {"missing_columns": _map_example}


@dataclass(frozen=True)
class Message:
    """One coded sentence's words as the catalogue holds them: message and optional hint per language,
    and how its values are shown (a view of :mod:`cvm.i18n`'s catalogue, for checks and tools)."""

    en: str
    nl: str
    hint_en: str | None = None
    hint_nl: str | None = None
    fields: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    derive: Callable[[Mapping[str, Any], str], dict[str, Any]] | None = field(default=None, compare=False)


class Entries(Section):
    """The coded sentences under one prefix of the catalogue (``errors``, ``health``), by code, as :class:`Message`."""

    def __getitem__(self, code: str) -> Message:  # type: ignore[override]
        words = super().__getitem__(code)
        hint = f"{self.prefix}.{code}.hint"
        has_hint = hint in catalogue("en")
        errors = self.prefix == "errors"
        return Message(words["en"], words["nl"], text(hint, "en") if has_hint else None,
                       text(hint, "nl") if has_hint else None, FIELDS.get(code, ()) if errors else (),
                       KINDS.get(code, ()) if errors else (), DERIVE.get(code) if errors else None)


#: the coded errors, by code (ids ``errors.<code>`` and ``errors.<code>.hint`` of :mod:`cvm.i18n`)
CATALOGUE = Entries("errors")


def _shown(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def _in_words(value: Any, word: Callable[[str, str], str], language: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [word(str(v), language) for v in value]
    return word(str(value), language)


def render(code: str, values: Mapping[str, Any] | None, language: str,
           prefix: str = "errors") -> tuple[str, str | None]:
    """The message and hint of ``code`` in ``language`` (``en`` or ``nl``) with ``values`` filled in.

    ``prefix`` is the part of the catalogue ``code`` belongs to: the coded errors
    (``errors``) by default; other sentences in two languages (the data-health summary's,
    ``health``, :mod:`cvm.health`) render through here the same way.

    Raises
    ------
    KeyError
        ``code`` is not in the catalogue, or a placeholder has no value.
    """
    key = f"{prefix}.{code}"
    if key not in catalogue("en"):
        raise KeyError(code)
    language = "nl" if language == "nl" else "en"
    given = dict(values or {})
    if prefix == "errors":
        if code in DERIVE:
            given.update(DERIVE[code](given, language))
        for name in FIELDS.get(code, ()):
            if name in given:
                given[name] = _in_words(given[name], field_word, language)
        for name in KINDS.get(code, ()):
            if name in given:
                given[name] = _in_words(given[name], kind_word, language)
    shown = {k: _shown(v) for k, v in given.items()}
    hint = f"{key}.hint"
    return text(key, language, shown), (text(hint, language, shown) if hint in catalogue("en") else None)


def english(code: str, values: Mapping[str, Any] | None = None) -> tuple[str, str | None]:
    """The English message and hint of ``code``: what :meth:`cvm.errors.CvmError.coded` raises."""
    return render(code, values, "en")


def localize(exc: BaseException, language: str) -> tuple[str, str | None]:
    """What to show a reader of ``language`` for the error ``exc``: (message, hint).

    The Dutch text when ``language`` is ``"nl"`` and the error carries a code of the
    catalogue; otherwise the error's own message and hint (for a
    :class:`~cvm.errors.CvmError`) or its text.
    """
    message = getattr(exc, "message", None)
    own = (message, getattr(exc, "hint", None)) if isinstance(message, str) else (str(exc), None)
    return localize_parts(getattr(exc, "code", None), getattr(exc, "values", None), own, language)


def localize_parts(code: str | None, values: Mapping[str, Any] | None, own: tuple[str, str | None],
                   language: str) -> tuple[str, str | None]:
    """:func:`localize` for an error kept as its parts (code, values, English text), e.g. by a finished job."""
    if language != "nl" or not code or code not in CATALOGUE:
        return own
    try:
        return render(code, values, language)
    except (KeyError, IndexError, ValueError):  # values of another version: the English text is still right
        return own


def describe(exc: BaseException, language: str) -> str:
    """The error in one text (message, then the hint on its own line), as ``str(exc)`` is in English."""
    message, hint = localize(exc, language)
    word = text("common.hint_word", language)
    return message if not hint else f"{message}\n{word}: {hint}"
