"""The webmail's Notes pages: the user's notes folders and their notes.

/mail/notes?folder=                        the notes of a folder, newest first
/mail/notes/new?folder=                    a new note (GET the form, POST it)
/mail/notes/n/{folder}/{name}              a note's form (GET), its change (POST)
/mail/notes/n/{folder}/{name}/delete       the confirmation (GET), the delete (POST)
/mail/notes/folders                        a new folder (POST)
/mail/notes/folders/{folder}/rename        a folder's new name (POST)
/mail/notes/folders/{folder}/delete        the confirmation (GET), the delete (POST)

What a note is and how it is stored is `roost.control.notes`; the form
carries the note's ETag, so an edit made meanwhile in another window is
refused with the user's text kept on the page.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.notes import PALETTE, Note, NoteRefused, Notes
from roost.web.webmail.messages import short_date, user_zone
from roost.web.webmail.pages import MailRequest, Webmail

NOTES = "/mail/notes"
NEW = f"{NOTES}/new"
ONE = f"{NOTES}/n"
FOLDERS = f"{NOTES}/folders"
DONE = {
    "added": "The note was added.",
    "saved": "Saved.",
    "deleted": "The note was deleted.",
    "folder-added": "The folder was made.",
    "folder-renamed": "The folder was renamed.",
    "folder-deleted": "The folder was deleted.",
}


def note_url(note: Note, suffix: str = "") -> str:
    return f"{ONE}/{quote(note.folder, safe='')}/{quote(note.name, safe='')}{suffix}"


def folder_url(folder: str, done: str = "") -> str:
    query = {"folder": folder, **({"done": done} if done else {})}
    return f"{NOTES}?{urlencode(query)}"


def notes_routes(mail: Webmail) -> list[BaseRoute]:
    web = mail.web
    notes = Notes(web.store, mail.settings, web.config.dav)
    css_url = mail.static_urls["notes.css"]

    def render(
        page: MailRequest, template: str, context: dict[str, object], status: int = 200
    ) -> Response:
        return mail.render(
            template, {"notes_css": css_url, **context}, session=page.session, status=status
        )

    async def show_list(page: MailRequest, *, message: str = "", status: int = 200) -> Response:
        folder = page.request.query_params.get("folder", "")
        listing = await notes.listing(page.session.account_id, folder)
        zone = user_zone(page.request)
        now = web.store.clock.now()
        context: dict[str, object] = {
            "title": "Notes",
            "listing": listing,
            "when": {n.name: short_date(n.updated_at, now, zone) for n in listing.notes},
            "palette": PALETTE,
            "note_url": note_url,
            "message": message,
            "done": DONE.get(page.request.query_params.get("done", ""), ""),
        }
        return render(page, "notes.html", context, status)

    async def list_page(page: MailRequest) -> Response:
        return await show_list(page)

    def form_page(
        page: MailRequest,
        *,
        folder: str,
        note: Note | None,
        values: dict[str, str],
        message: str = "",
        status: int = 200,
    ) -> Response:
        context: dict[str, object] = {
            "title": (note.title if note else "New note"),
            "note": note,
            "folder": folder,
            "values": values,
            "palette": PALETTE,
            "max_chars": mail.settings.notes_max_chars,
            "action": note_url(note) if note else NEW,
            "delete_url": note_url(note, "/delete") if note else "",
            "back": folder_url(folder),
            "message": message,
            "done": DONE.get(page.request.query_params.get("done", ""), ""),
        }
        return render(page, "notes_form.html", context, status)

    def form_values(page: MailRequest) -> dict[str, str]:
        return {
            "title": page.form.get("title"),
            "text": page.form.get("text"),
            "colour": page.form.get("colour"),
            "etag": page.form.get("etag"),
        }

    async def show_new(page: MailRequest) -> Response:
        listing = await notes.listing(
            page.session.account_id, page.request.query_params.get("folder", "")
        )
        values = {"title": "", "text": "", "colour": "", "etag": ""}
        return form_page(page, folder=listing.folder.name, note=None, values=values)

    async def add(page: MailRequest) -> Response:
        folder = page.form.get("folder")
        values = form_values(page)
        try:
            made = await notes.save(
                page.session.account_id,
                folder,
                None,
                title=values["title"],
                text=values["text"],
                colour=values["colour"],
            )
        except NoteRefused as refused:
            return form_page(
                page,
                folder=folder,
                note=None,
                values=values,
                message=str(refused),
                status=refused.status,
            )
        return RedirectResponse(folder_url(made.folder, "added"), status_code=303)

    async def _note(page: MailRequest) -> Note:
        params = page.request.path_params
        return await notes.note(page.session.account_id, params["folder"], params["name"])

    async def show_one(page: MailRequest) -> Response:
        note = await _note(page)
        values = {"title": note.title, "text": note.text, "colour": note.colour, "etag": note.etag}
        return form_page(page, folder=note.folder, note=note, values=values)

    async def save(page: MailRequest) -> Response:
        note = await _note(page)
        values = form_values(page)
        try:
            saved = await notes.save(
                page.session.account_id,
                note.folder,
                note.name,
                title=values["title"],
                text=values["text"],
                colour=values["colour"],
                etag=values["etag"],
            )
        except NoteRefused as refused:
            return form_page(
                page,
                folder=note.folder,
                note=note,
                values=values,
                message=str(refused),
                status=refused.status,
            )
        return RedirectResponse(note_url(saved) + "?done=saved", status_code=303)

    def delete_page(
        page: MailRequest, note: Note, message: str = "", status: int = 200
    ) -> Response:
        context: dict[str, object] = {
            "title": f"Delete the note {note.title}",
            "what": f"the note “{note.title}”",
            "etag": note.etag,
            "action": note_url(note, "/delete"),
            "back": note_url(note),
            "message": message,
        }
        return render(page, "notes_delete.html", context, status)

    async def confirm_delete(page: MailRequest) -> Response:
        return delete_page(page, await _note(page))

    async def delete(page: MailRequest) -> Response:
        note = await _note(page)
        try:
            await notes.delete(
                page.session.account_id, note.folder, note.name, page.form.get("etag")
            )
        except NoteRefused as refused:
            return delete_page(page, note, str(refused), refused.status)
        return RedirectResponse(folder_url(note.folder, "deleted"), status_code=303)

    # --- folders

    async def add_folder(page: MailRequest) -> Response:
        try:
            made = await notes.add_folder(page.session.account_id, page.form.get("name"))
        except NoteRefused as refused:
            return await show_list(page, message=str(refused), status=refused.status)
        return RedirectResponse(folder_url(made.name, "folder-added"), status_code=303)

    async def rename_folder(page: MailRequest) -> Response:
        folder = page.request.path_params["folder"]
        try:
            await notes.rename_folder(page.session.account_id, folder, page.form.get("name"))
        except NoteRefused as refused:
            return await show_list(page, message=str(refused), status=refused.status)
        return RedirectResponse(folder_url(folder, "folder-renamed"), status_code=303)

    async def confirm_folder_delete(
        page: MailRequest, message: str = "", status: int = 200
    ) -> Response:
        folder = await notes.folder(page.session.account_id, page.request.path_params["folder"])
        listing = await notes.listing(page.session.account_id, folder.name)
        context: dict[str, object] = {
            "title": f"Delete the folder {folder.display_name}",
            "what": f"the folder “{folder.display_name}” and its {listing.total} note(s)",
            "etag": "",
            "action": f"{FOLDERS}/{quote(folder.name, safe='')}/delete",
            "back": folder_url(folder.name),
            "message": message,
        }
        return render(page, "notes_delete.html", context, status)

    async def show_folder_delete(page: MailRequest) -> Response:
        return await confirm_folder_delete(page)

    async def delete_folder(page: MailRequest) -> Response:
        try:
            await notes.delete_folder(page.session.account_id, page.request.path_params["folder"])
        except NoteRefused as refused:
            return await confirm_folder_delete(page, str(refused), refused.status)
        return RedirectResponse(f"{NOTES}?done=folder-deleted", status_code=303)

    return [
        Route(NOTES, mail.page(list_page), methods=["GET"]),
        Route(NEW, mail.page(show_new), methods=["GET"]),
        Route(NEW, mail.page(add), methods=["POST"]),
        Route(FOLDERS, mail.page(add_folder), methods=["POST"]),
        Route(FOLDERS + "/{folder}/rename", mail.page(rename_folder), methods=["POST"]),
        Route(FOLDERS + "/{folder}/delete", mail.page(show_folder_delete), methods=["GET"]),
        Route(FOLDERS + "/{folder}/delete", mail.page(delete_folder), methods=["POST"]),
        Route(ONE + "/{folder}/{name}", mail.page(show_one), methods=["GET"]),
        Route(ONE + "/{folder}/{name}", mail.page(save), methods=["POST"]),
        Route(ONE + "/{folder}/{name}/delete", mail.page(confirm_delete), methods=["GET"]),
        Route(ONE + "/{folder}/{name}/delete", mail.page(delete), methods=["POST"]),
    ]
