"""The webmail under /mail: mail users sign in, manage their folders and messages.

Server-rendered pages (Jinja2) with one stylesheet and one small script of
our own, served from here; see `pages` for what every page shares. Its
sessions are its own (`roost.control.webmail_access`): the admin console's
cookie does not open it, nor its cookie the console.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.control.mail_folders import MailFolders
from roost.control.mail_list import MailList
from roost.control.mail_view import MailView
from roost.control.webmail_access import WebmailAccess
from roost.web.context import WebContext
from roost.web.webmail.calendar import calendar_routes
from roost.web.webmail.chat import chat_routes
from roost.web.webmail.compose import compose_pages
from roost.web.webmail.contacts import contacts_routes
from roost.web.webmail.folders import folder_routes
from roost.web.webmail.messages import mailbox_routes
from roost.web.webmail.notes import notes_routes
from roost.web.webmail.pages import Webmail
from roost.web.webmail.reading import reading_routes
from roost.web.webmail.search import search_routes
from roost.web.webmail.settings import settings_pages
from roost.web.webmail.signin import signin_routes
from roost.web.webmail.tasks import tasks_routes


def webmail_routes(web: WebContext, access: WebmailAccess) -> list[BaseRoute]:
    mail = Webmail(web, access)
    settings = access.settings
    folders = MailFolders(web.store, settings.max_folders)
    messages = MailList(
        web.store,
        settings.page_size,
        settings.summary_batch,
        settings.max_conversation,
        settings.conversation_max_walk,
        settings.thread_batch,
    )
    view = MailView(web.store, settings.max_view_chars, settings.max_image_senders)

    async def not_found(request: Request) -> Response:
        lookup = await access.lookup(mail.current_cookie(request), activity=False)
        return mail.error_page(
            request, lookup.session, 404, f"There is no page {request.url.path}."
        )

    return [
        *signin_routes(mail),
        *mailbox_routes(mail, folders, messages),
        *folder_routes(mail, folders),
        *reading_routes(mail, view, messages, access),
        *search_routes(mail),
        *chat_routes(mail, web.chat_tokens),
        *compose_pages(web, access),
        *settings_pages(web, mail),
        *calendar_routes(web, mail),
        *tasks_routes(web, mail),
        *contacts_routes(mail),
        *notes_routes(mail),
        Route("/mail/static/{name}", mail.static_file, methods=["GET"]),
        Route("/mail/{rest:path}", not_found),
    ]
