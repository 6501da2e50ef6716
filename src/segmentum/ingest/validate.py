"""Set-based validation: one SQL statement types every cell and lists every reason per row.

The statement runs in the DuckDB staging connection over the raw text table; it never runs
on the target engine, so a PostgreSQL target later receives the same validated Arrow rows.
Three steps: ``s`` normalises cells to Unicode NFC and trims them (empty -> NULL), ``t``
converts them to their catalog types (``TRY_CAST``, joins with the per-distinct-value
phone/country maps and the zone list; the currency rates are a ``CASE`` over literals), and
the final projection sets, per row, one bit of ``__mask`` for every reason code whose
condition holds (an integer OR, no per-row list: a clean row is ``__mask = 0``;
:func:`reason_list` turns the bits back into codes for the few rejected rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from segmentum.catalog.schema import Catalog
from segmentum.catalog.tables import CHANNELS, LEAD_STAGES, SUBSCRIPTION_STATUSES, Column, Table
from segmentum.catalog.types import ValueType
from segmentum.ingest.normal_form import nfc_sql
from segmentum.ingest.normalize import EMAIL_PATTERN
from segmentum.ingest.reading import json_path, lit, q

T = ValueType

_ZONED = (
    r"^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)$"
)
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
#: A whole number: optional sign and digits only (no decimals, exponents, hex or `_`).
_WHOLE = r"^[+-]?[0-9]+$"
#: A record time (`Table.time_column`) more than this after the import, or an intake event
#: time (after clock-skew correction) more than this after its receipt, is rejected
#: `future_timestamp` (docs/intake.md, "Time").
FUTURE_TOLERANCE = timedelta(hours=24)
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")

#: Dates and times before this are refused (``implausible_date``): placeholders of other
#: systems (0001-01-01, 1800-01-01) that would otherwise count as real history, e.g. a
#: signup 2,000 years ago in a "customer for 10 years" segment.
EARLIEST_DATE = "1900-01-01"
#: Every reason code with its meaning (docs/import.md repeats this table).
REASONS: Mapping[str, str] = {
    "wrong_column_count": "the record has more or fewer fields than the header",
    "missing_required": "a required column is empty",
    "value_too_long": "a text value is longer than the column's limit",
    "bad_email": "not a syntactically valid e-mail address",
    "bad_phone": "not a valid phone number (national numbers need --default-region)",
    "phone_extension": "a phone number with an extension (an SMS cannot reach an extension)",
    "bad_country": "not a country name, alpha-2 or alpha-3 code",
    "bad_date": "not a date/time in ISO 8601 or the --date-format",
    "unknown_timezone": "not an IANA time zone name",
    "bad_number": "not a number (integers: not a whole number; quantities: negative)",
    "bad_bool": "not true/false/yes/no/1/0",
    "bad_list": "a list cell starting with '[' that is not a JSON array of strings",
    "bad_json": "not valid JSON (properties: not a JSON object)",
    "negative_amount": "a money amount below zero",
    "unknown_currency": "a currency other than the workspace's without a rate",
    "unknown_channel": "a channel other than sms, email, web_push",
    "unknown_status": "a subscription status other than opted_in, opted_out, pending",
    "unknown_lead_stage": "a lead stage other than new_lead, qualified_lead, customer",
    "unknown_event_type": "an event type neither built in nor declared in the workspace",
    "future_timestamp": "the record's time is more than 24 hours after the import",
    "implausible_date": "a date or time before 1900-01-01 (a placeholder such as 0001-01-01)",
    "duplicate_key_in_file": "an earlier row of the same file has the same key",
    "unknown_customer": "the customer does not exist (use --create-customers)",
    "unknown_order": "the order does not exist (import the orders first)",
}


def cell_text(staged: str) -> str:
    """SQL for a staged cell as the text every check and the store see: Unicode NFC (a
    decomposed "Plzen" + combining caron is the "Plzeň" a segment filter is typed with, and
    length limits count characters, not combining marks; see `normal_form`), trimmed, empty
    as NULL."""
    return f"NULLIF(trim({nfc_sql(staged)}), '')"


@dataclass(frozen=True)
class Context:
    """What validation needs besides the table: zones, formats and lookup table names."""

    zone: str
    workspace_zone: str
    currency: str
    date_format: str | None
    phones: str | None = None
    countries: str | None = None
    zones: str | None = None
    #: Currency code -> units of workspace currency per unit (orders only).
    rates: Mapping[str, Decimal] | None = None
    event_types: tuple[str, ...] = ()
    #: The import's instant (naive UTC): a record time (`Table.time_column`) more than
    #: `FUTURE_TOLERANCE` after it is `future_timestamp`. None: no check (the intake checks
    #: its event times itself, after the clock-skew correction).
    now: datetime | None = None


@dataclass
class _Cell:
    value: str
    reasons: list[tuple[str, str]] = field(default_factory=list)


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(lit(value) for value in values) + ")"


_UTC = ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal")


def _to_utc(naive: str, zone: str) -> str:
    """A zone-less wall-clock time read in ``zone``, as naive UTC (no ICU work for UTC)."""
    if zone in _UTC:
        return naive
    return f"timezone('UTC', timezone({lit(zone)}, {naive}))"


def _local_date(utc: str, zone: str) -> str:
    if zone in _UTC:
        return f"CAST({utc} AS DATE)"
    return f"CAST(timezone({lit(zone)}, timezone('UTC', {utc})) AS DATE)"


def _timestamp(v: str, ctx: Context) -> str:
    if ctx.date_format is not None:
        parsed = f"TRY_STRPTIME({v}, {lit(ctx.date_format)})"
        if "%z" in ctx.date_format or "%Z" in ctx.date_format:
            return f"timezone('UTC', {parsed})"
        return _to_utc(parsed, ctx.zone)
    zone_less = _to_utc(f"TRY_CAST({v} AS TIMESTAMP)", ctx.zone)
    # Fast path, no regex: _ZONED needs a value ending in Z/z/UTC (a letter) or a +/- offset
    # after the date (a '+', or a '-' past the date's dashes, which end by position 8). A
    # value ending in a digit with neither cannot match it, so it takes the zone-less branch
    # directly; every other value is routed by the regex exactly as before.
    return (
        f"CASE WHEN right({v}, 1) BETWEEN '0' AND '9' AND NOT contains({v}, '+') "
        f"AND NOT contains(substr({v}, 9), '-') THEN {zone_less} "
        f"WHEN regexp_full_match({v}, {lit(_ZONED)}) "
        f"THEN timezone('UTC', TRY_CAST(regexp_replace({v}, '\\s*UTC$', '+00:00') AS TIMESTAMPTZ)) "
        f"ELSE {zone_less} END"
    )


def _date(v: str, ctx: Context) -> str:
    if ctx.date_format is not None:
        return f"CAST(TRY_STRPTIME({v}, {lit(ctx.date_format)}) AS DATE)"
    return f"CASE WHEN regexp_full_match({v}, {lit(_ISO_DATE)}) THEN TRY_CAST({v} AS DATE) END"


def _typed(table: Table, column: Column, v: str, ctx: Context) -> _Cell:
    """The typed value of the trimmed text ``v`` and the (condition, reason) pairs."""
    name, kind = column.name, column.type
    present = f"{v} IS NOT NULL"
    if kind is T.INTEGER:
        # TRY_CAST alone would round 2.7 to 3 and read '0x10', '1_000' and '1e2'
        cell = _Cell(
            f"CASE WHEN regexp_full_match({v}, {lit(_WHOLE)}) THEN TRY_CAST({v} AS BIGINT) END"
        )
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_number"))
        if name == "quantity":
            cell.reasons.append(("{t} < 0", "bad_number"))
        return cell
    if kind is T.NUMBER:
        cell = _Cell(f"TRY_CAST({v} AS DOUBLE)")
        cell.reasons.append((f"{present} AND ({{t}} IS NULL OR NOT isfinite({{t}}))", "bad_number"))
        return cell
    if kind is T.MONEY:
        cell = _Cell(f"TRY_CAST({v} AS DECIMAL(18,2))")
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_number"))
        cell.reasons.append(("{t} < 0", "negative_amount"))
        return cell
    if kind is T.BOOL:
        cell = _Cell(
            f"CASE WHEN lower({v}) IN {_in(_TRUE)} THEN true "
            f"WHEN lower({v}) IN {_in(_FALSE)} THEN false END"
        )
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_bool"))
        return cell
    if kind.is_temporal:
        sql_type = "DATE" if kind is T.DATE else "TIMESTAMP"
        parsed = _date(v, ctx) if kind is T.DATE else _timestamp(v, ctx)
        return _Cell(
            parsed,
            [
                (f"{present} AND {{t}} IS NULL", "bad_date"),
                (f"{{t}} < {sql_type} '{EARLIEST_DATE}'", "implausible_date"),
            ],
        )
    if kind is T.TEXT_LIST:
        # CASE, not AND: DuckDB does not short-circuit, and json_type fails on invalid JSON
        as_json = f"CASE WHEN json_valid({v}) THEN json_type({v}) = 'ARRAY' ELSE false END"
        cell = _Cell(
            f"CASE WHEN starts_with({v}, '[') THEN CASE WHEN {as_json} THEN "
            f"TRY_CAST(from_json({v}, '[\"VARCHAR\"]') AS VARCHAR[]) END "
            f"ELSE list_filter(list_transform(string_split_regex({v}, '[;|]'), "
            f"lambda x: trim(x)), lambda x: x <> '') END"
        )
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_list"))
        if column.max_length is not None:
            cell.reasons.append((f"length({v}) > {column.max_length}", "value_too_long"))
        return cell
    if kind is T.JSON:
        wanted = "OBJECT" if name == "properties" else None
        # CASE, not AND: DuckDB does not short-circuit, and json_type fails on invalid JSON
        ok = (
            f"CASE WHEN json_valid({v}) THEN json_type({v}) = '{wanted}' ELSE false END"
            if wanted
            else f"json_valid({v})"
        )
        cell = _Cell(f"CASE WHEN {ok} THEN {v} END", [(f"{present} AND NOT ({ok})", "bad_json")])
        if column.max_length is not None:
            cell.reasons.append((f"length({v}) > {column.max_length}", "value_too_long"))
        return cell
    return _text(table, column, v, ctx)


def _text(table: Table, column: Column, v: str, ctx: Context) -> _Cell:
    name, present = column.name, f"{v} IS NOT NULL"
    cell = _Cell(v)
    if table.name == "customers" and name == "email":
        cell.value = f"lower({v})"
        cell.reasons.append(
            (f"{present} AND NOT regexp_full_match({v}, {lit(EMAIL_PATTERN)})", "bad_email")
        )
    elif table.name == "customers" and name == "phone" and ctx.phones:
        cell.value = "ph.value"
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_phone"))
        cell.reasons.append(("__phone_extension", "phone_extension"))
    elif table.name == "customers" and name == "country" and ctx.countries:
        cell.value = "co.value"
        cell.reasons.append((f"{present} AND {{t}} IS NULL", "bad_country"))
    elif table.name == "customers" and name == "timezone" and ctx.zones:
        cell.reasons.append((f"{present} AND __zone IS NULL", "unknown_timezone"))
    elif table.name == "customers" and name == "lead_stage":
        cell.value = f"lower({v})"
        cell.reasons.append(
            (f"{present} AND lower({v}) NOT IN {_in(LEAD_STAGES)}", "unknown_lead_stage")
        )
    elif table.name == "orders" and name == "currency":
        cell.value = f"upper({v})"
        cell.reasons.append((f"{present} AND __rate IS NULL", "unknown_currency"))
    elif table.name == "events" and name == "type":
        cell.reasons.append(
            (f"{present} AND {v} NOT IN {_in(ctx.event_types)}", "unknown_event_type")
        )
    elif table.name == "subscriptions" and name == "channel":
        cell.value = f"lower({v})"
        cell.reasons.append((f"{present} AND lower({v}) NOT IN {_in(CHANNELS)}", "unknown_channel"))
    elif table.name == "subscriptions" and name == "status":
        cell.value = f"lower({v})"
        cell.reasons.append(
            (f"{present} AND lower({v}) NOT IN {_in(SUBSCRIPTION_STATUSES)}", "unknown_status")
        )
    if column.max_length is not None:
        cell.reasons.append((f"length({{t}}) > {column.max_length}", "value_too_long"))
    return cell


@dataclass(frozen=True)
class TypedQuery:
    sql: str
    #: Target columns the statement produces (file columns plus derived ones).
    columns: tuple[str, ...]
    #: Reason codes by bit of ``__mask`` (bit i is ``1 << i``), sorted.
    codes: tuple[str, ...] = ()


def reason_list(mask: str, codes: Sequence[str]) -> str:
    """SQL for the sorted list of reason codes whose bits are set in the BIGINT ``mask``."""
    if not codes:
        return "CAST([] AS VARCHAR[])"
    items = ", ".join(
        f"CASE WHEN ({mask} & {1 << bit}) <> 0 THEN {lit(code)} END"
        for bit, code in enumerate(codes)
    )
    return f"list_filter([{items}], lambda x: x IS NOT NULL)"


def _rate_case(code: str, rates: Mapping[str, Decimal]) -> str:
    """The rate of currency ``code`` from literal rates (NULL: unknown currency)."""
    whens = " ".join(
        f"WHEN {lit(currency)} THEN CAST({lit(str(rate))} AS DECIMAL(24,10))"
        for currency, rate in sorted(rates.items())
    )
    return f"CASE {code} {whens} END"


def typed_query(
    catalog: Catalog,
    table: Table,
    raw_table: str,
    present: Mapping[str, str],
    ctx: Context,
    output: str,
    *,
    lines: bool = False,
    normalized: bool = False,
) -> TypedQuery:
    """``CREATE TEMP TABLE output`` with typed target columns, ``__row`` and ``__mask``.

    ``present`` maps each target column found in the file to its staging column; ``lines``:
    the raw table is JSON lines with a ``__bad_json`` flag (a line that is not JSON);
    ``normalized``: the cells are already NFC (the intake's mapping made them so), so the
    statement skips `normal_form`'s checks, whose binding costs about 1 ms a column: a
    statement is planned per intake group of a few hundred rows.
    """
    trimmed: dict[str, str] = {
        name: f"NULLIF(trim({staged}), '')" if normalized else cell_text(staged)
        for name, staged in present.items()
    }
    type_condition: dict[str, str] = {}
    columns: list[Column] = [table.column(name) for name in present]
    # Event properties come out of ``v_properties`` in a second step, so the properties'
    # expression is written (and bound) once, not once per property: with the NFC checks in
    # it, 12 copies cost 50 ms a statement.
    extracted: dict[str, str] = {}
    if table.name == "events":
        guarded = (
            "CASE WHEN json_valid(v_properties) THEN v_properties END"
            if "properties" in trimmed
            else None
        )
        for prop in sorted(catalog.event_property_types):
            types = [name for name, et in catalog.event_types.items() if prop in et.properties]
            if "type" in trimmed:
                type_condition[prop] = f"v_type IN {_in(types)}"
            if prop in trimmed:
                continue
            if guarded is None:
                continue
            extracted[prop] = (
                f"NULLIF(trim(json_extract_string({guarded}, {lit(json_path(prop))})), '')"
            )
            columns.append(table.column(prop))
    s_parts = ["__row", "__bad_count", *(["__bad_json"] if lines else [])] + [
        f"{expr} AS {q('v_' + name)}" for name, expr in trimmed.items()
    ]
    cells = "s"
    if extracted:
        cells = (
            "(SELECT s.*, "
            + ", ".join(f"{expr} AS {q('v_' + name)}" for name, expr in extracted.items())
            + " FROM s) s"
        )
    joins: list[str] = []
    t_parts = ["s.*"]
    final_parts = ["__row"]
    reasons: list[tuple[str, str]] = [("__bad_count", "wrong_column_count")]
    if lines:
        reasons.append(("__bad_json", "bad_json"))
    for column in columns:
        v = q("v_" + column.name)
        t = q("t_" + column.name)
        cell = _typed(table, column, v, ctx)
        value = cell.value
        condition = type_condition.get(column.name)
        if condition is not None:
            value = f"CASE WHEN {condition} THEN {value} END"
        t_parts.append(f"{value} AS {t}")
        if table.name == "orders" and column.name == "amount" and ctx.rates:
            # Rate 1 (the workspace currency): the amount as is, no DECIMAL(38) arithmetic.
            final_parts.append(
                f"CASE WHEN __rate = 1 THEN {t} "
                f"ELSE CAST(round({t} * __rate, 2) AS DECIMAL(18,2)) END AS {q(column.name)}"
            )
        else:
            final_parts.append(f"{t} AS {q(column.name)}")
        for template, code in cell.reasons:
            check = template.replace("{t}", t)
            if condition is not None:
                check = f"({condition}) AND ({check})"
            reasons.append((check, code))
        if column.required:
            reasons.append((f"{v} IS NULL", "missing_required"))
        if ctx.now is not None and column.name == table.time_column:
            limit = (ctx.now + FUTURE_TOLERANCE).strftime("%Y-%m-%d %H:%M:%S.%f")
            reasons.append((f"{t} > TIMESTAMP {lit(limit)}", "future_timestamp"))
    if ctx.phones and "phone" in present and table.name == "customers":
        joins.append(f"LEFT JOIN {ctx.phones} ph ON ph.raw = s.{q('v_phone')}")
        t_parts.append("coalesce(ph.extension, false) AS __phone_extension")
    if ctx.countries and "country" in present and table.name == "customers":
        joins.append(f"LEFT JOIN {ctx.countries} co ON co.raw = s.{q('v_country')}")
    if ctx.zones and "timezone" in present and table.name == "customers":
        joins.append(f"LEFT JOIN {ctx.zones} zo ON zo.zone = s.{q('v_timezone')}")
        t_parts.append("zo.zone AS __zone")
    if ctx.rates and table.name == "orders":
        code = f"upper(s.{q('v_currency')})" if "currency" in present else "NULL"
        rate = _rate_case(f"coalesce({code}, {lit(ctx.currency)})", ctx.rates)
        t_parts.append(f"{rate} AS __rate")
    produced = [column.name for column in columns]
    derived_columns = [column.name for column in table.columns if column.derived]
    if table.time_column is not None and table.time_column in present and derived_columns:
        derived = derived_columns[0]
        local = _local_date(q("t_" + table.time_column), ctx.workspace_zone)
        final_parts.append(f"{local} AS {q(derived)}")
        produced.append(derived)
    codes = tuple(sorted({code for _, code in reasons}))
    bits = " | ".join(
        f"CASE WHEN {check} THEN {1 << codes.index(code)} ELSE 0 END" for check, code in reasons
    )
    final_parts.append(f"CAST({bits} AS BIGINT) AS __mask")
    sql = (
        f"CREATE TEMP TABLE {output} AS WITH s AS (SELECT {', '.join(s_parts)} FROM {raw_table}), "
        f"t AS (SELECT {', '.join(t_parts)} FROM {cells} {' '.join(joins)}) "
        f"SELECT {', '.join(final_parts)} FROM t"
    )
    return TypedQuery(sql, tuple(produced), codes)
