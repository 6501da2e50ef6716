"""One-click unsubscribe (RFC 8058): ``POST /unsubscribe/{token}`` with the body
``List-Unsubscribe=One-Click`` unsubscribes; ``GET`` shows a page whose button sends that POST
(a GET never changes anything: mail scanners follow links). ``/unsubscribe?token=...`` (the
form the SMTP channel's ``unsubscribe_url`` produces) works the same."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep
from segmentum.service.server import WebhookError

router = APIRouter(tags=["unsubscribe"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>{title}</title></head>
<body><main><h1>{title}</h1>{content}</main></body></html>
"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), content=content), status_code=status)


async def _confirm_page(token: str, server: ServerDep) -> HTMLResponse:
    try:
        request = await run_in_threadpool(server.check_unsubscribe, token)
    except WebhookError as error:
        return _page("Unsubscribe", f"<p>{escape(str(error))}</p>", error.status)
    what = {"sms": "text messages", "email": "e-mails", "web_push": "notifications"}
    channel = what.get(request.channel, escape(request.channel))
    form = (
        f"<p>Stop receiving our {channel}?</p>"
        '<form method="post">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", form)


async def _unsubscribe(token: str, request: Request, server: ServerDep) -> HTMLResponse:
    body = await request.body()
    try:
        await run_in_threadpool(server.unsubscribe, token, body)
    except WebhookError as error:
        return _page("Unsubscribe", f"<p>{escape(str(error))}</p>", error.status)
    return _page("Unsubscribed", "<p>You are unsubscribed. You will get no more of these.</p>")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def confirm(token: str, server: ServerDep) -> HTMLResponse:
    return await _confirm_page(token, server)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def one_click(token: str, request: Request, server: ServerDep) -> HTMLResponse:
    return await _unsubscribe(token, request, server)


@router.get("/unsubscribe", response_class=HTMLResponse)
async def confirm_query(token: str, server: ServerDep) -> HTMLResponse:
    return await _confirm_page(token, server)


@router.post("/unsubscribe", response_class=HTMLResponse)
async def one_click_query(token: str, request: Request, server: ServerDep) -> HTMLResponse:
    return await _unsubscribe(token, request, server)
