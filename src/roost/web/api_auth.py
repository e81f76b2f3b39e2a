"""Who is calling the API: an admin's token, or the local CLI's token.

Tokens are sent as `Authorization: Bearer <token>`. An admin token's actor
is `admin:NAME (token T)`. The CLI's token lives in the data folder, so
whoever holds it can already read everything; it names the OS user in the
`X-Roost-User` header and becomes `cli:USER`. Web sessions of admins come
with the admin console.
"""

from __future__ import annotations

import hmac
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request

from roost.control.directory import Actor, hash_token
from roost.web.context import WebContext

CLI_USER_HEADER = "x-roost-user"
_USER_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


async def authenticate(request: Request, web: WebContext) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    source = request.client.host if request.client else None
    if scheme.lower() != "bearer" or not secret:
        raise HTTPException(401, "an API token is needed (Authorization: Bearer ...)")
    secret = secret.strip()
    if web.cli_token and hmac.compare_digest(secret.encode(), web.cli_token.encode()):
        user = request.headers.get(CLI_USER_HEADER, "unknown")
        return Actor(f"cli:{user if _USER_RE.match(user) else 'unknown'}", source)
    store = web.store
    token = await store.read(store.directory.token_by_hash, hash_token(secret))
    if token is None:
        raise HTTPException(401, "unknown or revoked API token")
    await store.write(store.directory.touch_token, token.id)
    return Actor(f"admin:{token.admin} (token {token.name})", source)
