"""Engine URLs and their error messages (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentum.engine.connection import DUCKDB_MEMORY_ENV, EngineError, connect, redact_url
from segmentum.engine.spark import SparkTarget, parse_spark_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("pyspark://local[2]", SparkTarget("local[2]", None, None)),
        ("pyspark://local", SparkTarget("local", None, None)),
        ("pyspark://local[*]?database=shop", SparkTarget("local[*]", None, "shop")),
        ("pyspark://", SparkTarget("local[2]", None, None)),
        ("pyspark://spark://10.0.0.5:7077", SparkTarget("spark://10.0.0.5:7077", None, None)),
        (
            "pyspark://sc://spark.example:15002?database=crm",
            SparkTarget(None, "sc://spark.example:15002", "crm"),
        ),
    ],
)
def test_spark_urls(url: str, expected: SparkTarget) -> None:
    assert parse_spark_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pyspark://localhost", "unknown Spark master 'localhost'"),
        ("pyspark://local[2]?db=x", "unknown Spark URL parameter(s): db; known: database"),
        ("pyspark://local[2]?database=x;drop", "invalid Spark database name 'x;drop'"),
    ],
)
def test_bad_spark_urls(url: str, message: str) -> None:
    with pytest.raises(EngineError) as caught:
        parse_spark_url(url)
    assert str(caught.value).startswith(message)


def test_bad_scheme() -> None:
    with pytest.raises(EngineError) as caught:
        connect("mysql://user:pw@db/x")
    assert str(caught.value) == (
        "unknown engine URL scheme 'mysql'; use a path, duckdb://, postgres:// or pyspark://"
    )


def test_unreachable_postgres_is_one_line_without_password() -> None:
    with pytest.raises(EngineError) as caught:
        connect("postgres://shop:s3cr%40t-pw@127.0.0.1:1/crm")
    message = str(caught.value)
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/crm: ")
    assert "Connection refused" in message
    assert "\n" not in message
    assert "s3cr" not in message
    assert caught.value.__cause__ is None  # the psycopg error (and its DSN) is not chained


def test_postgres_password_from_environment_is_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PGPASSWORD", "env-secret-42")
    with pytest.raises(EngineError) as caught:
        connect("postgresql://shop@127.0.0.1:1/crm")
    assert "env-secret-42" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u@h/db?schema=a-b", "invalid PostgreSQL schema name 'a-b'"),
        ("postgres://u@h/db?search_path=x", "unknown PostgreSQL URL parameter(s): search_path"),
    ],
)
def test_bad_postgres_urls(url: str, message: str) -> None:
    with pytest.raises(EngineError) as caught:
        connect(url)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgres://shop:p%40ss@db:5432/crm?schema=x", "postgres://shop:***@db:5432/crm?schema=x"),
        ("postgresql://shop@db/crm", "postgresql://shop@db/crm"),
        ("pyspark://local[2]", "pyspark://local[2]"),
        ("segmentum.duckdb", "segmentum.duckdb"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("512MB", "488.2 MiB"), ("2GiB", "2.0 GiB"), (" 1gb ", "953.6 MiB")],
)
def test_duckdb_memory_limit_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, shown: str
) -> None:
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, value)
    for where in (":memory:", str(tmp_path / "shop.duckdb")):
        engine = connect(where)
        try:
            setting = engine.backend.con.execute("SELECT current_setting('memory_limit')")
            assert setting.fetchone() == (shown,)
        finally:
            engine.close()


@pytest.mark.parametrize("value", ["lots", "8 GB; DROP TABLE customers", "50%", "-1GB"])
def test_bad_duckdb_memory_limit_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(DUCKDB_MEMORY_ENV, value)
    with pytest.raises(EngineError, match="expected a size such as 8GB or 512MB"):
        connect(":memory:")
