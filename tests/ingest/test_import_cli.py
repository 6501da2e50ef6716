from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
STATE = "SELECT count(*), sum(amount), bit_xor(hash(order_id, customer_id, ordered_at)) FROM orders"


def _cli(db: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore::DeprecationWarning",
            "-m",
            "tests.ingest.cli_runner",
            "--db",
            str(db),
            "import",
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _run(db: Path, *args: str) -> tuple[int, str, str]:
    process = _cli(db, *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def _orders_files(tmp_path: Path, rows: int) -> tuple[Path, Path]:
    customers, orders = tmp_path / "customers.csv", tmp_path / "orders.csv"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'c' || i AS customer_id FROM range(1000) t(i)) TO '{customers}' (HEADER)"
    )
    con.execute(
        f"""COPY (SELECT 'o' || i AS order_id, 'c' || (i % 1000) AS customer_id,
            '2024-01-01T10:00:00' AS ordered_at, (i % 997) / 10 AS amount
            FROM range({rows}) t(i)) TO '{orders}' (HEADER)"""
    )
    con.close()
    return customers, orders


def _state(db: Path) -> tuple[object, ...]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return tuple(con.execute(STATE).fetchone() or ())
    finally:
        con.close()


def test_format_json_prints_exactly_one_object(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,email\nc1,a@b.cz\nc2,bad\n", encoding="utf-8")
    code, out, err = _run(tmp_path / "w.duckdb", "customers", str(path), "--format", "json")
    assert code == 0, err
    assert out.count("\n") == 1
    assert json.loads(out) == {
        "table": "customers",
        "source": str(path),
        "loaded": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 1,
        "rejected_by_reason": {"bad_email": 1},
        "rejects_path": str(tmp_path / "c.csv.rejected.csv"),
    }


def test_format_csv_prints_the_summary_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,email\nc1,a@b.cz\nc2,bad\n", encoding="utf-8")
    code, out, err = _run(tmp_path / "w.duckdb", "customers", str(path), "--format", "csv")
    assert code == 0, err
    assert out.splitlines() == [
        "field,value",
        "table,customers",
        f"source,{path}",
        "loaded,1",
        "updated,0",
        "unchanged,0",
        "rejected,1",
        'rejected_by_reason,"{""bad_email"": 1}"',
        f"rejects_path,{tmp_path / 'c.csv.rejected.csv'}",
    ]


def test_errors_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ru.csv"
    path.write_bytes("customer_id,first_name\nc1,Иван Петров\n".encode("cp1251"))
    code, out, err = _run(tmp_path / "w.duckdb", "customers", str(path))
    assert (code, out) == (1, "")
    # (the transient progress bar may leave a blank line before the message)
    assert err.strip().startswith("error: ")
    assert "--encoding cp1251" in err
    assert err.strip().count("\n") == 0


def test_mapping_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("ID;Mail\nc1;a@b.cz\n", encoding="utf-8")
    saved = tmp_path / "map.yaml"
    db = tmp_path / "w.duckdb"
    code, _, err = _run(
        db,
        "customers",
        str(path),
        "--map",
        "customer_id=ID",
        "--map",
        "email=Mail",
        "--default-region",
        "CZ",
        "--save-mapping",
        str(saved),
    )
    assert code == 0, err
    code, out, err = _run(db, "customers", str(path), "--mapping", str(saved), "-f", "json")
    assert code == 0, err
    assert json.loads(out)["unchanged"] == 1


def test_kill_9_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    customers, orders = _orders_files(tmp_path, 150_000)
    clean, killed = tmp_path / "clean.duckdb", tmp_path / "killed.duckdb"
    for db in (clean, killed):
        assert _run(db, "customers", str(customers))[0] == 0
    start = time.perf_counter()
    assert _run(clean, "orders", str(orders))[0] == 0
    duration = time.perf_counter() - start
    process = _cli(killed, "orders", str(orders))
    time.sleep(max(duration * 0.6, 0.3))
    process.send_signal(signal.SIGKILL)
    process.communicate()
    code, _, err = _run(killed, "orders", str(orders), "--format", "json")
    assert code == 0, err
    assert _state(killed) == _state(clean)
    assert _state(clean)[0] == 150_000
