"""Segments: CRUD, validate (every issue with its code and path), preview (count, sample,
sentence), explain for one customer, members by page, history, CSV export, SQL, refresh and
the ready-made library."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from segmentum.api.access import Marketer, Viewer
from segmentum.api.calls import Limit, Offset, Page, call, page, record
from segmentum.api.deps import ServerDep
from segmentum.api.errors import error_responses
from segmentum.service import browse, dashboard, library, membership
from segmentum.service import segments as segment_service
from segmentum.service.errors import ServiceError
from segmentum.service.segments import DefinitionSource, InvalidDefinitionError

router = APIRouter(prefix="/api/segments", tags=["segments"])
Name = Annotated[str, Query(pattern=segment_service.NAME_PATTERN)]
AsOf = Annotated[date | None, Query(description="evaluate at the end of this day")]
Columns = Annotated[list[str], Query(description="customer columns to include")]
NOT_FOUND = error_responses(400, 401, 403, 404)
#: Both forms of ``where`` (docs/segment-language.md); tests post each to /validate.
WHERE_EXAMPLES = [
    "orders(within 90d).count() >= 2 and lifecycle = active",
    {"all": [{"attribute": {"field": "country", "eq": "CZ"}}, {"subscription": "sms"}]},
]
#: The condition ``explain`` names the whole definition by: the root's JSON pointer.
ROOT_CONDITION = "/"


class Definition(BaseModel):
    """A definition in the text syntax (a string) or the JSON form (an object)."""

    model_config = ConfigDict(extra="forbid")
    where: str | dict[str, Any] = Field(examples=WHERE_EXAMPLES)

    def source(self) -> DefinitionSource:
        if isinstance(self.where, str):
            return DefinitionSource(text=self.where)
        return DefinitionSource(data={"where": self.where})


class SegmentIn(Definition):
    name: str = Field(pattern=segment_service.NAME_PATTERN, examples=["repeat_buyers"])
    description: str = Field("", max_length=2000)


class SegmentUpdate(Definition):
    description: str | None = Field(None, max_length=2000)


class PreviewIn(Definition):
    sample: int = Field(10, ge=0, le=100)
    as_of: date | None = None


class IssueOut(BaseModel):
    code: str
    path: str
    message: str


class Validation(BaseModel):
    valid: bool
    issues: list[IssueOut]
    sentence: str | None = None
    text: str | None = None


class PreviewOut(BaseModel):
    count: int = Field(examples=[4211])
    sample: list[str] = Field(examples=[["C000017", "C000042"]])
    sentence: str = Field(examples=["customers with at least 2 orders in the last 90 days"])
    as_of: str


class SegmentOut(BaseModel):
    name: str
    version: int
    description: str
    text: str
    sentence: str
    definition: Any


def _show(ws: Any, name: str) -> dict[str, Any]:
    shown: dict[str, Any] = segment_service.show_segment(ws, name)
    return shown


@router.get("", response_model=Page[dict[str, Any]], responses=error_responses(401, 422))
async def list_segments(
    server: ServerDep,
    who: Viewer,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
    live: Annotated[bool, Query(description="evaluate sizes now (slow on big bases)")] = False,
) -> dict[str, Any]:
    """Every segment with its size (at the last refresh, or now with ``live``), sentence and
    trend."""

    def read(ws: Any) -> list[dict[str, Any]]:
        rows = dashboard.segment_overview(ws)
        if live:
            sizes = {row["name"]: row["size"] for row in segment_service.list_segments(ws)}
            for row in rows:
                row["size"] = sizes.get(row["name"])
        return rows

    rows = await call(server, read)
    if q:
        rows = [row for row in rows if q.lower() in row["name"]]
    return page(rows[offset : offset + limit], len(rows), limit, offset)


@router.post(
    "",
    status_code=201,
    response_model=SegmentOut,
    responses=error_responses(400, 401, 403, 409, 422),
    openapi_extra={
        "responses": {
            "201": {
                "links": {
                    "GetSegment": {
                        "operationId": "get_segment",
                        "parameters": {"name": "$response.body#/name"},
                    },
                    "SegmentMembers": {
                        "operationId": "segment_members",
                        "parameters": {"name": "$response.body#/name"},
                    },
                }
            }
        }
    },
)
async def create_segment(body: SegmentIn, server: ServerDep, who: Marketer) -> dict[str, Any]:
    """Create a segment (409 if the name is taken; PUT changes one)."""

    def create(ws: Any) -> dict[str, Any]:
        if browse.segment_exists(ws, body.name):
            raise ServiceError(f"a segment named {body.name!r} exists already")
        stored = segment_service.create_segment(ws, body.name, body.source(), body.description)
        record(ws, who, "create", "segment", stored.name, {"version": stored.version})
        return _show(ws, stored.name)

    return await call(server, create)


@router.post("/validate", response_model=Validation, responses=error_responses(401, 422))
async def validate_segment(body: Definition, server: ServerDep, who: Viewer) -> Validation:
    """Check a definition: every problem with its stable code and its path in the document."""

    def check(ws: Any) -> Validation:
        from segmentum.spec.describe import describe
        from segmentum.spec.text import to_text

        try:
            node = segment_service.validate_definition(ws, body.source())
        except InvalidDefinitionError as invalid:
            issues = [IssueOut(code=i.code, path=i.path, message=i.message) for i in invalid.issues]
            return Validation(valid=False, issues=issues)
        return Validation(valid=True, issues=[], sentence=describe(node), text=to_text(node))

    return await call(server, check)


@router.post("/preview", response_model=PreviewOut, responses=error_responses(400, 401, 422))
async def preview_segment(body: PreviewIn, server: ServerDep, who: Viewer) -> PreviewOut:
    """Count the members a definition would have, with a sample and its sentence (400 with
    every issue when it is invalid)."""
    result = await call(
        server, lambda ws: segment_service.preview(ws, body.source(), body.as_of, body.sample)
    )
    return PreviewOut(
        count=result.count,
        sample=result.sample,
        sentence=result.sentence,
        as_of=result.as_of.isoformat(),
    )


@router.post("/refresh", responses=error_responses(400, 401, 403))
async def refresh_segments(
    server: ServerDep, who: Marketer, as_of: AsOf = None
) -> list[dict[str, Any]]:
    """Evaluate every segment, store members and log entries and exits."""

    def refresh(ws: Any) -> list[dict[str, Any]]:
        changes = membership.refresh_segments(ws, as_of)
        dashboard.clear_cache(ws)
        record(ws, who, "refresh", "segments", "*", {"segments": len(changes)})
        return changes

    rows: list[dict[str, Any]] = jsonable_encoder(await call(server, refresh))
    return rows


@router.get("/library", responses=error_responses(401))
async def library_list(server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """The ready-made definitions that can be installed."""
    return library.library_definitions()


@router.post("/library/install", responses=error_responses(401, 403))
async def library_install(server: ServerDep, who: Marketer) -> list[dict[str, Any]]:
    """Install every library segment that fits the workspace (and say why others do not)."""

    def install(ws: Any) -> list[dict[str, Any]]:
        report = library.install_library(ws)
        record(ws, who, "create", "segment_library", "*", {"installed": len(report)})
        return report

    return await call(server, install)


class ManualListIn(BaseModel):
    """The whole list: it replaces any list of that name (``manual_list`` conditions)."""

    model_config = ConfigDict(extra="forbid")
    customer_ids: list[Annotated[str, Field(max_length=200)]] = Field(
        max_length=100_000, examples=[["c01", "c27"]]
    )


@router.put("/lists/{list_name}", responses=error_responses(400, 401, 403, 422))
async def upload_list(
    list_name: Annotated[str, Path(max_length=200)],
    body: ManualListIn,
    server: ServerDep,
    who: Marketer,
) -> dict[str, Any]:
    """Upload a static list of customers (``segments upload-list``)."""

    def replace(ws: Any) -> dict[str, Any]:
        stored = segment_service.replace_manual_list(ws, list_name, body.customer_ids)
        record(ws, who, "change", "manual_list", list_name, {"customers": stored.customers})
        return {
            "list": list_name,
            "customers": stored.customers,
            "unknown": stored.unknown,
            "unknown_sample": list(stored.unknown_sample),
        }

    return await call(server, replace)


@router.get("/{name}", response_model=SegmentOut, responses=NOT_FOUND, operation_id="get_segment")
async def get_segment(name: str, server: ServerDep, who: Viewer) -> dict[str, Any]:
    return await call(server, lambda ws: _show(ws, name))


@router.put("/{name}", response_model=SegmentOut, responses=error_responses(400, 401, 403, 422))
async def put_segment(
    name: str, body: SegmentUpdate, server: ServerDep, who: Marketer
) -> dict[str, Any]:
    """Create or change a segment; a changed definition gets a new version."""

    def save(ws: Any) -> dict[str, Any]:
        existing = browse.segment_exists(ws, name)
        description = body.description
        if description is None:
            description = segment_service.show_segment(ws, name)["description"] if existing else ""
        stored = segment_service.create_segment(ws, name, body.source(), description)
        record(
            ws,
            who,
            "update" if existing else "create",
            "segment",
            name,
            {"version": stored.version},
        )
        return _show(ws, name)

    return await call(server, save)


@router.delete("/{name}", status_code=204, responses=NOT_FOUND)
async def delete_segment(name: str, server: ServerDep, who: Marketer) -> Response:
    def delete(ws: Any) -> None:
        segment_service.delete_segment(ws, name)
        record(ws, who, "delete", "segment", name)

    await call(server, delete)
    return Response(status_code=204)


@router.get("/{name}/explain/{customer_id}", responses=NOT_FOUND)
async def explain(
    name: str, customer_id: str, server: ServerDep, who: Viewer, as_of: AsOf = None
) -> dict[str, Any]:
    """Each condition's value for one customer: why they are (not) a member."""

    def run(ws: Any) -> dict[str, Any]:
        conditions = segment_service.explain(ws, name, customer_id, as_of)
        # the root's value; no row at all means outside the universe (e.g. signed up later)
        member = any(row["condition"] == ROOT_CONDITION and row["value"] for row in conditions)
        return {
            "segment": name,
            "customer_id": customer_id,
            "member": member,
            "conditions": conditions,
        }

    result: dict[str, Any] = jsonable_encoder(await call(server, run))
    return result


@router.get(
    "/{name}/members",
    response_model=Page[dict[str, Any]],
    responses=NOT_FOUND,
    operation_id="segment_members",
)
async def segment_members(
    name: str,
    server: ServerDep,
    who: Viewer,
    limit: Limit = 50,
    offset: Offset = 0,
    as_of: AsOf = None,
    columns: Columns = [],  # noqa: B006 (FastAPI copies defaults)
) -> dict[str, Any]:
    """Members now (or at ``as_of``), by customer id, one page at a time."""
    rows, total = await call(
        server,
        lambda ws: browse.member_page(
            ws, name, limit=limit, offset=offset, as_of=as_of, columns=tuple(columns)
        ),
    )
    return page(rows, total, limit, offset)


@router.get("/{name}/history", responses=NOT_FOUND)
async def history(name: str, server: ServerDep, who: Viewer) -> list[dict[str, Any]]:
    """Size after each refresh, with the entries and exits that made it."""
    rows: list[dict[str, Any]] = jsonable_encoder(
        await call(server, lambda ws: membership.segment_history(ws, name))
    )
    return rows


@router.get(
    "/{name}/export",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "members as CSV"}},
)
async def export(
    name: str,
    server: ServerDep,
    who: Marketer,
    as_of: AsOf = None,
    columns: Columns = [],  # noqa: B006
) -> Response:
    """Members with chosen customer columns as CSV (recorded in the audit log)."""

    def run(ws: Any) -> bytes:
        data, rows = browse.export_members_csv(ws, name, tuple(columns), as_of)
        record(ws, who, "export", "segment", name, {"rows": rows, "columns": list(columns)})
        return data

    data = await call(server, run)
    return Response(
        data,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/{name}/sql", responses=NOT_FOUND)
async def sql(
    name: str,
    server: ServerDep,
    who: Viewer,
    dialect: Literal["duckdb", "postgres", "pyspark"] = "duckdb",
    as_of: AsOf = None,
) -> dict[str, str]:
    """The SQL that selects the members, for the given engine's dialect, as of now or the
    end of ``as_of``."""
    text = await call(server, lambda ws: segment_service.segment_sql(ws, name, dialect, as_of))
    return {"segment": name, "dialect": dialect, "sql": text}
