"""`import_file`: read, validate set-based, quarantine bad rows, upsert the rest atomically.

Steps (each reported to ``progress``): stage the file as text, normalise distinct phone and
country values, type and check every cell in one statement (a reason bit mask per row), add
the cross-row checks (duplicate keys, unknown customers and orders), build and write the
rejects only when a row has a reason, then upsert straight from the typed rows in one
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from segmentum.catalog.schema import Catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.catalog.tables import Table
from segmentum.engine.connection import Engine, EngineKind
from segmentum.ingest import normalize, postgres
from segmentum.ingest.errors import IngestError
from segmentum.ingest.merge import MergeCounts, create_missing_customers, merge
from segmentum.ingest.reading import Staged, file_format, lit, q, stage_file
from segmentum.ingest.references import CUSTOMER_TABLES, REFERENCES, Reference
from segmentum.ingest.validate import Context, cell_text, reason_list, typed_query

STEPS = 6


@dataclass(frozen=True)
class ImportOptions:
    #: Target column -> source column (from --map / a mapping file).
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: strptime-style format for dates and timestamps; default ISO 8601.
    date_format: str | None = None
    #: phonenumbers region for national numbers, e.g. "CZ".
    default_region: str | None = None
    encoding: str | None = None
    #: CSV delimiter; default: sniffed from the header line.
    delimiter: str | None = None
    #: Zone for zone-less values; default the workspace timezone.
    timezone: str | None = None
    #: Overrides/extends the workspace rates (units of workspace currency per unit).
    rates: Mapping[str, Decimal] | None = None
    create_customers: bool = False
    #: Default FILE.rejected.csv next to the file.
    rejects_path: Path | None = None
    #: Default by the last suffix (.parquet, .jsonl/.ndjson/.json, else CSV; .gz looked through).
    file_format: Literal["csv", "parquet", "jsonl"] | None = None


@dataclass(frozen=True)
class ImportSummary:
    table: str
    source: str
    loaded: int
    updated: int
    unchanged: int
    rejected: int
    rejected_by_reason: Mapping[str, int]
    rejects_path: Path | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "loaded": self.loaded,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
        }


@dataclass(frozen=True)
class ImportResult:
    summary: ImportSummary
    #: One row per rejected record: row_number (int64), reasons (list<string>), raw (JSON
    #: object of the source cells by source column name).
    rejected: pa.Table
    #: Bare customer profiles created by --create-customers.
    customers_created: int = 0


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejected.csv")


def _naive_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None)
    return now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now


def _check_options(table_name: str, catalog: Catalog, options: ImportOptions) -> Table:
    if table_name not in catalog.tables:
        names = ", ".join(catalog.tables)
        raise IngestError(f"unknown table {table_name!r}; choose one of {names}")
    if options.timezone is not None:
        try:
            ZoneInfo(options.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise IngestError(f"unknown time zone {options.timezone!r}") from error
    if options.default_region is not None and not normalize.is_known_region(options.default_region):
        raise IngestError(f"unknown phone region {options.default_region!r} (e.g. CZ, RU)")
    if options.delimiter is not None and len(options.delimiter) != 1:
        raise IngestError("--delimiter must be a single character")
    if options.date_format is not None:
        _check_date_format(options.date_format)
    return catalog.table(table_name)


def _check_date_format(date_format: str) -> None:
    """A --date-format DuckDB's strptime cannot parse stops the import before it reads."""
    if "%" not in date_format:
        raise IngestError(f"--date-format {date_format!r} has no % directive (e.g. %d.%m.%Y %H:%M)")
    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('2000-01-01', ?)", [date_format]).fetchone()
    except duckdb.Error as error:
        detail = str(error).strip().splitlines()[0].split("Error: ", 1)[-1]
        raise IngestError(f"--date-format {date_format!r} is not valid: {detail}") from error
    finally:
        con.close()


def _source_column(staged: Staged, name: str, mapped: str | None = None) -> str | None:
    """The staging column of the file column ``name``: the exact name, else the one column
    equal to it ignoring case (two such columns and no exact match: an error). ``mapped``:
    the target of the ``--map`` that names ``name``."""
    if name in staged.columns:
        return staged.columns[name]
    matches = [source for source in staged.columns if source.lower() == name.lower()]
    if len(matches) > 1:
        listed = ", ".join(repr(source) for source in matches)
        fix = (
            f"give the exact name in --map {mapped}=SOURCE_COLUMN"
            if mapped
            else f"rename one or choose with --map {name}=SOURCE_COLUMN"
        )
        raise IngestError(f"the file has columns {listed}, which differ only in case; {fix}")
    return staged.columns[matches[0]] if matches else None


def _present_columns(table: Table, staged: Staged, options: ImportOptions) -> dict[str, str]:
    """Target column -> staging column, from the mapping and same-named source columns."""
    present: dict[str, str] = {}
    for target, source in options.mapping.items():
        if not table.has_column(target) or table.column(target).derived:
            raise IngestError(f"--map {target}={source}: {table.name} has no column {target!r}")
        mapped = _source_column(staged, source, target)
        if mapped is None:
            raise IngestError(f"--map {target}={source}: the file has no column {source!r}")
        present[target] = mapped
    mapped_sources = set(present.values())
    for column in table.source_columns:
        if column.name in present:
            continue
        staged_name = _source_column(staged, column.name)
        if staged_name and staged_name not in mapped_sources:
            present[column.name] = staged_name
    missing = [name for name in table.required_columns if name not in present]
    if missing:
        raise IngestError(
            f"the file has no column for {', '.join(missing)} (required in {table.name}); "
            f"map one with --map {missing[0]}=SOURCE_COLUMN"
        )
    return present


def _register(con: Any, name: str, data: pa.Table) -> None:
    con.register(name + "_arrow", data)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(name + "_arrow")


def _lookups(
    con: Any,
    prefix: str,
    table: Table,
    staged: Staged,
    present: Mapping[str, str],
    options: ImportOptions,
) -> dict[str, str]:
    """Per-DISTINCT-value lookup tables (phones, countries) and the zone list."""
    names: dict[str, str] = {}

    def distinct(column: str) -> pa.Array:
        arrow = con.execute(
            f"SELECT DISTINCT {cell_text(present[column])} AS v FROM {staged.table} "
            "WHERE v IS NOT NULL"
        ).to_arrow_table()
        return arrow.column("v").combine_chunks() if arrow.num_rows else pa.array([], pa.string())

    if table.name == "customers" and "phone" in present:
        names["phones"] = f"{prefix}_phones"
        _register(
            con, names["phones"], normalize.phone_numbers(distinct("phone"), options.default_region)
        )
    if table.name == "customers" and "country" in present:
        names["countries"] = f"{prefix}_countries"
        _register(con, names["countries"], normalize.country_codes(distinct("country")))
    if table.name == "customers" and "timezone" in present:
        names["zones"] = f"{prefix}_zones"
        _register(con, names["zones"], normalize.time_zones())
    return names


def _rates(table: Table, options: ImportOptions, settings: WorkspaceSettings) -> dict[str, Decimal]:
    if table.name != "orders":
        return {}
    rates = {settings.currency: Decimal(1), **settings.rates, **(options.rates or {})}
    rates[settings.currency] = Decimal(1)
    return rates


def _cross_row_checks(
    con: Any, table: Table, typed: str, extra: str, known: Mapping[Reference, str]
) -> int:
    """Reasons that need more than one row: duplicate keys, and references to rows that are
    not stored (``known``: per reference, a relation holding the stored values of its column;
    an anti-join each). Returns the number of (row, reason) pairs written to ``extra``."""
    con.execute(f"CREATE TEMP TABLE {extra} (__row BIGINT, code VARCHAR)")
    key = table.key if table.name != "subscriptions" else (*table.key, "changed_at")
    keys = ", ".join(q(column) for column in key)
    not_null = " AND ".join(f"{q(column)} IS NOT NULL" for column in key)
    duplicated = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {typed} WHERE {not_null} GROUP BY {keys} "
        "HAVING count(*) > 1)"
    ).fetchone()[0]
    if duplicated:
        con.execute(
            f"""INSERT INTO {extra} SELECT __row, 'duplicate_key_in_file' FROM (
                SELECT __row, row_number() OVER (PARTITION BY {keys} ORDER BY __row) AS n
                FROM {typed} WHERE {not_null}) WHERE n > 1"""
        )
    for reference, relation in known.items():
        column = q(reference.column)
        con.execute(
            f"""INSERT INTO {extra} SELECT x.__row, ? FROM {typed} x
                WHERE x.{column} IS NOT NULL AND NOT EXISTS
                (SELECT 1 FROM {relation} k WHERE k.{column} = x.{column})""",
            [reference.reason],
        )
    return int(con.execute(f"SELECT count(*) FROM {extra}").fetchone()[0])


#: Columns of the rejected-rows table (and rejects file) besides the source cells.
REJECT_COLUMNS = ("row_number", "reasons", "raw", "raw_line")


def reject_cell_names(source_columns: Iterable[str]) -> dict[str, str]:
    """Source column -> its name in the rejected rows: itself, or, when it is one of
    `REJECT_COLUMNS` (a rejects file imported again has ``row_number`` and ``reasons``),
    ``source_`` + it (repeated until unique), so no column is dropped or doubled."""
    names = list(source_columns)
    taken = set(REJECT_COLUMNS) | set(names)
    renamed: dict[str, str] = {}
    for name in names:
        if name not in REJECT_COLUMNS:
            renamed[name] = name
            continue
        candidate = "source_" + name
        while candidate in taken:
            candidate = "source_" + candidate
        taken.add(candidate)
        renamed[name] = candidate
    return renamed


def _no_rejects(staged: Staged) -> pa.Table:
    """The (empty) rejected-rows table of a clean file, with the usual columns."""
    fields = [
        pa.field("row_number", pa.int64()),
        pa.field("reasons", pa.list_(pa.string())),
        pa.field("raw", pa.string()),
        *([pa.field("raw_line", pa.string())] if staged.lines else []),
        *(pa.field(name, pa.string()) for name in reject_cell_names(staged.columns).values()),
    ]
    return pa.schema(fields).empty_table()


def _rejected_rows(
    con: Any, staged: Staged, typed: str, codes: tuple[str, ...], extra: str, rejected: str
) -> pa.Table:
    """Rows with a reason: ``rejected`` (``__row``, ``reasons``) and their raw cells."""
    con.execute(
        f"""CREATE TEMP TABLE {rejected} AS SELECT __row, list_sort(list_distinct(flatten(
            [{reason_list("t.__mask", codes)}, coalesce(x.codes, [])]))) AS reasons
            FROM (SELECT __row, __mask FROM {typed} WHERE __mask <> 0
                  OR __row IN (SELECT __row FROM {extra})) t
            LEFT JOIN (SELECT __row, list(code) AS codes FROM {extra} GROUP BY __row) x
            USING (__row)"""
    )
    pairs = ", ".join(f"{lit(name)}, r.{column}" for name, column in staged.columns.items())
    raw = f"CAST(json_object({pairs}) AS VARCHAR)"
    shown = reject_cell_names(staged.columns)
    cells = [f"r.{column} AS {q(shown[name])}" for name, column in staged.columns.items()]
    if staged.lines:
        # A JSON-lines line that is not an object keeps its text: the JSON value as written,
        # or (not valid JSON) the text as a JSON string.
        raw = (
            "CASE WHEN r.__bad_json THEN CAST(to_json(r.__line) AS VARCHAR) "
            f"WHEN r.__bad_count THEN trim(r.__line) ELSE {raw} END"
        )
        cells.insert(0, "r.__line AS raw_line")
    select = ", ".join(["j.__row AS row_number", "j.reasons", f"{raw} AS raw", *cells])
    return con.execute(
        f"""SELECT {select} FROM {rejected} j JOIN {staged.table} r USING (__row)
            ORDER BY j.__row"""
    ).to_arrow_table()


def _write_rejects(path: Path, rejected: pa.Table) -> None:
    reasons = pa.array(
        [";".join(codes) for codes in rejected.column("reasons").to_pylist()], pa.string()
    )
    out = rejected.drop_columns(["raw"]).set_column(1, "reasons", reasons)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pa_csv.write_csv(out, str(path))
    except OSError as error:
        raise IngestError(f"cannot write rejects file {path}: {error}") from error


def _drop(con: Any, name: str) -> None:
    kinds = con.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? AND temporary "
        "UNION ALL SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ? AND temporary",
        [name, name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {kind} IF EXISTS {name}")


def _tally(rejected: pa.Table) -> dict[str, int]:
    counts: dict[str, int] = {}
    for codes in rejected.column("reasons").to_pylist():
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


def _finish(
    target: Table,
    path: Path,
    counts: MergeCounts,
    superseded: int,
    rejected: pa.Table,
    rejects_path: Path | None,
    created: int,
    before_commit: Callable[[ImportResult], None] | None,
) -> ImportResult:
    summary = ImportSummary(
        table=target.name,
        source=str(path),
        loaded=counts.loaded,
        updated=counts.updated,
        unchanged=counts.unchanged + superseded,
        rejected=rejected.num_rows,
        rejected_by_reason=_tally(rejected),
        rejects_path=rejects_path,
    )
    result = ImportResult(summary, rejected, created)
    if before_commit is not None:
        before_commit(result)
    return result


def import_file(
    engine: Engine,
    catalog: Catalog,
    settings: WorkspaceSettings,
    table: str,
    path: Path,
    options: ImportOptions,
    progress: Callable[[int, int], None] | None = None,
    *,
    before_commit: Callable[[ImportResult], None] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import one file into ``table``; see docs/import.md.

    Staging and validation run in DuckDB: the target's own connection for a DuckDB engine, a
    private in-process one for PostgreSQL (whose valid rows then go to PostgreSQL by COPY and
    are merged there, see :mod:`segmentum.ingest.postgres`). ``before_commit`` runs inside
    the load transaction (the service records the import and its quarantine there, so a crash
    leaves either everything or nothing). ``now`` is the import's instant (default: the
    current time): a record time more than 24 hours after it is ``future_timestamp``.
    """
    target = _check_options(table, catalog, options)
    if engine.kind is EngineKind.DUCKDB:
        con: Any = engine.backend.con
    elif engine.kind is EngineKind.POSTGRES:
        con = duckdb.connect()  # private, in memory; UTC like ibis's own DuckDB connections
        con.execute("SET TimeZone = 'UTC'")
    else:
        raise IngestError(f"importing into a {engine.kind.value} engine is not supported yet")
    private = engine.kind is not EngineKind.DUCKDB
    prefix = "__import_" + uuid.uuid4().hex[:12]
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, STEPS)

    fmt = file_format(path, options.file_format)
    temps = [
        prefix + suffix
        for suffix in ("_raw_scan", "_raw", "_typed", "_extra", "_rejected", "_in", "_work")
    ]
    staged: Staged | None = None
    try:
        staged = stage_file(con, prefix + "_raw", path, fmt, options.delimiter, options.encoding)
        advance()
        present = _present_columns(target, staged, options)
        lookups = _lookups(con, prefix, target, staged, present, options)
        temps.extend(lookups.values())
        advance()
        ctx = Context(
            zone=options.timezone or settings.timezone,
            workspace_zone=settings.timezone,
            currency=settings.currency,
            date_format=options.date_format,
            event_types=tuple(catalog.event_types),
            rates=_rates(target, options, settings) or None,
            now=_naive_utc(now),
            **lookups,
        )
        typed = prefix + "_typed"
        query = typed_query(catalog, target, staged.table, present, ctx, typed, lines=staged.lines)
        con.execute(query.sql)
        advance()
        known: dict[Reference, str] = {}
        for reference in REFERENCES.get(target.name, ()):
            if reference.target == "customers" and options.create_customers:
                continue
            if private:
                known[reference] = postgres.known_keys(
                    engine, con, typed, f"{prefix}_known_{reference.column}", reference
                )
                temps.append(known[reference])
            else:
                known[reference] = q(reference.target)
        extra = prefix + "_extra"
        cross_row = _cross_row_checks(con, target, typed, extra, known)
        masked = int(con.execute(f"SELECT count(*) FROM {typed} WHERE __mask <> 0").fetchone()[0])
        if masked or cross_row:
            rejected = _rejected_rows(con, staged, typed, query.codes, extra, prefix + "_rejected")
        else:
            rejected = _no_rejects(staged)  # a clean file: no rejected-rows table at all
        advance()
        rejects_path: Path | None = None
        if rejected.num_rows:
            rejects_path = options.rejects_path or default_rejects_path(path)
            _write_rejects(rejects_path, rejected)
        advance()
        incoming = prefix + "_in"
        names = ", ".join(q(column) for column in query.columns)
        conditions = []
        if masked:
            conditions.append("t.__mask = 0")
        if cross_row:
            conditions.append(f"NOT EXISTS (SELECT 1 FROM {extra} x WHERE x.__row = t.__row)")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        valid = f"SELECT __row, {names} FROM {typed} t{where}"
        superseded = 0
        if target.name == "subscriptions":
            keys = ", ".join(q(column) for column in target.key)
            con.execute(
                f"""CREATE TEMP TABLE {incoming} AS SELECT * FROM ({valid}) v
                    QUALIFY row_number() OVER (PARTITION BY {keys}
                    ORDER BY changed_at DESC, __row DESC) = 1"""
            )
            total_valid = con.execute(f"SELECT count(*) FROM ({valid})").fetchone()[0]
            superseded = int(total_valid) - int(
                con.execute(f"SELECT count(*) FROM {incoming}").fetchone()[0]
            )
        else:
            con.execute(f"CREATE TEMP VIEW {incoming} AS {valid}")

        def finish(counts: MergeCounts, created: int) -> ImportResult:
            return _finish(
                target, path, counts, superseded, rejected, rejects_path, created, before_commit
            )

        if private:
            create = options.create_customers and target.name in CUSTOMER_TABLES
            result = postgres.load_and_merge(
                engine, con, target, incoming, query.columns, prefix, create, finish
            )
            advance()
            return result
        con.execute("BEGIN TRANSACTION")
        try:
            created = 0
            if options.create_customers and target.name in CUSTOMER_TABLES:
                created = create_missing_customers(con, incoming)
            counts = merge(con, target, incoming, query.columns, prefix + "_work")
            result = finish(counts, created)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        advance()
        return result
    finally:
        if private:
            con.close()
        else:
            for name in reversed(temps):
                _drop(con, name)
        if staged is not None and staged.transcoded is not None:
            staged.transcoded.unlink(missing_ok=True)
