"""`segmentum clv` end to end on a small demo shop: summary, fit (the JSON shape of the
issue), predictions (stored for segments), refresh, validate with its chart, and a predictive
segment through the segment commands."""

from __future__ import annotations

import json
import warnings
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from segmentum.cli.app import app
from segmentum.compiler import compile_segments
from segmentum.service.clock import resolve_as_of
from segmentum.service.workspace import Workspace
from segmentum.spec.text import parse_text

AS_OF = "2025-06-30"


def run(db: Path, *args: str) -> tuple[str, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    if result.exit_code != 0:
        raise AssertionError(f"{args}: {result.stderr} {result.exception!r}")
    return result.stdout, result.stderr


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("clv") / "shop.duckdb"
    run(db, "demo", "--customers", "600", "--orders", "6000", "--end", AS_OF)
    return db


def test_summary_is_lifetimes_shaped(shop: Path) -> None:
    out, _ = run(shop, "clv", "summary", "--as-of", AS_OF, "--period", "W", "-f", "json")
    rows = json.loads(out)
    assert rows
    assert list(rows[0]) == ["customer_id", "frequency", "recency", "T", "monetary"]
    assert all(0 <= row["recency"] <= row["T"] for row in rows)
    assert all((row["monetary"] == 0) == (row["frequency"] == 0) for row in rows)
    assert [row["customer_id"] for row in rows] == sorted(row["customer_id"] for row in rows)


def test_fit_prints_the_issue_shape_and_predictions_use_it(shop: Path) -> None:
    out, _ = run(shop, "clv", "fit", "--as-of", AS_OF, "--period", "W", "--format", "json")
    document = json.loads(out)
    assert list(document) == ["as_of", "period", "bgnbd", "gamma_gamma"]
    assert document["as_of"] == AS_OF
    assert document["period"] == "W"
    assert list(document["bgnbd"]) == ["r", "alpha", "a", "b", "log_likelihood"]
    assert list(document["gamma_gamma"]) == ["p", "q", "v", "log_likelihood"]
    for model in ("bgnbd", "gamma_gamma"):
        for name, value in document[model].items():
            if name == "log_likelihood":
                assert value < 0
            else:
                assert list(value) == ["value", "se"]
                assert value["value"] > 0
                assert value["se"] > 0
    out, err = run(shop, "clv", "--horizon", "180", "--discount-rate", "0.08", "-f", "json")
    predictions = json.loads(out)
    assert list(predictions[0]) == [
        "customer_id",
        "p_alive",
        "expected_purchases",
        "expected_aov",
        "clv",
    ]
    assert all(0 <= row["p_alive"] <= 1 and row["clv"] >= 0 for row in predictions)
    assert f"model of {AS_OF} (W)" in err


def test_predictive_segment_after_refresh(shop: Path) -> None:
    out, _ = run(shop, "clv", "refresh", "--as-of", AS_OF, "-f", "json")
    refreshed = json.loads(out)
    assert refreshed["period"] == "D"
    assert refreshed["customers"] > 0
    out, _ = run(shop, "clv", "-f", "json")
    predictions = {row["customer_id"]: row for row in json.loads(out)}
    ws = Workspace.open(str(shop))
    try:
        instant = resolve_as_of(date(2025, 6, 30), ws.settings.timezone)
        definition = {"slipping": parse_text("p_alive < 0.3")}
        result = compile_segments(definition, ws.catalog, ws.settings, ws.tables(), instant)
        got = {row["customer_id"] for row in result.to_pyarrow().to_pylist() if row["slipping"]}
    finally:
        ws.close()
    expected = {cid for cid, row in predictions.items() if row["p_alive"] < 0.3}
    assert got == expected
    assert expected  # some customers have slipped away in a three-year demo


def test_validate_prints_groups_and_writes_a_chart(shop: Path, tmp_path: Path) -> None:
    chart = tmp_path / "holdout.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out, _ = run(
            shop,
            "clv",
            "validate",
            "--calibration-end",
            "2025-01-31",
            "--as-of",
            AS_OF,
            "--period",
            "W",
            "--html",
            str(chart),
            "-f",
            "json",
        )
    groups = json.loads(out)
    assert next(row["frequency"] for row in groups) == "0"
    assert groups[-1]["frequency"] == "all"
    total = groups[-1]
    assert total["predicted"] == pytest.approx(total["actual"], rel=0.35)
    html = chart.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in html
    assert "<script src=" not in html
    assert len(html) > 1_000_000  # plotly.js inlined: the chart opens offline


def test_predictions_need_a_fit(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--db", str(tmp_path / "empty.duckdb"), "clv"])
    assert result.exit_code != 0
    assert "clv fit" in str(result.exception)
