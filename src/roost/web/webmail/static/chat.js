// Roost Mail chat: our own XMPP-over-WebSocket client (RFC 7395), no library.
//
// It runs on every webmail page. It signs in with a single-use chat token from
// POST /mail/chat/token (never the password), enables stream management with
// resumption (XEP-0198) and keeps the stream's id and counters in this tab's
// sessionStorage. When the page goes away its WebSocket drops without <close/>:
// the server parks the session, still available, and the next page resumes it,
// so moving between pages never makes the user look unavailable and the
// stanzas that came meanwhile arrive on the next page. (A SharedWorker would
// end with the tab's last page: Chromium closes it at every navigation.)
//
// Everything a contact sends is shown with textContent, never as HTML.
"use strict";

(() => {
  const link = document.getElementById("chat-link");
  if (!link || !window.WebSocket || !window.DOMParser) {
    return;
  }

  const NS = {
    client: "jabber:client",
    framing: "urn:ietf:params:xml:ns:xmpp-framing",
    streams: "http://etherx.jabber.org/streams",
    sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
    bind: "urn:ietf:params:xml:ns:xmpp-bind",
    sm: "urn:xmpp:sm:3",
    roster: "jabber:iq:roster",
    mam: "urn:xmpp:mam:2",
    rsm: "http://jabber.org/protocol/rsm",
    forward: "urn:xmpp:forward:0",
    delay: "urn:xmpp:delay",
    sid: "urn:xmpp:sid:0",
    carbons: "urn:xmpp:carbons:2",
    ping: "urn:xmpp:ping",
    stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
    data: "jabber:x:data",
  };
  const me = link.dataset.jid;
  const domain = me.split("@")[1];
  const SHOWN_CHARS = Number(link.dataset.shownChars) || 10000;
  const RENDERED = Number(link.dataset.rendered) || 300;
  const PAGE = 50; // messages per archive page
  const KEY = "roost-chat:" + me;
  const SHOWS = { available: "Available", away: "Away", xa: "Away", dnd: "Do not disturb", chat: "Available" };

  // --- what survives a page change (this tab only)

  const load = (name, fallback) => {
    try {
      const text = sessionStorage.getItem(KEY + ":" + name);
      return text === null ? fallback : JSON.parse(text);
    } catch (_error) {
      return fallback;
    }
  };
  const save = (name, value) => {
    try {
      sessionStorage.setItem(KEY + ":" + name, JSON.stringify(value));
    } catch (_error) {
      // Storage full or refused: the chat still works on this page.
    }
  };
  // A tab opened from this one may start with a copy of its sessionStorage; only
  // the tab that made a stream may resume it (window.name stays with the tab),
  // or the two would take the session from each other.
  const tab = load("tab", null);
  if (!tab || window.name !== tab) {
    window.name = "roost-chat-" + Math.random().toString(36).slice(2, 12);
    save("tab", window.name);
    save("sm", null);
    save("unacked", []);
  }
  let sm = load("sm", null); // {id, h, out, jid, counting}
  let unacked = load("unacked", []); // stanzas sent and not yet acknowledged
  const state = {
    roster: load("roster", null), // {bare: {name, subscription}}
    presence: load("presence", {}), // {bare: {resource: show}}
    unread: load("unread", {}),
    show: load("show", "available"),
  };
  let saveTimer = 0;
  const saveState = () => {
    if (!saveTimer) {
      saveTimer = setTimeout(() => {
        saveTimer = 0;
        for (const name of ["roster", "presence", "unread", "show"]) {
          save(name, state[name]);
        }
      }, 50);
    }
  };
  window.addEventListener("pagehide", () => {
    for (const name of ["roster", "presence", "unread", "show"]) {
      save(name, state[name]);
    }
  });

  // --- XML

  const esc = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]);
  const parse = (text) => {
    const doc = new DOMParser().parseFromString(text, "application/xml");
    const root = doc.documentElement;
    return !root || root.getElementsByTagName("parsererror").length || root.localName === "parsererror" ? null : root;
  };
  const kids = (el, name, ns) => Array.from(el ? el.children : []).filter((c) => c.localName === name && (!ns || c.namespaceURI === ns));
  const kid = (el, name, ns) => kids(el, name, ns)[0] || null;
  const bareOf = (jid) => (jid || "").split("/")[0].toLowerCase();
  const resourceOf = (jid) => {
    const at = (jid || "").indexOf("/");
    return at < 0 ? "" : jid.slice(at + 1);
  };
  const utf8Base64 = (text) => {
    let binary = "";
    for (const byte of new TextEncoder().encode(text)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary);
  };
  let nextId = 0;
  const newId = () => "web" + Date.now().toString(36) + (nextId++).toString(36) + Math.random().toString(36).slice(2, 6);

  // --- the connection

  let ws = null;
  let authed = false;
  let ready = false;
  let resuming = false;
  let failures = 0;
  let stopped = false;
  let retryTimer = 0;
  const pending = new Map(); // iq id -> handler(result element)

  const setState = (text) => {
    link.dataset.state = text ? "offline" : "ready";
    const el = document.getElementById("chat-state");
    if (el) {
      el.textContent = text ? " · " + text : "";
    }
    const panel = document.getElementById("chat-connection");
    if (panel) {
      panel.textContent = text || "Connected";
    }
  };

  const raw = (xml) => {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(xml);
    }
  };
  // A stanza: counted for XEP-0198 and kept until the server acknowledges it.
  const send = (xml) => {
    if (sm) {
      unacked.push(xml);
      save("unacked", unacked);
      sm.out += 1;
      save("sm", sm);
    }
    if (ready) {
      raw(xml);
      if (sm) {
        raw(`<r xmlns="${NS.sm}"/>`);
      }
    }
  };
  const iq = (type, payload, handler, to) => {
    const id = newId();
    if (handler) {
      pending.set(id, handler);
    }
    send(`<iq xmlns="${NS.client}" type="${type}" id="${id}"${to ? ` to="${esc(to)}"` : ""}>${payload}</iq>`);
    return id;
  };
  const acknowledged = (h) => {
    if (!sm) {
      return;
    }
    const done = unacked.length - (sm.out - h);
    if (done > 0) {
      unacked.splice(0, done);
      save("unacked", unacked);
    }
  };

  const connect = async () => {
    retryTimer = 0;
    if (stopped) {
      return;
    }
    setState("connecting…");
    let grant;
    try {
      const csrf = link.dataset.csrf;
      const answer = await fetch("/mail/chat/token", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ csrf }).toString(),
      });
      if (answer.status === 401 || answer.status === 403) {
        stopped = true;
        setState("signed out");
        return;
      }
      if (!answer.ok) {
        throw new Error("token " + answer.status);
      }
      grant = await answer.json();
    } catch (_error) {
      retry();
      return;
    }
    authed = false;
    ready = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(scheme + "//" + location.host + grant.websocket, "xmpp");
    ws = socket;
    socket.onopen = () => openStream();
    socket.onmessage = (event) => {
      if (socket === ws && typeof event.data === "string") {
        received(event.data, grant);
      }
    };
    socket.onclose = () => {
      if (socket === ws) {
        ws = null;
        ready = false;
        retry();
      }
    };
  };
  const retry = () => {
    if (stopped || retryTimer) {
      return;
    }
    failures += 1;
    setState("offline; trying again");
    const delay = Math.min(30000, 500 * 2 ** Math.min(failures, 6));
    retryTimer = setTimeout(connect, delay);
  };
  const openStream = () => raw(`<open xmlns="${NS.framing}" to="${esc(domain)}" version="1.0"/>`);

  const received = (text, grant) => {
    const el = parse(text);
    if (!el) {
      return;
    }
    const ns = el.namespaceURI;
    const name = el.localName;
    if (ns === NS.framing) {
      if (name === "close") {
        ws.close();
      }
      return;
    }
    if (name === "features") {
      features(el, grant);
    } else if (ns === NS.sasl) {
      if (name === "success") {
        authed = true;
        openStream();
      } else if (name === "failure") {
        setState("sign-in refused");
        ws.close();
      }
    } else if (ns === NS.sm) {
      streamManagement(el);
    } else if (name === "error" && ns === NS.streams) {
      if (kid(el, "conflict") || kid(el, "not-authorized")) {
        sm = null;
        save("sm", null);
      }
    } else if (ns === NS.client) {
      if (sm && sm.counting) {
        sm.h += 1;
        save("sm", sm);
      }
      stanza(el);
    }
  };

  const features = (el, grant) => {
    if (!authed) {
      const plain = kids(kid(el, "mechanisms", NS.sasl), "mechanism").some((m) => m.textContent === "PLAIN");
      if (!plain) {
        setState("chat sign-in unavailable");
        stopped = true;
        ws.close();
        return;
      }
      raw(`<auth xmlns="${NS.sasl}" mechanism="PLAIN">${utf8Base64("\0" + grant.jid + "\0" + grant.token)}</auth>`);
      return;
    }
    if (sm && sm.id && kid(el, "sm", NS.sm)) {
      resuming = true;
      raw(`<resume xmlns="${NS.sm}" previd="${esc(sm.id)}" h="${sm.h}"/>`);
      return;
    }
    bind();
  };

  const bind = () => {
    resuming = false;
    sm = null;
    save("sm", null);
    const resource = "web-" + Math.random().toString(36).slice(2, 10);
    const id = newId();
    pending.set(id, (result) => {
      const jid = kid(kid(result, "bind", NS.bind), "jid", NS.bind);
      started(jid ? jid.textContent : me + "/" + resource);
    });
    raw(`<iq xmlns="${NS.client}" type="set" id="${id}"><bind xmlns="${NS.bind}"><resource>${resource}</resource></bind></iq>`);
  };

  // A new session: stream management, carbons, the roster, then our presence.
  const started = (jid) => {
    const previous = unacked.filter((xml) => xml.startsWith("<message"));
    unacked = [];
    save("unacked", unacked);
    raw(`<enable xmlns="${NS.sm}" resume="true"/>`);
    sm = { id: null, h: 0, out: 0, jid, counting: false };
    ready = true;
    failures = 0;
    setState("");
    state.presence = {};
    iq("set", `<enable xmlns="${NS.carbons}"/>`);
    iq("get", `<query xmlns="${NS.roster}"/>`, (result) => {
      state.roster = {};
      for (const item of kids(kid(result, "query", NS.roster), "item", NS.roster)) {
        rosterItem(item);
      }
      saveState();
      drawContacts();
      sendPresence();
      // What the old session never got acknowledged is sent again.
      for (const xml of previous) {
        send(xml);
      }
    });
    opened();
  };

  const streamManagement = (el) => {
    switch (el.localName) {
      case "enabled":
        if (sm) {
          // XEP-0198 §4: the server counts what it sends from here on.
          sm.counting = true;
          sm.id = el.getAttribute("resume") === "true" || el.getAttribute("resume") === "1" ? el.getAttribute("id") : null;
          save("sm", sm);
        }
        break;
      case "r":
        if (sm) {
          raw(`<a xmlns="${NS.sm}" h="${sm.h}"/>`);
        }
        break;
      case "a":
        acknowledged(Number(el.getAttribute("h")));
        break;
      case "resumed": {
        resuming = false;
        ready = true;
        failures = 0;
        setState("");
        acknowledged(Number(el.getAttribute("h")));
        sm.out = Number(el.getAttribute("h"));
        sm.counting = true;
        const again = unacked;
        unacked = [];
        for (const xml of again) {
          send(xml);
        }
        if (!state.roster) {
          iq("get", `<query xmlns="${NS.roster}"/>`, (result) => {
            state.roster = {};
            for (const item of kids(kid(result, "query", NS.roster), "item", NS.roster)) {
              rosterItem(item);
            }
            saveState();
            drawContacts();
          });
        }
        opened();
        break;
      }
      case "failed":
        if (resuming) {
          bind();
        }
        break;
      default:
        break;
    }
  };

  // --- stanzas

  const stanza = (el) => {
    switch (el.localName) {
      case "iq":
        return iqIn(el);
      case "presence":
        return presenceIn(el);
      case "message":
        return messageIn(el);
      default:
        return undefined;
    }
  };

  const iqIn = (el) => {
    const type = el.getAttribute("type");
    const id = el.getAttribute("id") || "";
    if (type === "result" || type === "error") {
      const handler = pending.get(id);
      pending.delete(id);
      if (handler) {
        handler(el, type === "error");
      }
      return;
    }
    const from = el.getAttribute("from");
    const to = from ? ` to="${esc(from)}"` : "";
    const query = kid(el, "query", NS.roster);
    if (type === "set" && query && (!from || bareOf(from) === me || bareOf(from) === domain)) {
      for (const item of kids(query, "item", NS.roster)) {
        rosterItem(item);
      }
      saveState();
      drawContacts();
      send(`<iq xmlns="${NS.client}" type="result" id="${esc(id)}"${to}/>`);
      return;
    }
    if (type === "get" && kid(el, "ping", NS.ping)) {
      send(`<iq xmlns="${NS.client}" type="result" id="${esc(id)}"${to}/>`);
      return;
    }
    send(
      `<iq xmlns="${NS.client}" type="error" id="${esc(id)}"${to}><error type="cancel">` +
        `<service-unavailable xmlns="${NS.stanzas}"/></error></iq>`,
    );
  };

  const rosterItem = (item) => {
    const jid = bareOf(item.getAttribute("jid"));
    if (!jid || jid === me) {
      return;
    }
    if (!state.roster) {
      state.roster = {};
    }
    if (item.getAttribute("subscription") === "remove") {
      delete state.roster[jid];
    } else {
      state.roster[jid] = { name: item.getAttribute("name") || "", subscription: item.getAttribute("subscription") || "none" };
    }
  };

  const presenceIn = (el) => {
    const from = el.getAttribute("from") || "";
    const bare = bareOf(from);
    const type = el.getAttribute("type");
    if (!bare || bare === me || (type && type !== "unavailable")) {
      return;
    }
    const resources = state.presence[bare] || {};
    if (type === "unavailable") {
      delete resources[resourceOf(from)];
    } else {
      const show = kid(el, "show", NS.client);
      resources[resourceOf(from)] = show ? show.textContent.trim() : "available";
    }
    state.presence[bare] = resources;
    saveState();
    drawContacts();
    if (current === bare) {
      drawHeader();
    }
  };

  // The best a contact shows over their resources: available, then away, then dnd.
  const showOf = (bare) => {
    const shows = Object.values(state.presence[bare] || {});
    if (!shows.length) {
      return "offline";
    }
    for (const wanted of ["chat", "available", "away", "xa", "dnd"]) {
      if (shows.includes(wanted)) {
        return wanted === "chat" ? "available" : wanted === "xa" ? "away" : wanted;
      }
    }
    return "available";
  };

  const sendPresence = () => {
    const show = state.show === "available" ? "" : `<show>${esc(state.show)}</show>`;
    send(`<presence xmlns="${NS.client}">${show}</presence>`);
  };

  // --- messages

  const conversations = new Map(); // bare -> {msgs, keys, first, complete, loaded, loading}
  const conversation = (bare) => {
    let conv = conversations.get(bare);
    if (!conv) {
      conv = { msgs: [], keys: new Set(), complete: false, loaded: false, loading: false };
      conversations.set(bare, conv);
    }
    return conv;
  };
  const mamQueries = new Map(); // queryid -> {bare, found: []}

  // One message as kept: who, what, when, and the keys that spot it again.
  const record = (message, stamp, archiveId) => {
    const body = kid(message, "body", NS.client) || kid(message, "body");
    if (!body) {
      return null;
    }
    const from = bareOf(message.getAttribute("from") || me);
    const to = bareOf(message.getAttribute("to") || me);
    const mine = from === me;
    const peer = mine ? to : from;
    const sidEl = kids(message, "stanza-id", NS.sid).find((s) => bareOf(s.getAttribute("by")) === me);
    const sid = archiveId || (sidEl ? sidEl.getAttribute("id") : null);
    const id = message.getAttribute("id");
    const keys = [];
    if (sid) {
      keys.push("s:" + sid);
    }
    if (id) {
      keys.push("i:" + from + ":" + id);
    }
    const delay = kid(message, "delay", NS.delay);
    const when = stamp || (delay && delay.getAttribute("stamp")) || new Date().toISOString();
    return { peer, mine, text: body.textContent, when, sid, keys };
  };
  const known = (conv, msg) => msg.keys.some((key) => conv.keys.has(key));
  const remember = (conv, msg) => {
    for (const key of msg.keys) {
      conv.keys.add(key);
    }
  };

  const messageIn = (el) => {
    const result = kid(el, "result", NS.mam);
    if (result) {
      const query = mamQueries.get(result.getAttribute("queryid"));
      const forwarded = kid(result, "forwarded", NS.forward);
      const inner = kid(forwarded, "message", NS.client);
      const delay = kid(forwarded, "delay", NS.delay);
      if (query && inner && bareOf(el.getAttribute("from") || me) === me) {
        const msg = record(inner, delay && delay.getAttribute("stamp"), result.getAttribute("id"));
        if (msg) {
          query.found.push(msg);
        }
      }
      return;
    }
    let message = el;
    const carbon = kid(el, "received", NS.carbons) || kid(el, "sent", NS.carbons);
    if (carbon) {
      if (bareOf(el.getAttribute("from") || me) !== me) {
        return; // XEP-0280 §11: only our own server may send carbons
      }
      message = kid(kid(carbon, "forwarded", NS.forward), "message", NS.client);
      if (!message) {
        return;
      }
    }
    const type = message.getAttribute("type") || "normal";
    if (type === "error" || type === "groupchat" || type === "headline") {
      return;
    }
    const msg = record(message, null, null);
    if (!msg || !msg.peer || msg.peer === me) {
      return;
    }
    const conv = conversation(msg.peer);
    if (known(conv, msg)) {
      return;
    }
    if (conv.behind) {
      // Paged back: show the newest again, from the archive, rather than a gap.
      conversations.delete(msg.peer);
      if (current === msg.peer) {
        loadHistory(msg.peer, false);
      }
    } else {
      remember(conv, msg);
      conv.msgs.push(msg);
      trim(conv);
    }
    if (!msg.mine) {
      const reading = current === msg.peer && !document.hidden;
      if (!reading) {
        state.unread[msg.peer] = (state.unread[msg.peer] || 0) + 1;
        saveState();
        drawBadge();
        drawContacts();
      }
      notify(msg, reading);
    }
    if (current === msg.peer && !conv.behind) {
      queueRender(msg);
    }
  };

  // A flood keeps the page responsive: at most RENDERED messages per conversation.
  // What leaves the page is forgotten too, so that the archive can bring it back.
  const trim = (conv) => {
    if (conv.msgs.length > RENDERED) {
      forget(conv, conv.msgs.splice(0, conv.msgs.length - RENDERED));
      conv.complete = false;
    }
  };
  const forget = (conv, gone) => {
    for (const msg of gone) {
      for (const key of msg.keys) {
        conv.keys.delete(key);
      }
    }
  };

  const sendMessage = (bare, text) => {
    const id = newId();
    const body = text.slice(0, SHOWN_CHARS);
    send(
      `<message xmlns="${NS.client}" type="chat" to="${esc(bare)}" id="${id}"><body>${esc(body)}</body>` +
        `<active xmlns="http://jabber.org/protocol/chatstates"/></message>`,
    );
    const conv = conversation(bare);
    const msg = { peer: bare, mine: true, text: body, when: new Date().toISOString(), sid: null, keys: ["i:" + me + ":" + id] };
    remember(conv, msg);
    conv.msgs.push(msg);
    trim(conv);
    if (current === bare) {
      queueRender(msg);
    }
  };

  // The archive, newest page first; "Load older" asks for the page before.
  const loadHistory = (bare, older) => {
    const conv = conversation(bare);
    if (conv.loading || !ready) {
      return;
    }
    conv.loading = true;
    const queryid = newId();
    mamQueries.set(queryid, { bare, found: [] });
    const oldest = older ? conv.msgs.find((m) => m.sid) : null;
    const before = oldest ? `<before>${esc(oldest.sid)}</before>` : "<before/>";
    iq(
      "set",
      `<query xmlns="${NS.mam}" queryid="${queryid}"><x xmlns="${NS.data}" type="submit">` +
        `<field var="FORM_TYPE" type="hidden"><value>${NS.mam}</value></field>` +
        `<field var="with"><value>${esc(bare)}</value></field></x>` +
        `<set xmlns="${NS.rsm}"><max>${PAGE}</max>${before}</set></query>`,
      (result, failed) => {
        conv.loading = false;
        const query = mamQueries.get(queryid);
        mamQueries.delete(queryid);
        if (failed || !query) {
          return;
        }
        const fin = kid(result, "fin", NS.mam);
        const fresh = query.found.filter((msg) => !known(conv, msg));
        for (const msg of fresh) {
          remember(conv, msg);
        }
        conv.msgs = older ? fresh.concat(conv.msgs) : mergeByTime(fresh, conv.msgs);
        if (conv.msgs.length > RENDERED) {
          forget(conv, conv.msgs.splice(older ? RENDERED : 0, conv.msgs.length - RENDERED));
          conv.behind = older; // the newest left the page: the next message reloads them
        }
        conv.complete = !!fin && fin.getAttribute("complete") === "true";
        conv.loaded = true;
        if (current === bare) {
          drawConversation(older ? "top" : "bottom");
        }
      },
    );
  };
  const mergeByTime = (a, b) => a.concat(b).sort((x, y) => (x.when < y.when ? -1 : x.when > y.when ? 1 : 0));

  // --- the page: badge and notice everywhere, the panel on /mail/chat

  const drawBadge = () => {
    const badge = document.getElementById("chat-badge");
    if (!badge) {
      return;
    }
    const total = Object.values(state.unread).reduce((sum, n) => sum + n, 0);
    badge.textContent = total ? String(total) : "";
    badge.hidden = !total;
    badge.title = total ? `${total} unread chat message${total === 1 ? "" : "s"}` : "";
  };

  const nameOf = (bare) => (state.roster && state.roster[bare] && state.roster[bare].name) || bare;
  const shorten = (text) =>
    text.length > SHOWN_CHARS ? [text.slice(0, SHOWN_CHARS), `… (${text.length - SHOWN_CHARS} more characters not shown)`] : [text, ""];

  let noticeTimer = 0;
  const notify = (msg, reading) => {
    const [text] = shorten(msg.text);
    const preview = text.length > 140 ? text.slice(0, 140) + "…" : text;
    if (!reading) {
      const notice = document.getElementById("chat-notice");
      if (notice) {
        notice.replaceChildren();
        const link = document.createElement("a");
        link.href = "/mail/chat#" + encodeURIComponent(msg.peer);
        link.textContent = `New message from ${nameOf(msg.peer)}: `;
        const quote = document.createElement("span");
        quote.textContent = preview;
        notice.append(link, quote);
        notice.hidden = false;
        clearTimeout(noticeTimer);
        noticeTimer = setTimeout(() => {
          notice.hidden = true;
        }, 8000);
      }
    }
    if ((document.hidden || !reading) && window.Notification && Notification.permission === "granted") {
      try {
        const shown = new Notification(`Chat: ${nameOf(msg.peer)}`, { body: preview, tag: "roost-chat-" + msg.peer });
        shown.onclick = () => {
          window.focus();
          location.href = "/mail/chat#" + encodeURIComponent(msg.peer);
        };
      } catch (_error) {
        // Some browsers allow notifications only from a service worker.
      }
    }
  };

  const panel = document.getElementById("chat");
  let current = null;
  const el = (tag, attrs, text) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      node.setAttribute(key, value);
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  };

  const buildPanel = () => {
    if (!panel) {
      return;
    }
    const side = el("aside", { class: "chat-side", "aria-label": "Contacts" });
    const mine = el("div", { class: "chat-me" });
    const label = el("label", { for: "chat-show" }, "Your status");
    const select = el("select", { id: "chat-show" });
    for (const [value, text] of [["available", "Available"], ["away", "Away"], ["dnd", "Do not disturb"]]) {
      const option = el("option", { value }, text);
      option.selected = state.show === value;
      select.append(option);
    }
    select.addEventListener("change", () => {
      state.show = select.value;
      saveState();
      if (ready) {
        sendPresence();
      }
    });
    const connection = el("p", { id: "chat-connection", class: "chat-connection" }, "Connecting…");
    mine.append(label, select, connection);
    if (window.Notification && Notification.permission === "default") {
      const ask = el("button", { type: "button", id: "chat-notify" }, "Notify me of new messages");
      ask.addEventListener("click", () => {
        Notification.requestPermission().then(() => ask.remove());
      });
      mine.append(ask);
    }
    const contacts = el("div", { id: "chat-contacts" });
    side.append(mine, contacts);
    const main = el("div", { class: "chat-main" });
    const header = el("h2", { id: "chat-with" }, "Choose a contact");
    const older = el("button", { type: "button", id: "chat-older", hidden: "" }, "Load older messages");
    older.addEventListener("click", () => current && loadHistory(current, true));
    const log = el("ol", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
    const form = el("form", { id: "chat-form", class: "chat-form", hidden: "" });
    const box = el("textarea", { id: "chat-text", rows: "2", maxlength: String(SHOWN_CHARS), "aria-label": "Message" });
    const button = el("button", { type: "submit", class: "primary" }, "Send");
    form.append(box, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = box.value.trim();
      if (text && current && ready) {
        sendMessage(current, text);
        box.value = "";
      }
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    main.append(header, older, log, form);
    panel.replaceChildren(side, main);
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted.includes("@")) {
      choose(wanted.toLowerCase());
    }
  };

  const choose = (bare) => {
    current = bare;
    if (state.unread[bare]) {
      delete state.unread[bare];
      saveState();
      drawBadge();
    }
    history.replaceState(null, "", "#" + encodeURIComponent(bare));
    drawContacts();
    drawHeader();
    document.getElementById("chat-form").hidden = false;
    drawConversation("bottom");
    if (!conversation(bare).loaded) {
      loadHistory(bare, false);
    }
    document.getElementById("chat-text").focus();
  };

  let contactsFrame = 0;
  const drawContacts = () => {
    if (!panel || contactsFrame) {
      return;
    }
    contactsFrame = requestAnimationFrame(() => {
      contactsFrame = 0;
      const holder = document.getElementById("chat-contacts");
      if (!holder) {
        return;
      }
      const all = new Set(Object.keys(state.roster || {}));
      for (const bare of Object.keys(state.unread)) {
        all.add(bare);
      }
      const sorted = Array.from(all).sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
      const groups = [
        ["Your domain", sorted.filter((b) => b.endsWith("@" + domain))],
        ["Other contacts", sorted.filter((b) => !b.endsWith("@" + domain))],
      ];
      const parts = [];
      for (const [title, members] of groups) {
        if (!members.length) {
          continue;
        }
        parts.push(el("h3", {}, title));
        const list = el("ul", { class: "chat-contacts" });
        for (const bare of members) {
          const show = showOf(bare);
          const item = el("li", { "data-jid": bare, "data-show": show, class: bare === current ? "current" : "" });
          const button = el("button", { type: "button" });
          const dot = el("span", { class: "chat-dot chat-" + show, title: SHOWS[show] || "Offline" });
          const name = el("span", { class: "chat-name" }, nameOf(bare));
          const status = el("span", { class: "chat-status" }, SHOWS[show] || "Offline");
          button.append(dot, name, status);
          if (state.unread[bare]) {
            button.append(el("span", { class: "chat-unread", title: "unread" }, String(state.unread[bare])));
          }
          button.addEventListener("click", () => choose(bare));
          item.append(button);
          list.append(item);
        }
        parts.push(list);
      }
      if (!parts.length) {
        parts.push(el("p", { class: "absent" }, state.roster ? "No contacts yet." : "Loading contacts…"));
      }
      holder.replaceChildren(...parts);
    });
  };

  const drawHeader = () => {
    const header = document.getElementById("chat-with");
    if (header && current) {
      const show = showOf(current);
      header.textContent = `${nameOf(current)} · ${SHOWS[show] || "Offline"}`;
      header.dataset.show = show;
    }
  };

  const messageNode = (msg) => {
    const item = el("li", { class: "chat-msg " + (msg.mine ? "chat-mine" : "chat-theirs") });
    const when = new Date(msg.when);
    const meta = el("span", { class: "chat-meta" }, `${msg.mine ? "You" : nameOf(msg.peer)} · ${isNaN(when) ? "" : when.toLocaleString()}`);
    const [text, rest] = shorten(msg.text);
    const body = el("span", { class: "chat-text" }, text);
    item.append(meta, body);
    if (rest) {
      item.append(el("span", { class: "chat-cut" }, rest));
    }
    return item;
  };

  const drawConversation = (scroll) => {
    const log = document.getElementById("chat-log");
    if (!log || !current) {
      return;
    }
    renderQueue.length = 0;
    const conv = conversation(current);
    const fragment = document.createDocumentFragment();
    for (const msg of conv.msgs) {
      fragment.append(messageNode(msg));
    }
    log.replaceChildren(fragment);
    document.getElementById("chat-older").hidden = conv.complete || !conv.loaded;
    if (scroll === "bottom") {
      log.scrollTop = log.scrollHeight;
    }
  };

  // New messages are added in one batch per frame, however fast they come.
  const renderQueue = [];
  let renderFrame = 0;
  const queueRender = (msg) => {
    renderQueue.push(msg);
    if (renderFrame) {
      return;
    }
    renderFrame = requestAnimationFrame(() => {
      renderFrame = 0;
      const log = document.getElementById("chat-log");
      if (!log) {
        renderQueue.length = 0;
        return;
      }
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      const fragment = document.createDocumentFragment();
      for (const queued of renderQueue.splice(0).slice(-RENDERED)) {
        fragment.append(messageNode(queued));
      }
      log.append(fragment);
      while (log.childElementCount > RENDERED) {
        log.firstElementChild.remove();
      }
      if (log.childElementCount >= RENDERED) {
        document.getElementById("chat-older").hidden = false;
      }
      if (atBottom) {
        log.scrollTop = log.scrollHeight;
      }
    });
  };

  // What a page does once the stream is ready (new or resumed).
  const opened = () => {
    drawContacts();
    if (current && !conversation(current).loaded) {
      loadHistory(current, false);
    }
  };

  // Signing out ends the chat at once (otherwise the parked session would look
  // available until [xmpp] resume_timeout_s): unavailable presence, then close.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || new URL(form.action).pathname !== "/mail/sign-out" || stopped) {
      return;
    }
    stopped = true;
    save("sm", null);
    save("unacked", []);
    const socket = ws;
    if (!socket || socket.readyState !== WebSocket.OPEN || !ready) {
      return;
    }
    event.preventDefault();
    raw(`<presence xmlns="${NS.client}" type="unavailable"/>`);
    raw(`<close xmlns="${NS.framing}"/>`);
    let sent = false;
    const done = () => {
      if (!sent) {
        sent = true;
        form.submit();
      }
    };
    socket.onclose = done;
    setTimeout(done, 1000);
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && current && state.unread[current]) {
      delete state.unread[current];
      saveState();
      drawBadge();
      drawContacts();
    }
  });

  buildPanel();
  drawBadge();
  drawContacts();
  connect();
})();
