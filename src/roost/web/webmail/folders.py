"""Folder changes: create, rename, delete.

Every change goes through `roost.control.mail_folders` (the Mail role), so
IMAP clients see it; the folder list itself is on the mailbox page (`messages`).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.mail_folders import MailFolders
from roost.web.forms import PageError
from roost.web.webmail.pages import HOME, MailRequest, Webmail


def folder_routes(mail: Webmail, folders: MailFolders) -> list[BaseRoute]:
    def back(done: str, folder: str = "INBOX") -> Response:
        return RedirectResponse(
            f"{HOME}?{urlencode({'folder': folder, 'done': done})}", status_code=303
        )

    async def create(page: MailRequest) -> Response:
        box = await folders.create(
            page.session.account_id, page.form.get("name"), page.form.get("parent")
        )
        return back("created", box.name)

    async def rename(page: MailRequest) -> Response:
        box = await folders.rename(
            page.session.account_id, page.form.get("folder"), page.form.get("name")
        )
        return back("renamed", box.name)

    async def delete(page: MailRequest) -> Response:
        if page.form.get("confirm") != "yes":
            raise PageError(
                400,
                "Deleting a folder deletes its messages for good: tick the box to confirm.",
            )
        await folders.delete(page.session.account_id, page.form.get("folder"))
        return back("deleted")

    return [
        Route("/mail/folders/create", mail.page(create), methods=["POST"]),
        Route("/mail/folders/rename", mail.page(rename), methods=["POST"]),
        Route("/mail/folders/delete", mail.page(delete), methods=["POST"]),
    ]
