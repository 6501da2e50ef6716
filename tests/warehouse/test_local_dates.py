"""Local dates derived IN THE ENGINE from mapped instants, across DST changes, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmentum.catalog.mapping import ParquetSource, TableMapping
from segmentum.engine.connection import EngineKind
from segmentum.engine.mapped import local_date, open_source, utc_instant
from tests.engine_fixtures import ENGINE_PARAMS, EngineFactory

ZONES = ("Europe/Prague", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC")


def _instants() -> list[datetime]:
    """Every 30 minutes around both 2024 DST changes of Prague, New York and Sydney."""
    found: list[datetime] = []
    for centre in (
        datetime(2024, 3, 31, 1),  # Prague spring forward
        datetime(2024, 10, 27, 1),  # Prague fall back
        datetime(2024, 3, 10, 7),  # New York spring forward
        datetime(2024, 11, 3, 6),  # New York fall back
        datetime(2024, 4, 6, 16),  # Sydney fall back (UTC)
    ):
        found += [centre + timedelta(minutes=30 * step) for step in range(-8, 9)]
    return found


INSTANTS = _instants()


def _source(engine: Any, tmp_path: Path) -> TableMapping:
    data = pa.table(
        {
            "n": pa.array(range(len(INSTANTS)), pa.int64()),
            "ts": pa.array([i.replace(tzinfo=UTC) for i in INSTANTS], pa.timestamp("us", "UTC")),
        }
    )
    if engine.kind is EngineKind.POSTGRES:
        engine.raw_sql("CREATE TABLE instants (n bigint, ts timestamptz)")
        with engine.backend.con.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO instants VALUES (%s, %s)",
                [(row["n"], row["ts"]) for row in data.to_pylist()],
            )
        engine.backend.con.commit()
        return TableMapping(source="instants")
    folder = tmp_path / "instants"
    folder.mkdir()
    pq.write_table(data, folder / "part-0.parquet")
    return TableMapping(source=ParquetSource(parquet=str(folder)))


@pytest.mark.parametrize("kind", ENGINE_PARAMS)
def test_local_dates_across_dst(
    kind: EngineKind, engine_factory: EngineFactory, tmp_path: Path
) -> None:
    engine = engine_factory(kind)
    source = open_source(engine, "orders", _source(engine, tmp_path))
    instant = utc_instant(engine.kind, source.ts)
    columns = {"n": source.n, "utc": instant}
    for index, zone in enumerate(ZONES):
        columns[f"d{index}"] = local_date(engine.kind, instant, zone)
    rows = source.select(**columns).order_by("n").to_pyarrow().to_pylist()
    assert [row["utc"] for row in rows] == INSTANTS  # naive UTC, whatever the input zone
    for index, zone in enumerate(ZONES):
        expected = [i.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date() for i in INSTANTS]
        assert [row[f"d{index}"] for row in rows] == expected, zone
