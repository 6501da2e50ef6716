"""Segments end to end through the CLI: create, validate, preview, list, members, explain,
sql, refresh, history, members --at, export; exact outputs."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cli.runner import run as run_cli

FIXTURES = Path(__file__).parent / "fixtures"


def run(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run_cli(db, *args, check=check)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("shop") / "shop.duckdb"
    run(db, "import", "customers", str(FIXTURES / "customers.csv"))
    run(db, "import", "orders", str(FIXTURES / "orders.csv"))
    run(db, "segments", "create", "vip", "--where", 'has_tag("vip")')
    run(db, "segments", "create", "recent_buyers", "--where", "orders(within 30d).count() >= 1")
    run(
        db,
        "segments",
        "create",
        "vip_buyers",
        "--where",
        "in_segment(vip) and in_segment(recent_buyers)",
    )
    return db


def test_list_sizes_and_sentences(shop: Path) -> None:
    listed = json.loads(run(shop, "segments", "list", "--as-of", "2024-05-15", "-f", "json").stdout)
    assert [(row["name"], row["version"], row["size"]) for row in listed] == [
        ("recent_buyers", 1, 1),
        ("vip", 1, 2),
        ("vip_buyers", 1, 1),
    ]
    assert listed[1]["sentence"] == "customers who have the tag 'vip'"


def test_members_with_columns_csv(shop: Path) -> None:
    out = run(
        shop,
        "segments",
        "members",
        "vip",
        "--as-of",
        "2024-05-15",
        "--columns",
        "first_name,last_name",
        "-f",
        "csv",
    ).stdout
    # a formula cell is neutralised, as in `segments export`
    assert out == "customer_id,first_name,last_name\nc1,Иван,Петров\nc3,Anna,'=SUM(A1)\n"


def test_signed_up_after_as_of_is_in_no_segment(shop: Path) -> None:
    preview = json.loads(
        run(
            shop,
            "segments",
            "preview",
            "--where",
            'country = "CZ"',
            "--as-of",
            "2024-05-15",
            "-f",
            "json",
        ).stdout
    )
    assert preview["count"] == 1
    assert preview["sample"] == ["c2"]


def test_validate_reports_every_problem(shop: Path) -> None:
    result = run(
        shop,
        "segments",
        "validate",
        "-f",
        "json",
        "--where",
        "attribute(nope) = 1 and in_segment(missing) and orders(within 30d).count() >= 1",
        check=False,
    )
    assert result.returncode == 1
    assert [(i["code"], i["path"]) for i in json.loads(result.stdout)] == [
        ("SEG101", "/all/0/attribute/field"),
        ("SEG105", "/all/1/segment/segment"),
    ]


def test_invalid_create_is_refused_and_saves_nothing(shop: Path) -> None:
    result = run(shop, "segments", "create", "broken", "--where", "countryy = 1", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: SEG101")
    assert run(shop, "segments", "show", "broken", check=False).returncode == 1


def test_explain(shop: Path) -> None:
    rows = json.loads(
        run(
            shop,
            "segments",
            "explain",
            "recent_buyers",
            "--customer",
            "c1",
            "--as-of",
            "2024-05-15",
            "-f",
            "json",
        ).stdout
    )
    assert {row["condition"]: row["value"] for row in rows} == {
        "/": True,
        "/aggregate": True,
        "/aggregate#value": 1,
    }


def test_sql_dialects_bind_no_user_text(shop: Path) -> None:
    for dialect in ("duckdb", "postgres", "pyspark"):
        sql = run(shop, "segments", "sql", "vip", "--dialect", dialect).stdout
        assert "SELECT" in sql
        assert "'vip'" in sql


def test_sql_as_of_is_the_end_of_that_day(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(db, "import", "customers", str(FIXTURES / "customers.csv"))
    run(db, "import", "orders", str(FIXTURES / "orders.csv"))
    run(db, "segments", "create", "recent", "--where", "orders(within 30d).count() >= 1")
    dated = run(db, "segments", "sql", "recent", "--as-of", "2024-04-10").stdout
    assert '"ordered_at" <= MAKE_TIMESTAMP(2024, 4, 10, 23, 59, 59.999999)' in dated
    assert "MAKE_TIMESTAMP(2024, 4, 10" not in run(db, "segments", "sql", "recent").stdout
    bad = run(db, "segments", "sql", "recent", "--as-of", "10.4.2024", check=False)
    assert bad.returncode == 2
    assert "Invalid value: '10.4.2024' is not a date like 2024-05-31" in bad.stderr


def test_refresh_history_and_members_at(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(db, "import", "customers", str(FIXTURES / "customers.csv"))
    run(db, "import", "orders", str(FIXTURES / "orders.csv"))
    run(db, "segments", "create", "recent", "--where", "orders(within 30d).count() >= 1")
    first = json.loads(run(db, "segments", "refresh", "--as-of", "2024-04-10", "-f", "json").stdout)
    assert first == [{"segment": "recent", "version": 1, "size": 1, "entered": 1, "exited": 0}]
    second = json.loads(
        run(db, "segments", "refresh", "--as-of", "2024-06-15", "-f", "json").stdout
    )
    assert second == [{"segment": "recent", "version": 1, "size": 0, "entered": 0, "exited": 1}]
    refused = run(db, "segments", "refresh", "--as-of", "2024-05-01", check=False)
    assert refused.returncode == 1
    assert "refusing a refresh" in refused.stderr
    history = json.loads(run(db, "segments", "history", "recent", "-f", "json").stdout)
    assert [(h["size"], h["entered"], h["exited"]) for h in history] == [(1, 1, 0), (0, 0, 1)]
    at = json.loads(
        run(db, "segments", "members", "recent", "--at", "2024-05-01", "-f", "json").stdout
    )
    assert at == [{"customer_id": "c1"}]
    run(db, "segments", "create", "recent", "--where", "orders(within 60d).count() >= 1")
    third = json.loads(run(db, "segments", "refresh", "--as-of", "2024-06-20", "-f", "json").stdout)
    assert third == [{"segment": "recent", "version": 2, "size": 1, "entered": 1, "exited": 0}]
    history = json.loads(run(db, "segments", "history", "recent", "-f", "json").stdout)
    assert [(h["version"], h["size"], h["entered"], h["exited"]) for h in history] == [
        (1, 1, 1, 0),
        (1, 0, 0, 1),
        (2, 1, 1, 0),
    ]


def test_export_neutralises_formulas(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "vip.csv"
    run(
        shop,
        "segments",
        "export",
        "vip",
        str(out),
        "--columns",
        "last_name,tags",
        "--as-of",
        "2024-05-15",
    )
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["customer_id", "last_name", "tags"],
        ["c1", "Петров", "vip"],
        ["c3", "'=SUM(A1)", "vip;gold"],
    ]
    parquet = tmp_path / "vip.parquet"
    run(
        shop,
        "segments",
        "export",
        "vip",
        str(parquet),
        "--columns",
        "last_name",
        "--as-of",
        "2024-05-15",
    )
    assert pq.read_table(parquet).to_pylist() == [
        {"customer_id": "c1", "last_name": "Петров"},
        {"customer_id": "c3", "last_name": "=SUM(A1)"},
    ]


def test_upload_list_names_ids_that_are_no_customer(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    run(db, "import", "customers", str(FIXTURES / "customers.csv"))
    ids = tmp_path / "list.csv"
    ids.write_text("customer_id\nc1\nghost-7\nc2\nghost-1\nghost-3\n", encoding="utf-8")
    result = run(db, "segments", "upload-list", "press", str(ids))
    assert result.stderr.splitlines() == [
        "list press: 5 customers",
        "warning: 3 ids name no customer (yet): ghost-1, ghost-3, ghost-7",
    ]
    many = tmp_path / "many.csv"
    many.write_text("".join(f"x{n}\n" for n in range(7)), encoding="utf-8")
    result = run(db, "segments", "upload-list", "press", str(many))
    assert result.stderr.splitlines() == [
        "list press: 7 customers",
        "warning: 7 ids name no customer (yet): x0, x1, x2, x3, x4, ...",
    ]
    one = tmp_path / "one.csv"
    one.write_text("c1\nghost\n", encoding="utf-8")
    assert run(db, "segments", "upload-list", "press", str(one)).stderr.splitlines() == [
        "list press: 2 customers",
        "warning: 1 id names no customer (yet): ghost",
    ]
    known = tmp_path / "known.csv"
    known.write_text("c1\n", encoding="utf-8")
    assert run(db, "segments", "upload-list", "press", str(known)).stderr.splitlines() == [
        "list press: 1 customer"
    ]
