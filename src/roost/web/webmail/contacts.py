"""The webmail's Contacts pages: the user's address books, as CardDAV serves them.

/mail/contacts                         the list: search box, group filter, books
/mail/contacts/new                     a new contact (GET the form, POST it)
/mail/contacts/c/{book}/{name}         a contact's form (GET), its change (POST)
/mail/contacts/c/{book}/{name}/delete  the confirmation (GET), the delete (POST)
/mail/contacts/c/{book}/{name}/export  the card as a .vcf file
/mail/contacts/export?book=            a whole address book as one .vcf file
/mail/contacts/import                  a .vcf file into a book (multipart form)

Reading, merging and writing cards is `roost.control.contacts`; the form
carries the card's ETag, so a change made meanwhile by a CardDAV client is
refused (412) with the user's input kept on the page, never overwritten.
The import form is a multipart upload (a file input, no script needed): it
is read here, within `[webmail] contacts_import_max_bytes`, because the
pages' form reader takes URL-encoded forms only.

Their stylesheet, `static/contacts.css`, is served with the webmail's other
static files (`pages.STATIC`).
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
from collections.abc import Sequence
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.contact_cards import (
    ADDRESS_TYPES,
    EMAIL_TYPES,
    PHONE_TYPES,
    Address,
    Contact,
    ContactFields,
    ContactRefused,
    Entry,
)
from roost.control.contacts import Contacts, ImportReport
from roost.control.groupware import Groupware
from roost.control.mail_view import content_disposition, safe_filename
from roost.core.errors import RoostError
from roost.store.groupware import Collection
from roost.store.webmail_sessions import WebmailSession
from roost.web.forms import (
    Form,
    PageError,
    same_origin,
    status_of,
    tokens_match,
)
from roost.web.webmail.pages import PAGE_HEADERS, MailRequest, Webmail

CONTACTS = "/mail/contacts"
NEW = f"{CONTACTS}/new"
IMPORT = f"{CONTACTS}/import"
EXPORT = f"{CONTACTS}/export"
ONE = f"{CONTACTS}/c"
VCARD_TYPE = "text/vcard; charset=utf-8"
MULTIPART_OVERHEAD_BYTES = 16_384
"""Room for the import form's boundaries, headers and other fields beside the file."""
MAX_PROBLEMS_SHOWN = 50
DONE = {
    "added": "The contact was added.",
    "saved": "Saved.",
    "deleted": "The contact was deleted.",
}
TYPE_WORDS = {"": "other", "home": "home", "work": "work", "cell": "mobile", "fax": "fax"}


def contact_url(contact: Contact, suffix: str = "") -> str:
    return f"{ONE}/{quote(contact.book, safe='')}/{quote(contact.name, safe='')}{suffix}"


def fields_from(form: Form) -> ContactFields:
    """The form's fields (rows are parallel lists: every row sends each of its fields)."""
    emails = tuple(
        Entry(ref, kind, value)
        for ref, kind, value in zip(
            form.all("email_ref"), form.all("email_type"), form.all("email"), strict=False
        )
    )
    phones = tuple(
        Entry(ref, kind, value)
        for ref, kind, value in zip(
            form.all("phone_ref"), form.all("phone_type"), form.all("phone"), strict=False
        )
    )
    columns = ("adr_ref", "adr_type", "street", "city", "region", "code", "country")
    addresses = tuple(
        Address(*(v.strip() for v in row))
        for row in zip(*(form.all(c) for c in columns), strict=False)
    )
    return ContactFields(
        full_name=form.get("full_name"),
        given=form.get("given"),
        family=form.get("family"),
        org=form.get("org"),
        title=form.get("title"),
        birthday=form.get("birthday"),
        note=form.get("note").replace("\r\n", "\n"),
        emails=emails,
        phones=phones,
        addresses=addresses,
        groups=tuple(g.strip() for g in form.get("groups").split(",") if g.strip()),
    )


def group_changes(form: Form) -> dict[str, bool]:
    """The group cards whose tick the user changed: the form names each card it
    showed with its state then (`name:1` or `name:0`), so a card added or
    changed meanwhile by another app is not touched."""
    ticked = set(form.all("group_card"))
    changes: dict[str, bool] = {}
    for shown in form.all("group_card_shown"):
        name, _, state = shown.rpartition(":")
        if name and (name in ticked) != (state == "1"):
            changes[name] = name in ticked
    return changes


def with_blank_rows(fields: ContactFields, rows: int = 1) -> ContactFields:
    """The form's fields with empty rows to fill in."""
    return ContactFields(
        **{
            **{k: getattr(fields, k) for k in ("full_name", "given", "family", "org", "title")},
            "birthday": fields.birthday,
            "note": fields.note,
            "emails": fields.emails + (Entry("", "", ""),) * rows,
            "phones": fields.phones + (Entry("", "cell", ""),) * rows,
            "addresses": fields.addresses
            + (Address("", "home"),) * (rows - 1 if fields.addresses else rows),
            "groups": fields.groups,
        }
    )


def contacts_routes(mail: Webmail) -> list[BaseRoute]:
    web = mail.web
    contacts = Contacts(web.store, Groupware(web.store, web.config.dav), mail.settings)
    css_url = mail.static_urls["contacts.css"]
    import_limit = mail.settings.contacts_import_max_bytes

    def render(
        page: MailRequest, template: str, context: dict[str, object], status: int = 200
    ) -> Response:
        return mail.render(
            template, {"contacts_css": css_url, **context}, session=page.session, status=status
        )

    async def show_list(page: MailRequest) -> Response:
        query = page.request.query_params.get("q", "")[:200]
        group = page.request.query_params.get("group", "")[:200]
        listing = await contacts.listing(page.session.account_id, query, group)
        context: dict[str, object] = {
            "title": "Contacts",
            "listing": listing,
            "query": query,
            "group": group,
            "done": DONE.get(page.request.query_params.get("done", ""), ""),
            "contact_url": contact_url,
            "type_words": TYPE_WORDS,
        }
        return render(page, "contacts.html", context)

    async def form_page(
        page: MailRequest,
        *,
        fields: ContactFields,
        contact: Contact | None,
        book: str,
        etag: str = "",
        message: str = "",
        status: int = 200,
        more: int = 1,
        chosen: frozenset[str] | None = None,
    ) -> Response:
        books, cards = await contacts.all_cards(page.session.account_id)
        group_cards = []
        known_groups: list[str] = []
        for card in cards:
            if card.is_group and card.book == book:
                member = contact is not None and contact.uid in card.members
                ticked = member if chosen is None else card.name in chosen
                group_cards.append((card.name, card.display_name, ticked, member))
            for name in card.fields.groups:
                if name not in known_groups:
                    known_groups.append(name)
        group_cards.sort(key=lambda g: g[1].casefold())
        context: dict[str, object] = {
            "title": contact.display_name if contact else "New contact",
            "contact": contact,
            "values": with_blank_rows(fields, more),
            "book": book,
            "books": books,
            "etag": etag,
            "message": message,
            "done": DONE.get(page.request.query_params.get("done", ""), ""),
            "action": contact_url(contact) if contact else NEW,
            "contact_url": contact_url,
            "email_types": EMAIL_TYPES,
            "phone_types": PHONE_TYPES,
            "address_types": ADDRESS_TYPES,
            "type_words": TYPE_WORDS,
            "group_cards": group_cards,
            "known_groups": sorted(known_groups, key=str.casefold),
        }
        return render(page, "contacts_form.html", context, status)

    async def show_new(page: MailRequest) -> Response:
        books = await contacts.books(page.session.account_id)
        if not books:
            raise PageError(
                409, "You have no address book (your app deleted it): make one there first."
            )
        wanted = page.request.query_params.get("book", "")
        book = next((b.name for b in books if b.name == wanted), books[0].name)
        return await form_page(page, fields=ContactFields(), contact=None, book=book)

    async def add(page: MailRequest) -> Response:
        return await submit(page, None, page.form.get("book"), "", "added")

    async def submit(
        page: MailRequest, contact: Contact | None, book: str, etag: str, done: str
    ) -> Response:
        """A new (`contact` None) or changed contact's form sent: saved, or shown
        again with more empty fields or with why it was refused."""
        fields = fields_from(page.form)
        again = functools.partial(
            form_page,
            page,
            fields=fields,
            contact=contact,
            book=book,
            etag=etag,
            chosen=frozenset(page.form.all("group_card")),
        )
        if page.form.get("action") == "more":
            return await again(more=2)
        name = contact.name if contact is not None else None
        try:
            saved = await contacts.save(page.session.account_id, book, name, fields, etag)
        except ContactRefused as refused:
            return await again(message=str(refused), status=refused.status)
        return await after_save(page, saved, group_changes(page.form), done)

    async def after_save(
        page: MailRequest, saved: Contact, changes: dict[str, bool], done: str
    ) -> Response:
        """The group cards' side of a save; the contact's page, or its form with
        what could not be changed."""
        problems = await contacts.set_group_cards(page.session.account_id, saved, changes)
        if problems:
            current = await contacts.contact(page.session.account_id, saved.book, saved.name)
            return await form_page(
                page,
                fields=current.fields,
                contact=current,
                book=current.book,
                etag=current.etag,
                message="The contact was saved. " + " ".join(problems),
                status=409,
            )
        return RedirectResponse(contact_url(saved) + f"?done={done}", status_code=303)

    async def show_one(page: MailRequest) -> Response:
        contact = await _contact(page)
        return await form_page(
            page, fields=contact.fields, contact=contact, book=contact.book, etag=contact.etag
        )

    async def save(page: MailRequest) -> Response:
        contact = await _contact(page)
        return await submit(page, contact, contact.book, page.form.get("etag"), "saved")

    async def _contact(page: MailRequest) -> Contact:
        params = page.request.path_params
        return await contacts.contact(page.session.account_id, params["book"], params["name"])

    async def confirm_delete(page: MailRequest) -> Response:
        contact = await _contact(page)
        context: dict[str, object] = {
            "title": f"Delete {contact.display_name}",
            "contact": contact,
            "message": "",
            "action": contact_url(contact, "/delete"),
            "back": contact_url(contact),
        }
        return render(page, "contacts_delete.html", context)

    async def delete(page: MailRequest) -> Response:
        contact = await _contact(page)
        try:
            await contacts.delete(
                page.session.account_id, contact.book, contact.name, page.form.get("etag")
            )
        except ContactRefused as refused:
            context: dict[str, object] = {
                "title": f"Delete {contact.display_name}",
                "contact": contact,
                "message": str(refused),
                "action": contact_url(contact, "/delete"),
                "back": contact_url(contact),
            }
            return render(page, "contacts_delete.html", context, refused.status)
        return RedirectResponse(f"{CONTACTS}?done=deleted", status_code=303)

    async def export_one(page: MailRequest) -> Response:
        contact = await _contact(page)
        text = await contacts.export(page.session.account_id, contact.book, contact.name)
        return _vcf(text, safe_filename(contact.display_name, "contact") + ".vcf")

    async def export_book(page: MailRequest) -> Response:
        book = page.request.query_params.get("book", "")
        collection = await contacts.book(page.session.account_id, book)
        text = await contacts.export(page.session.account_id, collection.name)
        return _vcf(text, safe_filename(collection.display_name, "contacts") + ".vcf")

    def import_page(
        session: WebmailSession,
        books: Sequence[Collection],
        *,
        report: ImportReport | None = None,
        message: str = "",
        status: int = 200,
    ) -> Response:
        problems = report.problems[:MAX_PROBLEMS_SHOWN] if report else []
        context: dict[str, object] = {
            "title": "Import contacts",
            "contacts_css": css_url,
            "books": books,
            "report": report,
            "problems": problems,
            "more_problems": len(report.problems) - len(problems) if report else 0,
            "message": message,
            "max_bytes": import_limit,
            "max_cards": mail.settings.contacts_import_max_cards,
        }
        return mail.render("contacts_import.html", context, session=session, status=status)

    async def show_import(page: MailRequest) -> Response:
        return import_page(page.session, await contacts.books(page.session.account_id))

    async def run_import(request: Request) -> Response:
        lookup = await mail.access.lookup(mail.current_cookie(request), activity=True)
        session = lookup.session
        if session is None:
            return mail.signed_out(request, expired=lookup.expired)
        books = await contacts.books(session.account_id)
        try:
            if not same_origin(request):
                raise PageError(403, mail.csrf_message)
            fields, data = await _read_upload(request, import_limit + MULTIPART_OVERHEAD_BYTES)
            if not tokens_match(fields.get("csrf", ""), session.csrf_token):
                raise PageError(403, mail.csrf_message)
            if data is None or not data:
                return import_page(
                    session, books, message="Choose a .vcf file to import.", status=400
                )
            report = await contacts.import_vcf(session.account_id, fields.get("book", ""), data)
        except ContactRefused as refused:
            return import_page(session, books, message=str(refused), status=refused.status)
        except PageError as exc:
            return mail.error_page(request, session, exc.status, exc.message)
        except RoostError as exc:
            return mail.error_page(request, session, status_of(exc), str(exc))
        return import_page(session, books, report=report)

    return [
        Route(CONTACTS, mail.page(show_list), methods=["GET"]),
        Route(NEW, mail.page(show_new), methods=["GET"]),
        Route(NEW, mail.page(add), methods=["POST"]),
        Route(IMPORT, mail.page(show_import), methods=["GET"]),
        Route(IMPORT, run_import, methods=["POST"]),
        Route(EXPORT, mail.page(export_book), methods=["GET"]),
        Route(ONE + "/{book}/{name}", mail.page(show_one), methods=["GET"]),
        Route(ONE + "/{book}/{name}", mail.page(save), methods=["POST"]),
        Route(ONE + "/{book}/{name}/delete", mail.page(confirm_delete), methods=["GET"]),
        Route(ONE + "/{book}/{name}/delete", mail.page(delete), methods=["POST"]),
        Route(ONE + "/{book}/{name}/export", mail.page(export_one), methods=["GET"]),
    ]


def _vcf(text: str, filename: str) -> Response:
    headers = {
        **PAGE_HEADERS,
        "Content-Disposition": content_disposition("attachment", filename),
        "X-Content-Type-Options": "nosniff",
    }
    return Response(text.encode("utf-8"), media_type=VCARD_TYPE, headers=headers)


def too_large(limit: int) -> str:
    return f"The file is larger than the {limit - MULTIPART_OVERHEAD_BYTES} bytes an import takes."


async def _read_upload(request: Request, limit: int) -> tuple[dict[str, str], bytes | None]:
    """A multipart/form-data body (RFC 7578) of at most `limit` bytes: its text
    fields, and the bytes of its one file field."""
    kind = request.headers.get("content-type", "")
    if kind.split(";")[0].strip().lower() != "multipart/form-data":
        raise PageError(415, "The import form is sent as multipart/form-data.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PageError(
            413,
            too_large(limit),
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PageError(
                413,
                too_large(limit),
            )
    head = f"Content-Type: {kind}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + bytes(body))
    if not message.is_multipart():
        raise PageError(400, "The import form could not be read.")
    fields: dict[str, str] = {}
    data: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        decoded = part.get_payload(decode=True)
        payload = decoded if isinstance(decoded, bytes) else b""
        if part.get_param("filename", header="content-disposition") is not None:
            data = payload if data is None else data
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    return fields, data
