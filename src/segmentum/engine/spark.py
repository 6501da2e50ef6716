"""Spark as a data engine: one JVM per process, one isolated SQL session per Engine.

URLs: ``pyspark://local[2]`` (local mode), ``pyspark://spark://host:7077`` (a cluster master),
``pyspark://sc://host:15002`` (Spark Connect); ``?database=name`` creates and uses a database.
The JVM takes seconds to start, so the first connection starts it and every later one gets a
``newSession()`` of it: separate current database, temporary views and SQL settings, shared
SparkContext. ``Engine.close()`` leaves the JVM running; ``stop_spark()`` ends it.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ibis

from segmentum.engine.connection import Engine, EngineError, EngineKind

SHUFFLE_ENV = "SEGMENTUM_SPARK_SHUFFLE_PARTITIONS"
WAREHOUSE_ENV = "SEGMENTUM_SPARK_WAREHOUSE"
DEFAULT_SHUFFLE_PARTITIONS = 4
DEFAULT_MASTER = "local[2]"

_LOCAL_MASTER = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?")
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_LOG4J = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.tasksize.name = org.apache.spark.scheduler.TaskSetManager
logger.tasksize.level = error
"""


@dataclass(frozen=True)
class SparkTarget:
    """What a ``pyspark://`` URL names: a master or a Spark Connect endpoint, and a database."""

    master: str | None
    remote: str | None
    database: str | None

    @property
    def is_local(self) -> bool:
        return self.master is not None and _LOCAL_MASTER.fullmatch(self.master) is not None


def parse_spark_url(url: str) -> SparkTarget:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "pyspark":
        raise EngineError(f"not a Spark URL: {url!r}; use pyspark://local[2]")
    rest, _, query = rest.partition("?")
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"database"})
    if unknown:
        raise EngineError(f"unknown Spark URL parameter(s): {', '.join(unknown)}; known: database")
    database = params["database"][-1] if "database" in params else None
    if database is not None and not _DATABASE_NAME.fullmatch(database):
        raise EngineError(f"invalid Spark database name {database!r} (letters, digits, _)")
    if rest.startswith("sc://"):
        return SparkTarget(None, rest, database)
    if rest == "":
        return SparkTarget(DEFAULT_MASTER, None, database)
    if _LOCAL_MASTER.fullmatch(rest) or rest.startswith(("spark://", "k8s://")) or rest == "yarn":
        return SparkTarget(rest, None, database)
    raise EngineError(
        f"unknown Spark master {rest!r}; use pyspark://local[2], pyspark://spark://host:7077 "
        "or pyspark://sc://host:15002"
    )


def shuffle_partitions() -> int:
    text = os.environ.get(SHUFFLE_ENV, "")
    if not text:
        return DEFAULT_SHUFFLE_PARTITIONS
    if not text.isdigit() or int(text) < 1:
        raise EngineError(f"{SHUFFLE_ENV} must be a positive integer, not {text!r}")
    return int(text)


def session_settings(remote: bool = False) -> dict[str, str]:
    """SQL settings every Segmentum session gets (runtime settings, per session).

    The ``arrow.pyspark`` switches belong to the classic client's DataFrame conversion; a
    Spark Connect client always exchanges Arrow and its server refuses them with a warning."""
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(shuffle_partitions()),
        "spark.sql.ansi.enabled": "true",
    }
    if not remote:
        settings["spark.sql.execution.arrow.pyspark.enabled"] = "true"
        settings["spark.sql.execution.arrow.pyspark.fallback.enabled"] = "false"
    return settings


class _Jvm:
    """The process-wide SparkSession (the JVM) and what it was started with."""

    lock = threading.Lock()
    root: Any = None
    key: str | None = None
    temp_dir: Path | None = None


def _static_settings(target: SparkTarget) -> dict[str, str]:
    """Settings fixed when the JVM starts: places on disk, network, logging."""
    configured = os.environ.get(WAREHOUSE_ENV)
    if configured:
        base = Path(configured).expanduser().resolve()
        base.mkdir(parents=True, exist_ok=True)
    else:
        base = Path(tempfile.mkdtemp(prefix="segmentum-spark-"))
        _Jvm.temp_dir = base
    (base / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
    java_options = (
        f"-Dderby.system.home={base / 'derby'} "
        f"-Dlog4j2.configurationFile=file:{base / 'log4j2.properties'}"
    )
    settings = {
        "spark.app.name": "segmentum",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str(base / "warehouse"),
        "spark.driver.extraJavaOptions": java_options,
        **session_settings(),
    }
    if configured:
        # A configured warehouse persists: keep table definitions in a Derby metastore there.
        settings["spark.sql.catalogImplementation"] = "hive"
        settings["spark.hadoop.javax.jdo.option.ConnectionURL"] = (
            f"jdbc:derby:;databaseName={base / 'metastore_db'};create=true"
        )
    if target.is_local:
        settings["spark.driver.host"] = "127.0.0.1"
        settings["spark.driver.bindAddress"] = "127.0.0.1"
    return settings


def _start(target: SparkTarget) -> Any:
    from pyspark.sql import SparkSession

    if target.is_local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
            raise EngineError("cannot start Spark: no Java runtime (install Java 17+)")
    builder = SparkSession.builder.master(target.master or DEFAULT_MASTER)
    for key, value in _static_settings(target).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise EngineError(f"cannot start Spark ({target.master}): {first_line}") from error
    session.sparkContext.setLogLevel("WARN")
    return session


def _session(target: SparkTarget) -> Any:
    """A fresh session of the process JVM (or of the Spark Connect server)."""
    if target.remote is not None:
        try:
            from pyspark.sql.connect.session import SparkSession as ConnectSession
        except ImportError as error:
            raise EngineError(
                "Spark Connect needs the client extras: pip install 'pyspark[connect]'"
            ) from error
        try:
            return ConnectSession.builder.remote(target.remote).create()
        except Exception as error:
            host = target.remote.split(";", 1)[0]
            raise EngineError(f"cannot reach Spark Connect at {host}: {error}") from error
    key = target.master or DEFAULT_MASTER
    with _Jvm.lock:
        if _Jvm.root is None:
            _Jvm.root = _start(target)
            _Jvm.key = key
        elif _Jvm.key != key:
            raise EngineError(
                f"this process already runs Spark with master {_Jvm.key}; "
                f"one master per process (asked for {key})"
            )
        return _Jvm.root.newSession()


def connect_spark(url: str) -> Engine:
    """Open a Spark engine; the first call in a process starts the JVM (5-10 s)."""
    target = parse_spark_url(url)
    session = _session(target)
    for key, value in session_settings(remote=target.remote is not None).items():
        session.conf.set(key, value)
    backend = ibis.pyspark.connect(session)  # also makes ibis.to_sql(dialect="pyspark") work
    ibis.options.pyspark.treat_nan_as_null = True  # exists once the backend module is loaded
    if target.database is not None:
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{target.database}`")
        session.catalog.setCurrentDatabase(target.database)
    return Engine(url, EngineKind.PYSPARK, backend)


def stop_spark() -> None:
    """Stop the process JVM (tests call this once at the end; atexit does it otherwise)."""
    with _Jvm.lock:
        if _Jvm.root is not None:
            _Jvm.root.stop()
            _Jvm.root = None
            _Jvm.key = None
        if _Jvm.temp_dir is not None:
            shutil.rmtree(_Jvm.temp_dir, ignore_errors=True)
            _Jvm.temp_dir = None


atexit.register(stop_spark)
