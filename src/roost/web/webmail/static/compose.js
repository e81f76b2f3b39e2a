// Roost Mail, the compose page: rich text, autosave, uploads with progress, completion.
// The form works without it (plain text, "Save draft", no attachments).
"use strict";

(() => {
  const form = document.getElementById("compose");
  if (!form) {
    return;
  }
  const field = (name) => form.elements.namedItem(name);
  const editor = document.getElementById("editor");
  const tools = document.getElementById("rich-tools");
  const text = document.getElementById("text");
  const state = document.getElementById("save-state");
  const uploads = document.getElementById("uploads");
  const files = document.getElementById("files");
  const completions = document.getElementById("completions");
  const csrf = field("csrf").value;
  const autosaveMs = Math.max(1000, Number(form.dataset.autosaveS || "30") * 1000);
  let dirty = false;
  let saving = null;
  let saves = 0;
  let sending = false;

  const escapeHtml = (value) =>
    value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const rich = () => field("format").value === "html";

  // --- plain text and rich text

  const showFormat = () => {
    editor.hidden = !rich();
    tools.hidden = !rich();
    text.hidden = rich();
  };
  if (rich()) {
    editor.innerHTML = field("html").value;
  }
  showFormat();
  for (const radio of form.querySelectorAll('input[name="format"]')) {
    radio.addEventListener("change", () => {
      if (rich()) {
        editor.innerHTML = escapeHtml(text.value).replace(/\n/g, "<br>");
      } else {
        text.value = editor.innerText;
      }
      showFormat();
      dirty = true;
    });
  }
  tools.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-command]");
    if (button) {
      editor.focus();
      document.execCommand(button.dataset.command);
      dirty = true;
    }
  });
  const sync = () => {
    if (rich()) {
      field("html").value = editor.innerHTML;
      text.value = editor.innerText;
    } else {
      field("html").value = "";
    }
  };
  form.addEventListener("input", () => {
    dirty = true;
  });
  editor.addEventListener("input", () => {
    dirty = true;
  });
  form.addEventListener("submit", (event) => {
    sync();
    if (saving) {
      // A draft being saved now gets a new UID: send (or save) with that one, so
      // that no older version stays behind in Drafts.
      event.preventDefault();
      const submitter = event.submitter;
      saving.then(() => form.requestSubmit(submitter));
      return;
    }
    sending = true;
  });

  // --- drafts: saved every few seconds while the message changes, and when the page is left

  const body = () => {
    sync();
    return new URLSearchParams(new FormData(form));
  };
  const save = async () => {
    if (saving || sending) {
      return saving;
    }
    dirty = false;
    saving = (async () => {
      try {
        // Not marked as a background request: writing a message is using the session.
        const response = await fetch("/mail/compose/save?json=1", {
          method: "POST",
          body: body(),
          credentials: "same-origin",
        });
        const answer = await response.json();
        if (response.ok) {
          field("draft_uid").value = String(answer.draft_uid);
          saves += 1;
          state.textContent = `Draft saved (${saves}).`;
          state.dataset.saves = String(saves);
        } else {
          dirty = true;
          state.textContent = answer.error || "The draft could not be saved.";
        }
      } catch (error) {
        dirty = true;
        state.textContent = "The draft could not be saved (no connection).";
      } finally {
        saving = null;
      }
    })();
    return saving;
  };
  window.setInterval(() => {
    if (dirty) {
      save();
    }
  }, autosaveMs);
  window.addEventListener("pagehide", () => {
    if (dirty && !sending && !saving) {
      fetch("/mail/compose/save?json=1", {
        method: "POST",
        body: body(),
        credentials: "same-origin",
        keepalive: true,
      });
    }
  });

  // --- attachments: one upload per file, its progress shown

  const addRow = (upload) => {
    const item = document.createElement("li");
    item.dataset.id = upload.id;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = upload.filename;
    const size = document.createElement("span");
    size.className = "muted";
    size.textContent = ` ${upload.size} bytes `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove-upload";
    remove.dataset.id = upload.id;
    remove.textContent = "Remove";
    item.append(name, size, remove);
    return item;
  };
  const upload = (file) => {
    const row = document.createElement("li");
    row.className = "uploading";
    const label = document.createElement("span");
    label.textContent = file.name + " ";
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    row.append(label, bar);
    uploads.append(row);
    const request = new XMLHttpRequest();
    const query = new URLSearchParams({ area: field("area").value, name: file.name });
    request.open("POST", "/mail/compose/upload?" + query.toString());
    request.setRequestHeader("X-Roost-Csrf", csrf);
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        bar.max = event.total;
        bar.value = event.loaded;
      }
    });
    request.addEventListener("load", () => {
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch (error) {
        answer = { error: "The upload failed." };
      }
      if (request.status === 200) {
        row.replaceWith(addRow(answer));
        dirty = true;
      } else {
        row.className = "upload-failed error";
        row.textContent = `${file.name}: ${answer.error || "the upload failed."}`;
      }
    });
    request.addEventListener("error", () => {
      row.className = "upload-failed error";
      row.textContent = `${file.name}: the upload failed (no connection).`;
    });
    request.send(file);
  };
  files.addEventListener("change", () => {
    for (const file of Array.from(files.files)) {
      upload(file);
    }
    files.value = "";
  });
  uploads.addEventListener("click", async (event) => {
    const button = event.target.closest("button.remove-upload");
    if (!button) {
      return;
    }
    const response = await fetch("/mail/compose/remove", {
      method: "POST",
      headers: { Accept: "application/json" },
      body: new URLSearchParams({ csrf, area: field("area").value, id: button.dataset.id }),
      credentials: "same-origin",
    });
    if (response.ok) {
      button.closest("li").remove();
      dirty = true;
    }
  });

  // --- recipients: completion of the address being typed

  let target = null;
  let asked = 0;
  const lastEntry = (value) => {
    const at = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"));
    return { head: value.slice(0, at + 1), entry: value.slice(at + 1).trim() };
  };
  const hide = () => {
    completions.hidden = true;
    completions.replaceChildren();
  };
  for (const input of form.querySelectorAll("input[data-complete]")) {
    input.addEventListener("input", async () => {
      const { entry } = lastEntry(input.value);
      if (!entry) {
        hide();
        return;
      }
      target = input;
      const ask = ++asked;
      const response = await fetch("/mail/compose/complete?" + new URLSearchParams({ q: entry }), {
        headers: { Accept: "application/json", "X-Roost-Background": "1" },
        credentials: "same-origin",
      });
      if (ask !== asked || !response.ok) {
        return;
      }
      const answer = await response.json();
      completions.replaceChildren();
      for (const found of answer.results) {
        const item = document.createElement("li");
        const choose = document.createElement("button");
        choose.type = "button";
        choose.className = "completion";
        choose.dataset.value = found.name ? `${found.name} <${found.address}>` : found.address;
        choose.textContent = choose.dataset.value;
        item.append(choose);
        completions.append(item);
      }
      completions.hidden = answer.results.length === 0;
      input.after(completions);
    });
  }
  completions.addEventListener("click", (event) => {
    const choose = event.target.closest("button.completion");
    if (!choose || !target) {
      return;
    }
    const { head } = lastEntry(target.value);
    target.value = `${head}${head ? " " : ""}${choose.dataset.value}, `;
    hide();
    target.focus();
    dirty = true;
  });
})();
