// Roost admin console: live updates, the banner, and confirmation dialogs.
//
// Every admin page asks /admin/services/status every few seconds and puts the
// answer into the page in place: text with textContent only (never HTML),
// rows updated cell by cell, so ticked rows and the focus stay where they are.
// When answers stop coming, the page says it is stale. Without this script
// every page still works: forms post, and a confirmation page names effects.
"use strict";

(function () {
  const body = document.body;
  const statusUrl = body.dataset.statusUrl;
  if (!statusUrl) {
    return;
  }
  const refreshMs = Number(body.dataset.refreshMs) || 2000;
  const staleMs = Number(body.dataset.staleMs) || 6000;
  const liveText = document.getElementById("live-text");
  const form = document.getElementById("services-form");
  const dialog = document.getElementById("confirm-dialog");
  let lastOk = Date.now();
  let lastUpdated = liveText ? liveText.dataset.updated || "" : "";
  let timer = null;
  let stopped = false;

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function setList(list, items, className) {
    if (!list) {
      return;
    }
    const current = Array.from(list.children, (li) => li.textContent);
    if (current.length === items.length && current.every((t, i) => t === items[i].text)) {
      return;
    }
    list.replaceChildren(
      ...items.map((item) => {
        const li = document.createElement("li");
        li.textContent = item.text;
        if (item.className || className) {
          li.className = item.className || className;
        }
        return li;
      }),
    );
  }

  function texts(values) {
    return values.map((text) => ({ text: text }));
  }

  function row(name) {
    return form ? form.querySelector(`tr[data-service="${CSS.escape(name)}"]`) : null;
  }

  function updateRow(service) {
    const tr = row(service.name);
    if (!tr) {
      return;
    }
    if (tr.dataset.state !== service.state) {
      tr.dataset.state = service.state;
    }
    tr.classList.remove(...Array.from(tr.classList).filter((c) => c.startsWith("state-")));
    tr.classList.add(`state-${service.state}`);
    tr.classList.toggle("off-desired", service.off_desired);
    for (const action of ["start", "stop", "restart"]) {
      tr.dataset[`effect${action[0].toUpperCase()}${action.slice(1)}`] = service.effects[action];
    }
    for (const element of tr.querySelectorAll("[data-field]")) {
      const field = element.dataset.field;
      if (field === "listeners") {
        setList(element, texts(service.listeners));
      } else if (field in service) {
        setText(element, String(service[field]));
      }
    }
    const probe = tr.querySelector(".probe");
    if (probe) {
      probe.dataset.probe = service.probe_state;
    }
  }

  function update(data) {
    const banner = document.getElementById("banner");
    if (banner) {
      setList(document.getElementById("banner-list"), texts(data.banner));
      banner.hidden = data.banner.length === 0;
    }
    if (form) {
      data.services.forEach(updateRow);
      const recent = document.getElementById("recent-list");
      setList(recent, data.recent.map((e) => ({ text: `${e.at} — ${e.text}` })));
    }
    lastUpdated = data.updated;
  }

  function markStale(message) {
    body.classList.add("stale");
    setText(liveText, message);
  }

  function signedOut() {
    stopped = true;
    markStale("Signed out: this page no longer updates. ");
    const link = document.createElement("a");
    link.href = `/admin/sign-in?next=${encodeURIComponent(location.pathname)}`;
    link.textContent = "Sign in again";
    liveText.append(link);
  }

  async function poll() {
    timer = null;
    const controller = new AbortController();
    const abort = setTimeout(() => controller.abort(), Math.max(2 * refreshMs, 3000));
    try {
      const response = await fetch(statusUrl, {
        headers: { Accept: "application/json" },
        cache: "no-store",
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (response.status === 401) {
        signedOut();
        return;
      }
      if (!response.ok) {
        throw new Error(`status ${response.status}`);
      }
      update(await response.json());
      lastOk = Date.now();
      body.classList.remove("stale");
      setText(liveText, `Updated ${lastUpdated}`);
    } catch (error) {
      if (Date.now() - lastOk >= staleMs) {
        const since = lastUpdated ? ` since ${lastUpdated}` : "";
        markStale(`Stale: no update${since}; still trying.`);
      }
    } finally {
      clearTimeout(abort);
      if (!stopped) {
        schedule(refreshMs);
      }
    }
  }

  function schedule(delay) {
    if (timer !== null) {
      clearTimeout(timer);
    }
    timer = setTimeout(poll, delay);
  }

  schedule(refreshMs);

  if (!form || !dialog || typeof dialog.showModal !== "function") {
    return;
  }

  // --- selection

  const selectAll = document.getElementById("select-all");
  const count = document.getElementById("selection-count");

  function picks() {
    return Array.from(form.querySelectorAll('input[name="service"]'));
  }

  function showSelection() {
    const all = picks();
    const ticked = all.filter((box) => box.checked).length;
    selectAll.checked = ticked === all.length && ticked > 0;
    selectAll.indeterminate = ticked > 0 && ticked < all.length;
    setText(count, ticked ? `${ticked} selected` : "");
  }

  selectAll.addEventListener("change", () => {
    for (const box of picks()) {
      box.checked = selectAll.checked;
    }
    showSelection();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "service") {
      showSelection();
    }
  });
  showSelection();

  // --- actions: a dialog that names the effect, then the action itself

  const results = document.getElementById("results");
  const resultsList = document.getElementById("results-list");

  function showResults(items) {
    setList(resultsList, items);
    results.hidden = false;
  }

  function effectOf(name, action) {
    const tr = row(name);
    const key = `effect${action[0].toUpperCase()}${action.slice(1)}`;
    return tr ? tr.dataset[key] : `${name}: ${action}`;
  }

  function titleOf(name) {
    const tr = row(name);
    return tr ? tr.dataset.title : name;
  }

  form.addEventListener("submit", (event) => {
    const opener = event.submitter;
    if (!opener) {
      return;
    }
    event.preventDefault();
    let action;
    let names;
    if (opener.name === "row") {
      const at = opener.value.lastIndexOf(":");
      names = [opener.value.slice(0, at)];
      action = opener.value.slice(at + 1);
      const menu = opener.closest("details");
      if (menu) {
        menu.open = false;
      }
    } else {
      action = opener.value;
      names = picks()
        .filter((box) => box.checked)
        .map((box) => box.value);
    }
    if (names.length === 0) {
      showResults([{ text: "Choose at least one service (tick its row) first.", className: "fail" }]);
      opener.focus();
      return;
    }
    const verb = action[0].toUpperCase() + action.slice(1);
    const what = names.length === 1 ? titleOf(names[0]) : `${names.length} services`;
    setText(document.getElementById("confirm-title"), `${verb} ${what}?`);
    setList(
      document.getElementById("confirm-effects"),
      texts(names.map((name) => effectOf(name, action))),
    );
    setText(document.getElementById("confirm-ok"), `${verb} ${what}`);
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        const target = opener.closest("details") ? opener.closest("details").querySelector("summary") : opener;
        target.focus();
        if (dialog.returnValue === "ok") {
          send(action, names, verb);
        }
      },
      { once: true },
    );
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });

  async function send(action, names, verb) {
    const params = new URLSearchParams();
    params.append("csrf", form.elements.csrf.value);
    params.append("action", action);
    names.forEach((name) => params.append("service", name));
    form.setAttribute("aria-busy", "true");
    showResults(texts(names.map((name) => `${titleOf(name)}: ${verb.toLowerCase()} in progress…`)));
    try {
      const response = await fetch("/admin/services/action", {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: params,
        credentials: "same-origin",
      });
      const data = await response.json();
      if (Array.isArray(data.results)) {
        showResults(
          data.results.map((r) => ({
            text: `${r.title}: ${r.message}`,
            className: r.ok ? "ok" : "fail",
          })),
        );
      } else {
        showResults([{ text: data.error || `Refused (${response.status})`, className: "fail" }]);
      }
      if (response.status === 401) {
        signedOut();
      }
    } catch (error) {
      showResults([
        {
          text: "No answer from Roost: the action may or may not have been done; the rows will tell.",
          className: "fail",
        },
      ]);
    } finally {
      form.removeAttribute("aria-busy");
      if (!stopped) {
        schedule(0);
      }
    }
  }
})();

/* --- Dashboard and Spool --- */
// The dashboard asks /admin/dashboard/data every [admin] dashboard_refresh_s and
// puts the figures in with textContent (the plot's points as an attribute).
// The Spool page's "tick every row" box. Both pages work without this script.
(function () {
  const dashboard = document.getElementById("dashboard");
  if (dashboard) {
    const url = dashboard.dataset.url;
    const every = Math.max(Number(dashboard.dataset.ms) || 5000, 1000);

    function put(element, text) {
      if (element && element.textContent !== text) {
        element.textContent = text;
      }
    }

    function showWarnings(warnings) {
      const list = document.getElementById("warning-list");
      const none = document.getElementById("no-warnings");
      list.replaceChildren(
        ...warnings.map((w) => {
          const li = document.createElement("li");
          li.className = `warn-${w.level}`;
          if (w.link && w.link.startsWith("/") && !w.link.startsWith("//")) {
            const a = document.createElement("a");
            a.href = w.link;
            a.textContent = w.text;
            li.append(a);
          } else {
            li.textContent = w.text;
          }
          return li;
        }),
      );
      none.hidden = warnings.length > 0;
    }

    function showStrip(strip) {
      for (const item of strip) {
        const li = dashboard.querySelector(`li[data-strip="${CSS.escape(item.name)}"]`);
        if (!li) {
          continue;
        }
        li.className = `state-${item.state}` + (item.off ? " off-desired" : "");
        put(li.querySelector('[data-part="symbol"]'), item.symbol);
        put(li.querySelector('[data-part="state"]'), item.state);
      }
    }

    async function refresh() {
      try {
        const response = await fetch(url, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (response.status === 401) {
          return;
        }
        if (response.ok) {
          const data = await response.json();
          for (const [key, text] of Object.entries(data.fields)) {
            put(dashboard.querySelector(`[data-dash="${CSS.escape(key)}"]`), text);
          }
          for (const [kind, points] of Object.entries(data.plot.lines)) {
            const line = dashboard.querySelector(`polyline[data-kind="${CSS.escape(kind)}"]`);
            if (line && line.getAttribute("points") !== points) {
              line.setAttribute("points", points);
            }
            put(dashboard.querySelector(`[data-dash-plot="total-${CSS.escape(kind)}"]`),
              String(data.plot.totals[kind]));
          }
          put(dashboard.querySelector('[data-dash-plot="peak"]'), String(data.plot.peak));
          showWarnings(data.warnings);
          showStrip(data.strip);
        }
      } catch (error) {
        // The live line of every page says when answers stop coming.
      }
      setTimeout(refresh, every);
    }

    setTimeout(refresh, every);
  }

  const spool = document.getElementById("spool-form");
  if (spool) {
    const all = document.getElementById("spool-select-all");
    const boxes = () => Array.from(spool.querySelectorAll('input[name="id"]'));
    all.addEventListener("change", () => {
      for (const box of boxes()) {
        box.checked = all.checked;
      }
    });
    spool.addEventListener("change", (event) => {
      if (event.target !== all) {
        const ticked = boxes().filter((b) => b.checked).length;
        all.checked = ticked > 0 && ticked === boxes().length;
        all.indeterminate = ticked > 0 && ticked < boxes().length;
      }
    });
  }
})();

/* --- Certificates --- */
// A file picker beside each PEM box reads the chosen file into it, so the
// form stays urlencoded; without this script the boxes take a paste.
(function () {
  const pickers = document.querySelectorAll("input[type=file][data-fills]");
  pickers.forEach((picker) => {
    const box = document.getElementById(picker.dataset.fills);
    if (!box) {
      return;
    }
    picker.hidden = false;
    picker.addEventListener("change", () => {
      const file = picker.files && picker.files[0];
      if (!file) {
        return;
      }
      file.text().then((text) => {
        box.value = text;
      });
    });
  });
})();
