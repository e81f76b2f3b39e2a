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

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("list");
  if (!list) {
    return;
  }
  const boxes = () => Array.from(list.querySelectorAll('input[name="uid"]'));
  const tickPage = document.getElementById("tick-page");
  if (tickPage) {
    tickPage.addEventListener("change", () => {
      for (const box of boxes()) {
        box.checked = tickPage.checked;
      }
    });
  }
  // Keyboard: j/k move, x ticks, and the toolbar's keys act on the ticked rows.
  const rows = Array.from(list.querySelectorAll("tbody tr"));
  let at = -1;
  const focus = (index) => {
    if (!rows.length) {
      return;
    }
    if (at >= 0) {
      rows[at].classList.remove("current-row");
    }
    at = Math.max(0, Math.min(rows.length - 1, index));
    rows[at].classList.add("current-row");
    rows[at].scrollIntoView({ block: "nearest" });
  };
  const keys = new Map();
  for (const button of list.querySelectorAll("button[data-key]")) {
    keys.set(button.dataset.key, button);
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (target instanceof HTMLInputElement && target.type !== "checkbox") {
      return;
    }
    if (target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) {
      return;
    }
    if (event.key === "j") {
      focus(at + 1);
    } else if (event.key === "k") {
      focus(at - 1);
    } else if (event.key === "x" && at >= 0) {
      const box = rows[at].querySelector('input[name="uid"]');
      box.checked = !box.checked;
    } else if (keys.has(event.key)) {
      if (at >= 0 && !boxes().some((box) => box.checked)) {
        rows[at].querySelector('input[name="uid"]').checked = true;
      }
      if (boxes().some((box) => box.checked)) {
        keys.get(event.key).click();
      }
    } else {
      return;
    }
    event.preventDefault();
  });
});
