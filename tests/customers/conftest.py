"""A tiny workspace imported by hand through the importers: two customers, three orders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from segmentum.catalog.settings import WorkspaceSettings
from segmentum.service.imports import ImportOptions, import_file
from segmentum.service.workspace import Workspace

FILES: dict[str, str] = {
    "products": """product_id,name,category,brand,price,on_promo
P1,Trail Runner,sport shoes,Salomon,1299.00,false
P2,Oat Bars,food,Albert,49.90,true
""",
    "customers": """customer_id,signup_at,first_name,last_name,email,phone,country,timezone,language
C1,2025-01-05T10:00:00Z,Jana,Nováková,jana@example.cz,+420601123456,CZ,Europe/Prague,cs
C2,2025-02-01T08:00:00Z,Иван,Петров,,,RU,Europe/Moscow,ru
C3,2025-02-02T08:00:00Z,Anna,Nowak,anna@example.pl,,PL,Europe/Warsaw,pl
""",
    "orders": """order_id,customer_id,ordered_at,amount,currency,status,store
O1,C1,2025-03-01T09:30:00Z,1348.90,CZK,completed,e-shop
O2,C1,2025-06-10T18:00:00Z,99.80,CZK,cancelled,e-shop
O3,C2,2025-04-01T12:00:00Z,1299.00,CZK,completed,mobile app
""",
    "order_items": """order_id,product_id,quantity,unit_price
O1,P1,1,1299.00
O1,P2,1,49.90
O2,P2,2,49.90
O3,P1,1,1299.00
""",
    "returns": """return_id,order_id,customer_id,product_id,quantity,amount,returned_at,reason
R1,O1,C1,P2,1,49.90,2025-03-05T12:00:00Z,damaged
""",
    "events": """event_id,customer_id,type,occurred_at,properties
E1,C1,cart_updated,2025-03-01T09:00:00Z,"{""cart_id"":""K1"",""value"":1348.90}"
E2,C1,survey_response,2025-03-10T10:00:00Z,"{""survey_id"":""S1"",""csat"":5}"
E3,C2,support_ticket,2025-05-01T07:00:00Z,"{""ticket_id"":""T1"",""topic"":""delivery""}"
""",
    "subscriptions": """customer_id,channel,status,changed_at,source
C1,email,opted_in,2025-01-05T10:00:00Z,checkout
C1,sms,opted_out,2025-04-01T00:00:00Z,unsubscribe link
C2,email,pending,2025-02-01T08:00:00Z,
""",
}


@pytest.fixture
def tiny(workspace: Workspace, tmp_path: Path) -> Workspace:
    workspace.update_settings(WorkspaceSettings(timezone="Europe/Prague", currency="CZK"))
    for table, text in FILES.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        summary = import_file(workspace, table, path, ImportOptions())
        assert summary.rejected == 0, (table, summary.rejected_by_reason)
    return workspace


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``segmentum ARGS`` in-process like the console script: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        from segmentum.cli.app import main

        monkeypatch.setattr(sys, "argv", ["segmentum", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
