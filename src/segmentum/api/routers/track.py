"""Tracked links: ``GET /r/{code}`` records the click (a ``message_clicked`` event and a
``link_clicks`` row) and redirects (302) to the destination with its UTM parameters. An
unknown code is a plain 404 page: the redirect never goes anywhere the store did not name."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep
from segmentum.service import tracking

router = APIRouter(tags=["tracked links"])


@router.get("/r/{code}", response_class=RedirectResponse, status_code=302)
async def follow(code: str, server: ServerDep) -> Response:
    def click() -> str:
        with server.locked() as ws:
            return tracking.record_click(ws, code)

    try:
        destination = await run_in_threadpool(click)
    except tracking.UnknownLinkError:
        return PlainTextResponse("This link is not known.", status_code=404)
    return RedirectResponse(destination, status_code=302, headers={"Cache-Control": "no-store"})
