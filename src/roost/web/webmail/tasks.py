"""The webmail's tasks under /mail/tasks.

/mail/tasks(?done=show)     open tasks by due date (and the done ones, on request)
/mail/tasks/new             the form for a new task
/mail/tasks/edit?list=&uid= the form for a change
/mail/tasks/done            (POST) tick or untick a task
/mail/tasks/delete          (POST) delete a task

The rules (done and not done, repeating tasks, priorities) are
`roost.control.tasks`; this module reads forms and renders pages.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.control.calendar_forms import CalendarRefused, parse_task_form
from roost.control.tasks import Tasks, due_text, task_values
from roost.web.context import WebContext
from roost.web.forms import PageError
from roost.web.webmail.calendar import CalendarPages, colours_url, refused_status, submitted
from roost.web.webmail.pages import MailRequest, Webmail

TASKS = "/mail/tasks"
TASK_FIELDS = (
    "title", "due_date", "due_time", "priority", "description", "list", "repeat", "count",
    "until",
)  # fmt: skip
DONE_MESSAGES = {"saved": "Saved.", "deleted": "Deleted.", "done": "Done.", "open": "Open again."}


def tasks_routes(web: WebContext, mail: Webmail) -> list[BaseRoute]:
    pages = CalendarPages.of(web, mail)
    calendars, zone_of = pages.calendars, pages.zone_of
    max_listed = web.config.webmail.tasks_max_listed
    tasks = Tasks(calendars, web.store, web.store.clock, max_listed=max_listed)

    async def show(page: MailRequest) -> Response:
        zone = await zone_of(page)
        show_done = page.request.query_params.get("done") == "show"
        listed = await tasks.tasks(page.session.address, zone, show_done=show_done)
        today = web.store.clock.now().astimezone(zone).date()
        notice = DONE_MESSAGES.get(page.request.query_params.get("notice", ""), "")
        moved = page.request.query_params.get("next", "")
        context: dict[str, object] = {
            "title": "Tasks",
            "listed": listed,
            "show_done": show_done,
            "due_text": lambda row: due_text(row.due, today),
            "colours_url": colours_url(await calendars.calendars(page.session.address, "")),
            "notice": notice,
            "moved": moved[:40],
            "here": TASKS + ("?done=show" if show_done else ""),
        }
        return pages.render(page, "tasks.html", context)

    async def form_page(
        page: MailRequest,
        values: dict[str, str],
        *,
        action: str,
        hidden: dict[str, str],
        heading: str,
        message: str = "",
        status: int = 200,
    ) -> Response:
        return await pages.form_page(
            page,
            "tasks_form.html",
            values,
            action=action,
            hidden=hidden,
            heading=heading,
            message=message,
            status=status,
            lists=await tasks.lists(page.session.address),
        )

    async def new_form(page: MailRequest) -> Response:
        values = {name: "" for name in TASK_FIELDS} | {
            "priority": "normal",
            "list": "tasks",
            "repeat": "none",
        }
        return await form_page(page, values, action=f"{TASKS}/new", hidden={}, heading="New task")

    async def create(page: MailRequest) -> Response:
        values = submitted(page, TASK_FIELDS)
        zone = await zone_of(page)
        try:
            await tasks.create(page.session.address, parse_task_form(values, zone), zone)
        except CalendarRefused as refused:
            return await form_page(
                page,
                values,
                action=f"{TASKS}/new",
                hidden={},
                heading="New task",
                message=str(refused),
                status=400,
            )
        return RedirectResponse(f"{TASKS}?notice=saved", status_code=303)

    async def edit_form(page: MailRequest) -> Response:
        query = page.request.query_params
        task_list, uid = query.get("list", ""), query.get("uid", "")
        try:
            stored = await tasks.task(page.session.address, task_list, uid)
        except CalendarRefused as refused:
            raise PageError(404, str(refused)) from None
        master = stored.master()
        assert master is not None
        values = task_values(master, await zone_of(page), task_list)
        hidden = {"list_was": task_list, "uid": uid, "etag": stored.item.etag}
        return await form_page(
            page, values, action=f"{TASKS}/edit", hidden=hidden, heading="Change the task"
        )

    async def update(page: MailRequest) -> Response:
        values = submitted(page, TASK_FIELDS)
        hidden = submitted(page, ("list_was", "uid", "etag"))
        zone = await zone_of(page)
        try:
            form = parse_task_form(values, zone)
            await tasks.update(
                page.session.address, hidden["list_was"], hidden["uid"], hidden["etag"], form, zone
            )
        except CalendarRefused as refused:
            return await form_page(
                page,
                values,
                action=f"{TASKS}/edit",
                hidden=hidden,
                heading="Change the task",
                message=str(refused),
                status=refused_status(refused),
            )
        return RedirectResponse(f"{TASKS}?notice=saved", status_code=303)

    def back_to(page: MailRequest, notice: str, **extra: str) -> Response:
        query = {"notice": notice, **extra}
        if page.form.get("show_done") == "yes":
            query["done"] = "show"
        return RedirectResponse(f"{TASKS}?{urlencode(query)}", status_code=303)

    async def mark(page: MailRequest) -> Response:
        form = page.form
        done = form.get("done") == "yes"
        try:
            marked = await tasks.mark(
                page.session.address, form.get("list"), form.get("uid"), form.get("etag"), done=done
            )
        except CalendarRefused as refused:
            raise PageError(refused_status(refused), str(refused)) from None
        if marked.next_due is not None:
            return back_to(page, "done", next=marked.next_due.isoformat()[:16])
        return back_to(page, "done" if done else "open")

    async def delete(page: MailRequest) -> Response:
        form = page.form
        try:
            await tasks.delete(
                page.session.address, form.get("list"), form.get("uid"), form.get("etag")
            )
        except CalendarRefused as refused:
            raise PageError(refused_status(refused), str(refused)) from None
        return back_to(page, "deleted")

    return [
        Route(TASKS, mail.page(show), methods=["GET"]),
        Route(f"{TASKS}/new", mail.page(new_form), methods=["GET"]),
        Route(f"{TASKS}/new", mail.page(create), methods=["POST"]),
        Route(f"{TASKS}/edit", mail.page(edit_form), methods=["GET"]),
        Route(f"{TASKS}/edit", mail.page(update), methods=["POST"]),
        Route(f"{TASKS}/done", mail.page(mark), methods=["POST"]),
        Route(f"{TASKS}/delete", mail.page(delete), methods=["POST"]),
    ]
