"""Warehouse mode: a catalog table read from the business's own table, view or Parquet folder.

A workspace may declare, per catalog table, where its rows already live on the data engine
and how the business's column names map to the catalog's::

    table_mappings:
      orders:
        source: sales.transactions          # a table or view (schema-qualified), or
        # source: {parquet: /data/orders/}  # a folder of (Hive-partitioned) Parquet files
        columns: {order_id: txn_id, ordered_at: txn_ts, amount: total_czk, customer_id: cust_no}

A catalog column not named in ``columns`` is read from the source column of the same name.
``columns: {store: null}`` says the source has no such column: it reads as NULL (never allowed
for required columns). ``fill_missing: true`` does that for every optional column the source
lacks. Derived columns (``local_date``, ``signup_date``) are never mapped: the engine computes
them from the mapped instant in the workspace timezone.

This module only describes a mapping; ``segmentum.engine.mapped`` builds the catalog-shaped
Ibis table and ``segmentum.engine.check`` compares a mapping with the live schema.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: ``table``, ``schema.table`` (PostgreSQL schema, DuckDB schema, Spark database).
_SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,127}(\.[A-Za-z_][A-Za-z0-9_$]{0,127})?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParquetSource(_Model):
    """A Parquet file or a folder of them (``key=value`` sub-folders become columns)."""

    parquet: str = Field(min_length=1, max_length=4096)
    hive_partitioning: bool = True


class TableMapping(_Model):
    """Where one catalog table's rows live and how the columns are named there."""

    source: str | ParquetSource
    #: Catalog column -> source column; ``None``: the source has no such column (NULL).
    columns: dict[str, str | None] = Field(default_factory=dict)
    #: Optional catalog columns the source lacks read as NULL instead of being a problem.
    fill_missing: bool = False

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str | ParquetSource) -> str | ParquetSource:
        if isinstance(value, str) and not _SOURCE_NAME.fullmatch(value):
            raise ValueError(
                f"source {value!r} must be 'table' or 'schema.table' (letters, digits, _) "
                "or {parquet: PATH}"
            )
        return value

    @field_validator("columns")
    @classmethod
    def _column_names(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        for catalog_column, source_column in value.items():
            if source_column is not None and not 0 < len(source_column) <= 256:
                raise ValueError(f"columns.{catalog_column}: a source column name (1-256 chars)")
        return value

    @property
    def source_schema(self) -> str | None:
        """The schema (database) part of a table source, if any."""
        if isinstance(self.source, str) and "." in self.source:
            return self.source.split(".", 1)[0]
        return None

    @property
    def table_name(self) -> str | None:
        """The table part of a table source (None for Parquet)."""
        if isinstance(self.source, str):
            return self.source.rsplit(".", 1)[-1]
        return None

    @property
    def parquet(self) -> ParquetSource | None:
        return self.source if isinstance(self.source, ParquetSource) else None

    def describe_source(self) -> str:
        if isinstance(self.source, ParquetSource):
            return f"parquet:{self.source.parquet}"
        return self.source

    def source_column(self, catalog_column: str) -> str | None:
        """The source column that feeds ``catalog_column`` (None: declared absent)."""
        if catalog_column in self.columns:
            return self.columns[catalog_column]
        return catalog_column
