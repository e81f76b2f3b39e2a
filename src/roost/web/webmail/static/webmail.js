// Roost Mail: a little of our own script; every page works without it.
"use strict";

// The user's time zone, so that the server shows dates in it.
(() => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && !document.cookie.split("; ").includes("roost_tz=" + encodeURIComponent(zone))) {
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "roost_tz=" + encodeURIComponent(zone) + "; Path=/; Max-Age=31536000; SameSite=Strict" + secure;
  }
})();

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// The message list. Rows are looked up when a key is pressed, not kept: the list
// replaces its rows by itself when the folder changes (see the poll below). A row
// is a message, or in the conversation view a conversation (its box names the
// conversation, and the server acts on all its messages).
const TICKS = 'input[name="uid"], input[name="conversation"]';
const list = () => document.getElementById("list");
const boxes = () => {
  const form = list();
  return form ? Array.from(form.querySelectorAll(TICKS)) : [];
};
const tickOf = (row) => row.querySelector(TICKS);
const rows = () => {
  const form = list();
  return form ? Array.from(form.querySelectorAll("tbody tr")) : [];
};
let currentUid = null;

document.addEventListener("change", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.id === "tick-page") {
    for (const box of boxes()) {
      box.checked = event.target.checked;
    }
  }
});

const focusRow = (step) => {
  const all = rows();
  if (!all.length) {
    return;
  }
  let at = all.findIndex((row) => row.dataset.uid === currentUid);
  for (const row of all) {
    row.classList.remove("current-row");
  }
  at = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, at + step));
  all[at].classList.add("current-row");
  all[at].scrollIntoView({ block: "nearest" });
  currentUid = all[at].dataset.uid;
};
const currentRow = () => rows().find((row) => row.dataset.uid === currentUid);

// "/" puts the cursor in the search box of the page's header, on every page,
// unless the user is typing somewhere.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  if (
    (target instanceof HTMLInputElement && target.type !== "checkbox") ||
    target instanceof HTMLTextAreaElement ||
    target instanceof HTMLSelectElement ||
    (target instanceof HTMLElement && target.isContentEditable)
  ) {
    return;
  }
  const box = document.getElementById("search-q");
  if (box instanceof HTMLInputElement) {
    event.preventDefault();
    box.focus();
    box.select();
  }
});

// Keyboard (listed in docs/webmail.md and on the page): j/k move, x ticks, o or
// Enter opens, and the toolbar's keys act on the ticked rows or the current one.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (!list() || event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  if (target instanceof HTMLInputElement && target.type !== "checkbox") {
    return;
  }
  if (target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) {
    return;
  }
  const button = list().querySelector(`button[data-key="${CSS.escape(event.key)}"]`);
  if (event.key === "j") {
    focusRow(1);
  } else if (event.key === "k") {
    focusRow(-1);
  } else if (event.key === "x" && currentRow()) {
    const box = tickOf(currentRow());
    box.checked = !box.checked;
  } else if ((event.key === "o" || event.key === "Enter") && currentRow()) {
    currentRow().querySelector("td.subject a").click();
  } else if (button) {
    if (currentRow() && !boxes().some((box) => box.checked)) {
      tickOf(currentRow()).checked = true;
    }
    if (boxes().some((box) => box.checked)) {
      button.click();
    }
  } else {
    return;
  }
  event.preventDefault();
});

// The list follows its folders: it asks for their state every few seconds (a
// request that does not keep the session alive) and, when it changed, fetches
// this page again and swaps its parts in, keeping what was ticked.
const SWAPPED = ["nav.folders", "p.counts", "p.waiting", "#list", "nav.pages"];

const busy = () => {
  const active = document.activeElement;
  const form = list();
  return (
    form !== null &&
    form.contains(active) &&
    (active instanceof HTMLSelectElement || (active instanceof HTMLInputElement && active.type !== "checkbox"))
  );
};

const refresh = async (mailbox) => {
  const response = await fetch(location.href, {
    headers: { Accept: "text/html", "X-Roost-Background": "1" },
    credentials: "same-origin",
  });
  if (!response.ok) {
    return;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  const next = fresh.getElementById("mailbox");
  if (!next) {
    return;
  }
  const ticked = new Set(boxes().filter((box) => box.checked).map((box) => box.name + ":" + box.value));
  const all = document.getElementById("all-in-folder");
  const allTicked = all instanceof HTMLInputElement && all.checked;
  for (const selector of SWAPPED) {
    const old = mailbox.querySelector(selector);
    const made = next.querySelector(selector);
    if (old && made) {
      old.replaceWith(document.importNode(made, true));
    } else if (old) {
      old.remove();
    } else if (made && list()) {
      list().before(document.importNode(made, true));
    }
  }
  for (const box of boxes()) {
    box.checked = ticked.has(box.name + ":" + box.value);
  }
  const allAgain = document.getElementById("all-in-folder");
  if (allAgain instanceof HTMLInputElement) {
    allAgain.checked = allTicked;
  }
  const row = currentRow();
  if (row) {
    row.classList.add("current-row");
  }
  mailbox.dataset.state = next.dataset.state;
};

document.addEventListener("DOMContentLoaded", () => {
  const mailbox = document.getElementById("mailbox");
  if (!mailbox || !mailbox.dataset.stateUrl) {
    return;
  }
  const every = Number(mailbox.dataset.pollMs) || 4000;
  const poll = async () => {
    try {
      const response = await fetch(mailbox.dataset.stateUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.status === 401) {
        return; // signed out: the next click shows the sign-in page
      }
      if (response.ok) {
        const { state } = await response.json();
        if (state !== mailbox.dataset.state && !busy()) {
          await refresh(mailbox);
        }
      }
    } catch (error) {
      // The server is away for a moment (a restart): ask again at the next tick.
    }
    window.setTimeout(poll, every);
  };
  window.setTimeout(poll, every);
});
