"""Membership use cases: refresh every segment, history, members at a past instant, export."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from segmentum.membership.refresh import refresh
from segmentum.service.clock import end_of_day, now_utc, resolve_as_of
from segmentum.service.errors import ServiceError
from segmentum.service.segments import get_definition, members, stored_definitions
from segmentum.service.workspace import Workspace
from segmentum.store import membership as membership_store
from segmentum.store import segments as segment_store
from segmentum.store.database import StoreError


def refresh_segments(
    ws: Workspace, as_of: date | None = None, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Evaluate every segment in one pass, store members and log entries and exits
    (``at``: an exact evaluation instant, e.g. the real-time timer loop's clock)."""
    definitions = stored_definitions(ws)
    versions = {stored.name: stored.version for stored in segment_store.list_segments(ws.store)}
    instant = at or _as_of_instant(as_of, ws.settings.timezone)
    try:
        changes = refresh(
            ws.store,
            definitions,
            versions,
            ws.catalog,
            ws.settings,
            ws.tables(),
            instant,
            at or now_utc(),
            ws.engine,
        )
    except StoreError as error:
        raise ServiceError(str(error)) from error
    from segmentum.service import realtime  # boundaries and timers (docs/realtime.md)

    realtime.after_full_refresh(ws, instant)
    return [vars(change) for change in changes]


def _as_of_instant(as_of: date | None, timezone: str) -> datetime:
    """``--as-of DAY``: the end of that day, or now for today (the membership log records
    what is known: an effective instant later than now would log exits and entries that have
    not happened and refuse every refresh until then); a later day is refused."""
    if as_of is not None:
        _refuse_future_day(as_of, timezone, "--as-of", "a refresh records memberships as they "
                           "are known now")  # fmt: skip
    return min(resolve_as_of(as_of, timezone), now_utc())


def _refuse_future_day(day: date, timezone: str, option: str, why: str) -> None:
    today = now_utc().astimezone(ZoneInfo(timezone)).date()
    if day > today:
        raise ServiceError(
            f"{option} {day.isoformat()} is in the future (today is {today.isoformat()} in "
            f"{timezone}): {why}"
        )


def segment_history(ws: Workspace, name: str) -> list[dict[str, Any]]:
    get_definition(ws, name)
    return membership_store.history(ws.store, name)


def members_at(ws: Workspace, name: str, at: date) -> list[str]:
    """Who was in the segment at the end of ``at`` (workspace timezone), from the log; a day
    after today is refused."""
    get_definition(ws, name)
    _refuse_future_day(at, ws.settings.timezone, "--at", "the membership log knows only the past")
    return membership_store.members_at(ws.store, name, end_of_day(at, ws.settings.timezone))


def empty_log_reason(ws: Workspace, name: str, at: date) -> str | None:
    """Why ``members_at`` may be empty for a reason other than "no members": the segment's
    log starts after the end of ``at``, or is empty (None when the log covers ``at``)."""
    zone = ws.settings.timezone
    first = membership_store.first_logged(ws.store, name)
    if first is None:
        return "it has no entries yet; has the segment been refreshed (segments refresh)?"
    first_utc = first.replace(tzinfo=UTC) if first.tzinfo is None else first
    if first_utc <= end_of_day(at, zone):
        return None
    day = first_utc.astimezone(ZoneInfo(zone)).date().isoformat()
    return f"its first entry is on {day}; the segment may not have been refreshed by then"


_FORMULA_START = r"^[=+\-@\t\r\x00]"
#: A phone number in E.164 (``+`` and digits only) is data, not a formula: spreadsheets show
#: it as text, and SMS tools need the ``+``.
_PHONE = r"^\+[0-9]{4,15}$"


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(
                pc.match_substring_regex(column, _FORMULA_START),
                pc.invert(pc.match_substring_regex(column, _PHONE)),
            )
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def export_members(
    ws: Workspace,
    name: str,
    file: Path,
    columns: tuple[str, ...] = (),
    as_of: date | None = None,
) -> int:
    """Write members with chosen customer columns to CSV or Parquet (by extension)."""
    table = members(ws, name, as_of, columns).to_pyarrow()
    suffix = file.suffix.lower()
    try:
        if suffix == ".parquet":
            pq.write_table(table, file)
        elif suffix in (".csv", ".txt"):
            flat = table
            for index, field in enumerate(table.schema):
                if pa.types.is_list(field.type):
                    joined = pc.binary_join(table.column(index), ";")
                    flat = flat.set_column(index, field.name, joined)
            pa_csv.write_csv(neutralise_formulas(flat), file)
        else:
            raise ServiceError(f"{file}: export writes .csv or .parquet")
    except OSError as error:
        raise ServiceError(f"cannot write {file}: {error}") from error
    return int(table.num_rows)
