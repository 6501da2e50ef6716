"""REST segments after the audit: explain answers the root's value as ``member``, every
OpenAPI example of ``where`` is a valid definition, and conditions nested too deeply are one
SEG010 issue (not a 500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from segmentum.spec.external import MAX_NESTING
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop, client_for, log_in

pytestmark = pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)

NESTING_MESSAGE = (
    "the condition is nested deeper than 100 levels (all, any and not inside one another)"
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_shop(Path(tmp_path_factory.mktemp("audit_rest_segments")))


@pytest.fixture(scope="module")
def marketer(db: str) -> Iterator[TestClient]:
    with client_for(db) as client:
        log_in(client, "marketer")
        for name, where in (
            ("not_vip", "not has_tag(vip)"),
            ("first_two", 'customer_id in ("C0000", "C0001")'),
        ):
            created = client.post("/api/segments", json={"name": name, "where": where})
            assert created.status_code == 201, created.text
        yield client


# --- explain: member is the value of the root condition "/" -----------------------------------

EXPLAIN_CASES = [
    ("vip", "C0000", True),
    ("vip", "C0005", True),
    ("not_vip", "C0000", False),
    ("first_two", "C0001", True),
    ("first_two", "C0002", False),
]


@pytest.mark.parametrize(("segment", "customer", "member"), EXPLAIN_CASES)
def test_explain_member_is_the_root_value(
    marketer: TestClient, segment: str, customer: str, member: bool
) -> None:
    answer = marketer.get(f"/api/segments/{segment}/explain/{customer}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["segment"] == segment
    assert body["customer_id"] == customer
    assert body["member"] is member
    root = {row["condition"]: row["value"] for row in body["conditions"]}["/"]
    assert root is member


def test_explain_member_matches_the_member_list(marketer: TestClient) -> None:
    members = marketer.get("/api/segments/first_two/members").json()["items"]
    assert [row["customer_id"] for row in members] == ["C0000", "C0001"]
    explained = {
        cid: marketer.get(f"/api/segments/first_two/explain/{cid}").json()["member"]
        for cid in ("C0000", "C0001", "C0002", "C0003", "C0004", "C0005")
    }
    assert explained == {
        "C0000": True,
        "C0001": True,
        "C0002": False,
        "C0003": False,
        "C0004": False,
        "C0005": False,
    }


# --- OpenAPI examples of `where` validate -----------------------------------------------------

SCHEMAS_WITH_WHERE = ("Definition", "SegmentIn", "SegmentUpdate", "PreviewIn")


def where_examples(client: TestClient) -> list[tuple[str, Any]]:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    found: list[tuple[str, Any]] = []
    for name in SCHEMAS_WITH_WHERE:
        examples = schemas[name]["properties"]["where"]["examples"]
        found.extend((name, example) for example in examples)
    return found


def test_every_schema_has_a_text_and_a_json_where_example(marketer: TestClient) -> None:
    found = where_examples(marketer)
    assert sorted({name for name, _ in found}) == sorted(SCHEMAS_WITH_WHERE)
    for schema in SCHEMAS_WITH_WHERE:
        kinds = sorted(type(example).__name__ for name, example in found if name == schema)
        assert kinds == ["dict", "str"], schema


def test_every_openapi_where_example_is_valid(marketer: TestClient) -> None:
    results = {}
    for schema, example in where_examples(marketer):
        answer = marketer.post("/api/segments/validate", json={"where": example})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        results[(schema, str(example))] = (body["valid"], body["issues"])
    assert results
    assert all(result == (True, []) for result in results.values()), results


def test_openapi_where_examples_read_back_as_text(marketer: TestClient) -> None:
    texts = {
        json.dumps(example, sort_keys=True): marketer.post(
            "/api/segments/validate", json={"where": example}
        ).json()["text"]
        for _, example in where_examples(marketer)
    }
    json_example = {
        "all": [{"attribute": {"field": "country", "eq": "CZ"}}, {"subscription": "sms"}]
    }
    assert texts == {
        '"orders(within 90d).count() >= 2 and lifecycle = active"': (
            "orders(within 90d).count() >= 2 and lifecycle = active"
        ),
        json.dumps(json_example, sort_keys=True): 'country = "CZ" and subscribed(sms)',
    }


# --- nesting limit: SEG010, never a 500 -------------------------------------------------------


def nested_not(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"has_tag": "vip"}
    for _ in range(levels):
        node = {"not": node}
    return node


def nested_all(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"has_tag": "vip"}
    for _ in range(levels):
        node = {"all": [node]}
    return node


DEEP_CASES: list[tuple[str, Any, str | None]] = [
    ("text_not_100", "not " * 100 + "has_tag(vip)", None),
    ("text_not_101", "not " * 101 + "has_tag(vip)", "/not" * 100),
    ("text_not_600", "not " * 600 + "has_tag(vip)", "/not" * 100),
    ("text_all_101", "all(" * 101 + "has_tag(vip)" + ")" * 101, "/all/0" * 100),
    ("text_parens_2000", "(" * 2000 + "has_tag(vip)" + ")" * 2000, None),
    ("json_not_100", nested_not(100), None),
    ("json_not_101", nested_not(101), "/not" * 100),
    ("json_not_600", nested_not(600), "/not" * 100),
    ("json_all_101", nested_all(101), "/all/0" * 100),
]


@pytest.mark.parametrize(
    ("where", "path"), [case[1:] for case in DEEP_CASES], ids=[case[0] for case in DEEP_CASES]
)
def test_validate_refuses_nesting_beyond_the_limit(
    marketer: TestClient, where: Any, path: str | None
) -> None:
    answer = marketer.post("/api/segments/validate", json={"where": where})
    assert answer.status_code == 200, answer.text[:300]
    body = answer.json()
    if path is None:
        assert (body["valid"], body["issues"]) == (True, [])
    else:
        assert body["valid"] is False
        assert body["issues"] == [{"code": "SEG010", "path": path, "message": NESTING_MESSAGE}]


@pytest.mark.parametrize(
    ("where", "path"), [case[1:] for case in DEEP_CASES], ids=[case[0] for case in DEEP_CASES]
)
def test_preview_refuses_nesting_beyond_the_limit(
    marketer: TestClient, where: Any, path: str | None
) -> None:
    answer = marketer.post("/api/segments/preview", json={"where": where, "sample": 1})
    if path is None:
        assert answer.status_code == 200, answer.text[:300]
        # an even number of `not` is everyone tagged vip; 2000 parentheses change nothing
        assert answer.json()["count"] == 6
        return
    assert answer.status_code == 400, answer.text[:300]
    body = answer.json()
    assert body["code"] == "invalid_definition"
    assert body["issues"] == [{"code": "SEG010", "path": path, "message": NESTING_MESSAGE}]


def test_the_limit_is_one_hundred() -> None:
    assert MAX_NESTING == 100
