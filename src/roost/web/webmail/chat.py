"""The web chat: the chat page and the token that signs its script in to XMPP.

The chat is our own script (`static/chat.js`), loaded on every webmail page
(`templates/base.html`): it speaks XMPP over WebSocket (RFC 7395) to the
XMPP service at ``/xmpp-websocket`` on this same listener, signed in with a
chat token from ``POST /mail/chat/token`` (`roost.control.chat_tokens`:
single use, short-lived, accepted only on the WebSocket from this origin),
so that no page ever holds the password. ``/mail/chat`` is the full panel:
contacts with presence, conversations, history from the archive, and group
rooms (XEP-0045 on the domain's ``conference.`` service, bookmarked in PEP
as XEP-0402 says); every other page shows the chat link with its unread
count and a notice when a message comes in.

Moving between pages keeps the user available: the script enables XEP-0198
stream management with resumption and keeps the stream's id and counters
in the tab's ``sessionStorage``. A page that goes away drops its WebSocket
without ``<close/>``; the XMPP service parks the session (``[xmpp]
resume_timeout_s``), still bound, still available and still receiving;
the next page gets a new token, signs in and resumes it, and the stanzas
that came meanwhile arrive then. One connection in a SharedWorker was the
other way; Chromium ends a SharedWorker as soon as its last page goes, so
a user with one tab would drop off at every click.

The token route is a background request (JSON): it does not keep the
webmail session alive by itself. The token ties the XMPP session to this
webmail session: when the webmail session ends, the server ends the chat
(`roost.control.webmail_access`), whatever the page does.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.chat_tokens import ChatTokens
from roost.web.forms import PageError
from roost.web.webmail.pages import MailRequest, Webmail

CHAT = "/mail/chat"
WEBSOCKET_PATH = "/xmpp-websocket"
"""Where the XMPP service serves RFC 7395 on this listener (registered by the service)."""


def chat_routes(mail: Webmail, tokens: ChatTokens | None) -> list[BaseRoute]:
    def tokens_or_404() -> ChatTokens:
        if tokens is None:
            raise PageError(404, "There is no chat on this server.")
        return tokens

    async def chat_page(page: MailRequest) -> Response:
        tokens_or_404()
        return mail.render("chat.html", {"title": "Chat"}, session=page.session)

    async def chat_token(page: MailRequest) -> Response:
        issued = await tokens_or_404().issue(page.session)
        return JSONResponse(
            {
                "jid": page.session.address,
                "token": issued.token,
                "expires_in_s": tokens_or_404().ttl_s,
                "websocket": WEBSOCKET_PATH,
            },
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route(CHAT, mail.page(chat_page), methods=["GET"]),
        Route(f"{CHAT}/token", mail.page(chat_token), methods=["POST"]),
    ]
