"""API-key authentication as a dependency: ``Depends(require_scope("marketer"))``.

The key comes in ``Authorization: Bearer <key>`` or as the HTTP Basic username (the Segment
convention for the write key: ``Basic base64("<key>:")``); both forms are accepted on every
endpoint. A missing, malformed, unknown or revoked key is 401 (with ``WWW-Authenticate``), a
valid key whose scope does not grant the endpoint's is 403. The key is never logged or echoed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from segmentum.api.deps import ServerDep
from segmentum.service import keys
from segmentum.service.keys import ForbiddenError, Principal
from segmentum.service.server import UnauthorizedError

CHALLENGE = {"WWW-Authenticate": 'Basic realm="segmentum", Bearer realm="segmentum"'}


def presented_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization`` header (Bearer, or the Basic username), or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username = decoded.partition(":")[0]
        return username or None
    return None


def require_scope(scope: str) -> Callable[[Request, ServerDep], Awaitable[Principal]]:
    """A dependency that answers 401/403 unless the request carries a key granting
    ``scope`` (read, ingest, marketer or admin; see `segmentum.service.keys.GRANTS`)."""
    if scope not in keys.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def authenticated(request: Request, server: ServerDep) -> Principal:
        key = presented_key(request.headers.get("authorization"))
        if key is None:
            raise HTTPException(
                401,
                "an API key is required: 'Authorization: Bearer <key>' or HTTP Basic with "
                "the key as the username",
                headers=CHALLENGE,
            )
        try:
            return await run_in_threadpool(keys.authenticate_on, server, key, scope)
        except UnauthorizedError as error:
            raise HTTPException(401, str(error), headers=CHALLENGE) from None
        except ForbiddenError as error:
            raise HTTPException(403, str(error)) from None

    authenticated.__name__ = f"require_{scope}"
    return authenticated


ReadKey = Annotated[Principal, Depends(require_scope("read"))]
IngestKey = Annotated[Principal, Depends(require_scope("ingest"))]
MarketerKey = Annotated[Principal, Depends(require_scope("marketer"))]
AdminKey = Annotated[Principal, Depends(require_scope("admin"))]
