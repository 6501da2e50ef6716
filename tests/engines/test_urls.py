"""Engine URLs and their error messages (no server needed)."""

from __future__ import annotations

import pytest

from segmentum.engine.connection import EngineError, connect, redact_url
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
