"""Pytest plugin: throwaway PostgreSQL and Spark engines for tests.

Register with ``pytest_plugins = ["tests.engine_fixtures"]`` (or ``-p tests.engine_fixtures``).

- ``postgres_url`` (session): starts a private PostgreSQL server (initdb + pg_ctl as the
  ``postgres`` OS user when running as root, trust auth on 127.0.0.1, a free port, C locale,
  UTF8) and stops it when the session ends.
- ``spark_url`` (session): starts the process JVM once (``pyspark://local[2]``).
- ``spark_connect_url`` (session): starts a Spark Connect server in its own process (the
  ``SparkConnectServer`` class that the pyspark wheel ships, ``local[2]``, a free port) and
  gives ``pyspark://sc://127.0.0.1:<port>``: the production path to an existing cluster.
- ``engine_factory`` (function): ``engine_factory("postgres")`` gives a clean Engine with the
  catalog tables created: a new database per call on PostgreSQL and on Spark (also
  ``"spark_connect"``), ``:memory:`` on DuckDB; everything is dropped afterwards.
- ``any_engine`` (function, parametrized over the three engines, with their markers).

A missing server or JVM skips the test, unless ``SEGMENTUM_REQUIRE_ENGINES=1`` (set in CI):
then it fails with the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from segmentum.catalog.schema import Catalog, build_catalog
from segmentum.catalog.settings import WorkspaceSettings
from segmentum.engine.connection import Engine, EngineError, EngineKind, connect, ensure_schema

REQUIRE_ENV = "SEGMENTUM_REQUIRE_ENGINES"
SPARK_URL = "pyspark://local[2]"
SPARK_CONNECT = "spark_connect"
SPARK_CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
PG_DATABASE = "segmentum_test"

EngineFactory = Callable[..., Engine]


def unavailable(reason: str) -> None:
    """Skip for lack of an engine, or fail when CI requires every engine."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: engine tests must run)", pytrace=False)
    pytest.skip(reason)


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The directory with initdb and pg_ctl: pg_config --bindir, Debian's layout, or PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted((Path(p) for p in debian), key=lambda p: _version(p.parent.name))[::-1]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A private server in a temporary directory, run as the postgres OS user under root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="segmentum-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        self.sockets.mkdir()
        if self.as_root:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root but there is no 'postgres' user") from None
            for path in (self.base, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        steps = [
            (
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--locale=C",
                "--encoding=UTF8",
                "--no-sync",
            ),
            (
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=50",
                "start",
            ),
        ]
        for step in steps:
            result = self._run(*step)
            if result.returncode != 0:
                log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                raise RuntimeError(
                    f"{step[0]} failed ({result.returncode}): {result.stderr.strip()} {log}"
                )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


def admin_connection(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    base = url.rsplit("/", 1)[0]
    return psycopg.connect(
        f"{base.replace('postgres://', 'postgresql://', 1)}/postgres", autocommit=True
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
        raise AssertionError  # unreachable: unavailable() raises
    server = PostgresServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        server.stop()
        unavailable(f"cannot start PostgreSQL from {bindir}: {error}")
    url = server.url(PG_DATABASE)
    with admin_connection(url) as con:
        con.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    yield url
    server.stop()


# --- Spark ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark_url() -> Iterator[str]:
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        unavailable("no Java runtime for Spark (apt-get install default-jre-headless)")
    from segmentum.engine.spark import connect_spark, stop_spark

    try:
        connect_spark(SPARK_URL)  # starts the JVM once for the whole run
    except EngineError as error:
        unavailable(str(error))
    yield SPARK_URL
    stop_spark()


def _wait_for_port(port: int, server: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.5)
    return False


@pytest.fixture(scope="session")
def spark_connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server of our own, reached only over gRPC like a remote cluster."""
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        unavailable("no Java runtime for Spark (apt-get install default-jre-headless)")
    import pyspark

    home = Path(pyspark.__file__).parent
    port = _free_port()
    folder = tmp_path_factory.mktemp("spark_connect")
    log = (folder / "server.log").open("wb")
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        SPARK_CONNECT_SERVER,
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        f"spark.sql.warehouse.dir={folder / 'warehouse'}",
        "--conf",
        f"spark.driver.extraJavaOptions=-Dderby.system.home={folder / 'derby'}",
        "--conf",
        "spark.ui.enabled=false",
    ]
    environment = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        if not _wait_for_port(port, server, seconds=180):
            tail = (folder / "server.log").read_text(errors="replace")[-2000:]
            unavailable(f"the Spark Connect server did not start: {tail}")
        yield f"pyspark://sc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# --- Clean engines ----------------------------------------------------------------------------


def _fresh_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def fresh_engine(
    request: pytest.FixtureRequest, kind: str | EngineKind, catalog: Catalog | None = None
) -> tuple[Engine, Callable[[], None]]:
    """A clean engine of ``kind`` with the catalog tables, and the function that drops it.

    Usable from fixtures of any scope (the server fixtures are session-scoped)."""
    cleanup: Callable[[], None]
    if kind == SPARK_CONNECT:
        kind = EngineKind.PYSPARK
        url = request.getfixturevalue("spark_connect_url")
    else:
        kind = EngineKind(kind)
        url = request.getfixturevalue("spark_url") if kind is EngineKind.PYSPARK else ""
    if kind is EngineKind.DUCKDB:
        engine = connect(":memory:")
        cleanup = engine.close
    elif kind is EngineKind.POSTGRES:
        server_url = request.getfixturevalue("postgres_url")
        name = _fresh_name()
        with admin_connection(server_url) as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        engine = connect(f"{server_url.rsplit('/', 1)[0]}/{name}")

        def cleanup(engine: Engine = engine, name: str = name) -> None:
            engine.close()
            with admin_connection(server_url) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    else:
        name = _fresh_name()
        engine = connect(f"{url}?database={name}")

        def cleanup(engine: Engine = engine, name: str = name) -> None:
            engine.raw_sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE")

    ensure_schema(engine, catalog or build_catalog(WorkspaceSettings()))
    return engine, cleanup


@pytest.fixture
def engine_factory(request: pytest.FixtureRequest) -> Iterator[EngineFactory]:
    """``engine_factory(kind, catalog=None)``: a clean engine with the catalog tables."""
    cleanups: list[Callable[[], None]] = []

    def make(kind: str | EngineKind, catalog: Catalog | None = None) -> Engine:
        engine, cleanup = fresh_engine(request, kind, catalog)
        cleanups.append(cleanup)
        return engine

    yield make
    for cleanup in reversed(cleanups):
        cleanup()


ENGINE_PARAMS = [
    pytest.param(EngineKind.DUCKDB, id="duckdb"),
    pytest.param(EngineKind.POSTGRES, id="postgres", marks=pytest.mark.postgres),
    pytest.param(EngineKind.PYSPARK, id="pyspark", marks=pytest.mark.spark),
]


@pytest.fixture(params=ENGINE_PARAMS)
def any_engine(request: pytest.FixtureRequest, engine_factory: EngineFactory) -> Engine:
    """The same test on every engine, each with its marker."""
    return engine_factory(request.param)


#: Warnings PySpark 4.0 causes itself, which warnings-as-errors turns into failures; ignored only
#: for tests marked ``spark``. PySpark leaves the sockets it reads results from to the garbage
#: collector (pyspark.util._load_from_socket), and its Arrow conversions use pandas 3
#: deprecations (``copy=``, ``future.infer_string``; raised as errors, they abort them).
SPARK_WARNINGS = (
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore::pandas.errors.Pandas4Warning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("spark"):
            for spec in SPARK_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))
