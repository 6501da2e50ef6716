from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.ingest.errors import IngestError
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.workspace import Workspace
from tests.ingest.conftest import FIXTURES, rows

EXPECTED_REJECTS = {
    (4, ("bad_email",)),
    (5, ("bad_phone",)),
    (6, ("bad_date",)),
    (7, ("unknown_timezone",)),
    (8, ("wrong_column_count",)),
    (9, ("missing_required",)),
    (10, ("duplicate_key_in_file",)),
    (11, ("value_too_long",)),
    (12, ("bad_bool",)),
    (13, ("bad_country",)),
    (14, ("bad_country", "bad_email", "bad_phone")),
    (15, ("unknown_lead_stage",)),
    (16, ("wrong_column_count",)),
}
CZ = ImportOptions(default_region="CZ")


def _mixed(tmp_path: Path) -> Path:
    path = tmp_path / "customers.csv"
    shutil.copy(FIXTURES / "customers_mixed.csv", path)
    return path


def test_mixed_file_loads_valid_rows_and_quarantines_every_bad_one(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = _mixed(tmp_path)
    summary = import_file(workspace, "customers", path, CZ)
    assert (summary.loaded, summary.updated, summary.unchanged, summary.rejected) == (4, 0, 0, 13)
    assert summary.rejected_by_reason["wrong_column_count"] == 2
    assert summary.rejected_by_reason["bad_email"] == 2
    quarantined = rows(
        workspace, "SELECT row_number, reasons FROM quarantine WHERE table_name = 'customers'"
    )
    assert {(row, tuple(reasons.split(";"))) for row, reasons in quarantined} == EXPECTED_REJECTS
    loaded = rows(
        workspace,
        "SELECT customer_id, first_name, email, phone, country, timezone, signup_at, "
        "signup_date, birth_date, loyalty_member, tags FROM customers ORDER BY customer_id",
    )
    assert loaded[0] == (
        "c001",
        "=SUM(A1)",
        "jan@example.cz",
        "+420603123456",
        "CZ",
        "Europe/Prague",
        dt.datetime(2024, 1, 15),
        dt.date(2024, 1, 15),
        dt.date(1990, 5, 1),
        True,
        ["vip", "promo"],
    )
    assert loaded[1] == (
        "c002",
        "Иван",
        "ivan@example.ru",
        "+79123456789",
        "RU",
        "Europe/Moscow",
        dt.datetime(2024, 2, 1, 7, 0),
        dt.date(2024, 2, 1),
        None,
        False,
        ["a", "b"],
    )
    assert loaded[2][0] == "c003"
    assert loaded[2][1].replace("\r\n", "\n") == "Žluťoučký\nkůň"
    assert loaded[2][4] == "CZ"
    assert loaded[3][:5] == ("c017", "OK", "ok@example.com", None, "DE")
    rejects = path.with_name("customers.csv.rejected.csv").read_text(encoding="utf-8")
    assert rejects.splitlines()[0].startswith('"row_number","reasons","customer_id"')
    assert len([line for line in rejects.splitlines() if line.startswith(("4,", "16,"))]) == 2
    assert summary.rejects_path == path.with_name("customers.csv.rejected.csv")


def test_reimport_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = _mixed(tmp_path)
    import_file(workspace, "customers", path, CZ)
    again = import_file(workspace, "customers", path, CZ)
    assert (again.loaded, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 13)
    assert rows(workspace, "SELECT count(*) FROM customers") == [(4,)]


def test_upsert_replaces_present_columns_and_keeps_absent_ones(workspace: Workspace, write) -> None:
    first = write("a.csv", "customer_id,email,city\nc1,a@x.cz,Praha\nc2,b@x.cz,Brno\n")
    second = write("b.csv", "customer_id,email,city\nc1,new@x.cz,\nc2,b@x.cz,Brno\n")
    third = write("c.csv", "customer_id,first_name\nc1,Jan\n")
    assert import_file(workspace, "customers", first, ImportOptions()).loaded == 2
    summary = import_file(workspace, "customers", second, ImportOptions())
    assert (summary.loaded, summary.updated, summary.unchanged) == (0, 1, 1)
    summary = import_file(workspace, "customers", third, ImportOptions())
    assert (summary.loaded, summary.updated, summary.unchanged) == (0, 1, 0)
    assert rows(
        workspace, "SELECT customer_id, email, city, first_name FROM customers ORDER BY 1"
    ) == [("c1", "new@x.cz", None, "Jan"), ("c2", "b@x.cz", "Brno", None)]


def test_cp1251_without_encoding_fails_before_loading_and_names_it(
    workspace: Workspace, write
) -> None:
    path = write("ru.csv", "customer_id;first_name\nc1;Иван\nc2;Пётр Сергеевич\n", "cp1251")
    with pytest.raises(IngestError, match="cp1251"):
        import_file(workspace, "customers", path, ImportOptions())
    assert rows(workspace, "SELECT count(*) FROM customers") == [(0,)]
    assert rows(workspace, "SELECT count(*) FROM imports") == [(0,)]
    summary = import_file(workspace, "customers", path, ImportOptions(encoding="cp1251"))
    assert summary.loaded == 2
    assert rows(workspace, "SELECT first_name FROM customers ORDER BY 1") == [
        ("Иван",),
        ("Пётр Сергеевич",),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer_id,email\n", "(0,)"),
        ("email\nx@y.cz\n", "no column for customer_id"),
    ],
)
def test_file_level_problems(workspace: Workspace, write, text: str, expected: str) -> None:
    path = write("f.csv", text)
    if expected.startswith("("):
        assert import_file(workspace, "customers", path, ImportOptions()).loaded == 0
    else:
        with pytest.raises(IngestError, match=expected):
            import_file(workspace, "customers", path, ImportOptions())


def test_column_mapping_and_semicolon_tags(workspace: Workspace, write) -> None:
    path = write("m.csv", "ID\tE-mail\tŠtítky\nc1\tA@B.CZ\tx ; y|z\n")
    options = ImportOptions(mapping={"customer_id": "ID", "email": "E-mail", "tags": "Štítky"})
    assert import_file(workspace, "customers", path, options).loaded == 1
    assert rows(workspace, "SELECT customer_id, email, tags FROM customers") == [
        ("c1", "a@b.cz", ["x", "y", "z"])
    ]


def test_custom_attributes_import_like_columns(workspace: Workspace, write) -> None:
    data = workspace.settings.model_dump(mode="json")
    data["customer_attributes"] = {"shoe_size": "number", "vip_since": "date"}
    settings = WorkspaceSettings.model_validate(data)
    workspace.update_settings(settings)
    path = write("c.csv", "customer_id,shoe_size,vip_since\nc1,42.5,2020-02-02\nc2,big,\n")
    summary = import_file(workspace, "customers", path, ImportOptions())
    assert (summary.loaded, summary.rejected_by_reason) == (1, {"bad_number": 1})
    assert rows(workspace, "SELECT shoe_size, vip_since FROM customers") == [
        (42.5, dt.date(2020, 2, 2))
    ]
