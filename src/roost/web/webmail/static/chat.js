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
// Group rooms (XEP-0045) live in the same stream: their occupancy is the
// session's, so a page change (a resumption) keeps the user in every room
// without a leave and a join; a fresh session joins again the rooms this tab
// was in and those bookmarked to join (XEP-0402 bookmarks in PEP).
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
    discoInfo: "http://jabber.org/protocol/disco#info",
    discoItems: "http://jabber.org/protocol/disco#items",
    muc: "http://jabber.org/protocol/muc",
    mucUser: "http://jabber.org/protocol/muc#user",
    mucOwner: "http://jabber.org/protocol/muc#owner",
    pubsub: "http://jabber.org/protocol/pubsub",
    bookmarks: "urn:xmpp:bookmarks:1",
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
    // The rooms of this tab: {room: {nick, name, subject, joined, mam, occupants: {nick: {role, affiliation, show}}, recent}}
    rooms: load("rooms", {}),
    roomUnread: load("roomUnread", {}),
    bookmarks: load("bookmarks", null), // {room: {name, autojoin, nick}} from PEP, null until fetched
    muc: load("muc", null), // the MUC service's JID, "" when the server has none, null until asked
  };
  const KEPT = ["roster", "presence", "unread", "show", "rooms", "roomUnread", "bookmarks", "muc"];
  let saveTimer = 0;
  const saveState = () => {
    if (!saveTimer) {
      saveTimer = setTimeout(() => {
        saveTimer = 0;
        for (const name of KEPT) {
          save(name, state[name]);
        }
      }, 50);
    }
  };
  window.addEventListener("pagehide", () => {
    for (const name of KEPT) {
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
    // Room messages are not sent again: the new session is not in the room yet.
    const previous = unacked.filter((xml) => xml.startsWith("<message") && !xml.includes('type="groupchat"'));
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
      roomsStarted(true);
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
        roomsStarted(false);
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
    if (isRoom(bare)) {
      roomPresence(el, bare);
      return;
    }
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

  const showXml = () => (state.show === "available" ? "" : `<show>${esc(state.show)}</show>`);
  // XEP-0045 §7.7: a room hears of a status change by presence sent to it.
  const sendPresence = () => {
    send(`<presence xmlns="${NS.client}">${showXml()}</presence>`);
    for (const [room, joined] of Object.entries(state.rooms)) {
      if (joined.joined) {
        send(`<presence xmlns="${NS.client}" to="${esc(room + "/" + joined.nick)}">${showXml()}</presence>`);
      }
    }
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

  const bodyOf = (message) => kid(message, "body", NS.client) || kid(message, "body");
  // What a message says, when, and the keys that spot it again: the stanza-id the
  // archive `by` gave it (or `archiveId`, its id in an archive page), and the id
  // its `sender` gave it.
  const said = (message, body, by, sender, stamp, archiveId) => {
    const sidEl = kids(message, "stanza-id", NS.sid).find((s) => bareOf(s.getAttribute("by")) === by);
    const sid = archiveId || (sidEl ? sidEl.getAttribute("id") : null);
    const id = message.getAttribute("id");
    const keys = [];
    if (sid) {
      keys.push("s:" + sid);
    }
    if (id) {
      keys.push("i:" + sender + ":" + id);
    }
    const delay = kid(message, "delay", NS.delay);
    const when = stamp || (delay && delay.getAttribute("stamp")) || new Date().toISOString();
    return { text: body.textContent, when, sid, keys };
  };

  // One message as kept: who, what, when, and the keys that spot it again.
  const record = (message, stamp, archiveId) => {
    const body = bodyOf(message);
    if (!body) {
      return null;
    }
    const from = bareOf(message.getAttribute("from") || me);
    const to = bareOf(message.getAttribute("to") || me);
    const mine = from === me;
    const peer = mine ? to : from;
    return { peer, mine, ...said(message, body, me, from, stamp, archiveId) };
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
      const archive = query && query.room ? query.room : me;
      if (query && inner && bareOf(el.getAttribute("from") || me) === archive) {
        const stamp = delay && delay.getAttribute("stamp");
        const msg = query.room
          ? roomRecord(inner, query.room, stamp, result.getAttribute("id"))
          : record(inner, stamp, result.getAttribute("id"));
        if (msg) {
          query.found.push(msg);
        }
      }
      return;
    }
    const fromRoom = bareOf(el.getAttribute("from") || "");
    if (isRoom(fromRoom)) {
      roomMessage(el, fromRoom);
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
    arrived(conv, msg, !msg.mine, state.unread, drawContacts);
  };

  // A new message of a contact's or a room's (msg.peer): kept and shown; with
  // `counts`, notified and, unless read at once, counted in `unread` and redrawn
  // by `drawList`.
  const arrived = (conv, msg, counts, unread, drawList) => {
    const key = msg.peer;
    if (conv.behind) {
      // Paged back: show the newest again, from the archive, rather than a gap.
      conversations.delete(key);
      if (current === key) {
        loadHistory(key, false);
      }
    } else {
      append(conv, msg);
    }
    if (counts) {
      const reading = current === key && !document.hidden;
      if (!reading) {
        unread[key] = (unread[key] || 0) + 1;
        saveState();
        drawBadge();
        drawList();
      }
      notify(msg, reading);
    }
    if (current === key && !conv.behind) {
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
  const append = (conv, msg) => {
    remember(conv, msg);
    conv.msgs.push(msg);
    trim(conv);
  };
  // A message the page makes (the user's own, or a room's refusal) at the end of
  // its conversation, shown if that is open.
  const appendShown = (key, msg) => {
    append(conversation(key), msg);
    if (current === key) {
      queueRender(msg);
    }
  };
  // Of an archive page or a room's recent lines, those not kept yet, now kept.
  const keepNew = (conv, found) => {
    const fresh = found.filter((msg) => !known(conv, msg));
    for (const msg of fresh) {
      remember(conv, msg);
    }
    return fresh;
  };

  const sendMessage = (bare, text) => {
    const id = newId();
    const body = text.slice(0, SHOWN_CHARS);
    send(
      `<message xmlns="${NS.client}" type="chat" to="${esc(bare)}" id="${id}"><body>${esc(body)}</body>` +
        `<active xmlns="http://jabber.org/protocol/chatstates"/></message>`,
    );
    appendShown(bare, { peer: bare, mine: true, text: body, when: new Date().toISOString(), sid: null, keys: ["i:" + me + ":" + id] });
  };

  // The archive, newest page first; "Load older" asks for the page before.
  const loadHistory = (bare, older) => {
    if (isRoom(bare)) {
      loadRoomHistory(bare, older);
      return;
    }
    queryArchive(bare, null, older);
  };
  // One page of an archive: the user's own with the contact `key` (`room` null),
  // or the room's (`room` is `key`).
  const queryArchive = (key, room, older) => {
    const conv = conversation(key);
    if (conv.loading || !ready) {
      return;
    }
    conv.loading = true;
    const queryid = newId();
    mamQueries.set(queryid, { bare: key, room, found: [] });
    const oldest = older ? conv.msgs.find((m) => m.sid) : null;
    const before = oldest ? `<before>${esc(oldest.sid)}</before>` : "<before/>";
    const withField = room ? "" : `<field var="with"><value>${esc(key)}</value></field>`;
    iq(
      "set",
      `<query xmlns="${NS.mam}" queryid="${queryid}"><x xmlns="${NS.data}" type="submit">` +
        `<field var="FORM_TYPE" type="hidden"><value>${NS.mam}</value></field>${withField}</x>` +
        `<set xmlns="${NS.rsm}"><max>${PAGE}</max>${before}</set></query>`,
      (result, failed) => {
        conv.loading = false;
        const query = mamQueries.get(queryid);
        mamQueries.delete(queryid);
        if (failed || !query) {
          return;
        }
        const fin = kid(result, "fin", NS.mam);
        const fresh = keepNew(conv, query.found);
        conv.msgs = older ? fresh.concat(conv.msgs) : mergeByTime(fresh, conv.msgs);
        if (conv.msgs.length > RENDERED) {
          forget(conv, conv.msgs.splice(older ? RENDERED : 0, conv.msgs.length - RENDERED));
          conv.behind = older; // the newest left the page: the next message reloads them
        }
        conv.complete = !!fin && fin.getAttribute("complete") === "true";
        conv.loaded = true;
        if (current === key) {
          drawConversation(older ? "top" : "bottom");
        }
      },
      room,
    );
  };
  const mergeByTime = (a, b) => a.concat(b).sort((x, y) => (x.when < y.when ? -1 : x.when > y.when ? 1 : 0));

  // --- group rooms (XEP-0045), their bookmarks (XEP-0402) and their archive

  const isRoom = (key) => Object.prototype.hasOwnProperty.call(state.rooms, key);
  const bookmarked = (key) => !!(state.bookmarks && Object.prototype.hasOwnProperty.call(state.bookmarks, key));
  const myNick = () => me.split("@")[0];
  const roomName = (room) => {
    const kept = state.rooms[room];
    const mark = bookmarked(room) ? state.bookmarks[room] : null;
    return (kept && kept.name) || (mark && mark.name) || room.split("@")[0];
  };
  // RFC 7622 §3.3.1: what a localpart may not hold (and no spaces, for a room name one types).
  const ROOM_LOCAL = /^[^\s"&'/:<>@]+$/;
  const MAX_ROOM_CHARS = 200;
  const roomJidOf = (text) => {
    const name = text.trim().toLowerCase();
    const [local, host, extra] = name.split("@");
    if (!local || extra !== undefined || !ROOM_LOCAL.test(local) || name.length > MAX_ROOM_CHARS) {
      return null;
    }
    if (host !== undefined) {
      return /^[a-z0-9.-]+$/.test(host) ? name : null;
    }
    return state.muc ? local + "@" + state.muc : null;
  };
  const discoFeatures = (result) =>
    kids(kid(result, "query", NS.discoInfo), "feature", NS.discoInfo).map((f) => f.getAttribute("var"));
  const errorCondition = (stanza) => {
    const error = kid(stanza, "error", NS.client) || kid(stanza, "error");
    const condition = error ? Array.from(error.children).find((c) => c.namespaceURI === NS.stanzas && c.localName !== "text") : null;
    const text = error ? kid(error, "text", NS.stanzas) : null;
    return [condition ? condition.localName : "undefined-condition", text ? text.textContent.slice(0, 300) : ""];
  };
  const REFUSALS = {
    conflict: "Someone in the room has that nickname.",
    "item-not-found": "The room is not open yet: its owner has not set it up.",
    forbidden: "You are banned from this room.",
    "registration-required": "The room is for members only.",
    "not-authorized": "The room needs a password.",
    "service-unavailable": "The room is full.",
    "not-acceptable": "That room name or nickname is not acceptable.",
    "jid-malformed": "That is not a valid room name.",
    "resource-constraint": "You have created as many rooms as you may.",
    "remote-server-not-found": "There is no such chat service.",
  };
  const MAX_NICK_TRIES = 3;

  // The domain's MUC service: the item of the server's disco#items that says conference/text.
  const discoverMuc = (then) => {
    iq(
      "get",
      `<query xmlns="${NS.discoItems}"/>`,
      (result, failed) => {
        const items = failed
          ? []
          : kids(kid(result, "query", NS.discoItems), "item", NS.discoItems)
              .map((item) => item.getAttribute("jid"))
              .filter(Boolean)
              .slice(0, 20);
        const next = () => {
          const jid = items.shift();
          if (!jid) {
            state.muc = "";
            saveState();
            then();
            return;
          }
          iq(
            "get",
            `<query xmlns="${NS.discoInfo}"/>`,
            (info, bad) => {
              const identities = kids(kid(info, "query", NS.discoInfo), "identity", NS.discoInfo);
              if (!bad && identities.some((i) => i.getAttribute("category") === "conference")) {
                state.muc = bareOf(jid);
                saveState();
                then();
              } else {
                next();
              }
            },
            jid,
          );
        };
        next();
      },
      domain,
    );
  };

  const fetchBookmarks = (then) => {
    iq("get", `<pubsub xmlns="${NS.pubsub}"><items node="${NS.bookmarks}"/></pubsub>`, (result, failed) => {
      const found = {};
      const items = failed ? null : kid(kid(result, "pubsub", NS.pubsub), "items", NS.pubsub);
      for (const item of kids(items, "item", NS.pubsub)) {
        const conference = kid(item, "conference", NS.bookmarks);
        const jid = bareOf(item.getAttribute("id"));
        if (conference && roomJidOf(jid)) {
          const nick = kid(conference, "nick", NS.bookmarks);
          found[jid] = {
            name: (conference.getAttribute("name") || "").slice(0, MAX_ROOM_CHARS),
            autojoin: ["true", "1"].includes(conference.getAttribute("autojoin")),
            nick: nick ? nick.textContent.trim().slice(0, MAX_ROOM_CHARS) : "",
          };
        }
      }
      state.bookmarks = found;
      saveState();
      drawRooms();
      then();
    });
  };

  // XEP-0402 §3: one item per room in a whitelist node that keeps them all.
  const PUBLISH_OPTIONS =
    `<publish-options><x xmlns="${NS.data}" type="submit">` +
    `<field var="FORM_TYPE" type="hidden"><value>http://jabber.org/protocol/pubsub#publish-options</value></field>` +
    `<field var="pubsub#persist_items"><value>true</value></field>` +
    `<field var="pubsub#max_items"><value>max</value></field>` +
    `<field var="pubsub#send_last_published_item"><value>never</value></field>` +
    `<field var="pubsub#access_model"><value>whitelist</value></field></x></publish-options>`;
  const bookmark = (room) => {
    const kept = state.rooms[room];
    const name = kept.name ? ` name="${esc(kept.name)}"` : "";
    const item =
      `<item id="${esc(room)}"><conference xmlns="${NS.bookmarks}" autojoin="true"${name}>` +
      `<nick>${esc(kept.nick)}</nick></conference></item>`;
    const publish = (options) =>
      iq("set", `<pubsub xmlns="${NS.pubsub}"><publish node="${NS.bookmarks}">${item}</publish>${options}</pubsub>`, (result, failed) => {
        // A node another client made otherwise takes the item as it is.
        if (failed && options && result.getElementsByTagName("precondition-not-met").length) {
          publish("");
        }
      });
    publish(PUBLISH_OPTIONS);
    state.bookmarks = state.bookmarks || {};
    state.bookmarks[room] = { name: kept.name || "", autojoin: true, nick: kept.nick };
  };
  const unbookmark = (room) => {
    if (bookmarked(room)) {
      delete state.bookmarks[room];
      iq("set", `<pubsub xmlns="${NS.pubsub}"><retract node="${NS.bookmarks}" notify="true"><item id="${esc(room)}"/></retract></pubsub>`);
    }
  };

  // Join: the room's disco#info first (does it keep an archive?), then presence (§7.2).
  const joinRoom = (room, nick) => {
    if (!isRoom(room)) {
      // known: the room's disco#info has answered (whether it keeps an archive).
      state.rooms[room] = { nick: nick || myNick(), name: "", subject: "", joined: false, known: false, mam: false, occupants: {}, recent: [] };
    }
    const kept = state.rooms[room];
    kept.error = "";
    kept.tries = 0;
    saveState();
    drawRooms();
    if (!ready) {
      return;
    }
    iq(
      "get",
      `<query xmlns="${NS.discoInfo}"/>`,
      (info, failed) => {
        if (!isRoom(room)) {
          return;
        }
        kept.mam = !failed && discoFeatures(info).includes(NS.mam);
        kept.known = true;
        const identity = failed ? null : kid(kid(info, "query", NS.discoInfo), "identity", NS.discoInfo);
        if (identity && identity.getAttribute("name")) {
          kept.name = identity.getAttribute("name").slice(0, MAX_ROOM_CHARS);
        }
        enterRoom(room);
        if (current === room && !conversation(room).loaded) {
          loadRoomHistory(room, false);
        }
      },
      room,
    );
  };
  const enterRoom = (room) => {
    const kept = state.rooms[room];
    // With the room's archive the history comes from there, else from the room (§7.2.14).
    const history = `<history maxstanzas="${kept.mam ? 0 : PAGE}"/>`;
    send(`<presence xmlns="${NS.client}" to="${esc(room + "/" + kept.nick)}">${showXml()}<x xmlns="${NS.muc}">${history}</x></presence>`);
  };

  const leaveRoom = (room) => {
    const kept = state.rooms[room];
    if (kept && kept.joined) {
      send(`<presence xmlns="${NS.client}" type="unavailable" to="${esc(room + "/" + kept.nick)}"/>`);
    }
    delete state.rooms[room];
    delete state.roomUnread[room];
    conversations.delete(room);
    unbookmark(room);
    saveState();
    drawBadge();
    drawRooms();
    if (current === room) {
      current = null;
      showNothing();
    }
  };

  // The stream is ready: a fresh session joins again (the rooms of this tab and the
  // bookmarks to join); a resumed one is still in its rooms.
  const roomsStarted = (fresh) => {
    if (fresh) {
      for (const kept of Object.values(state.rooms)) {
        kept.joined = false;
        kept.occupants = {};
      }
      saveState();
    }
    const rejoin = () => {
      if (!fresh) {
        // Still in its rooms; only those asked for before the stream was ready wait.
        for (const [room, kept] of Object.entries(state.rooms)) {
          if (!kept.joined && !kept.error) {
            joinRoom(room, kept.nick);
          }
        }
        return;
      }
      const wanted = new Set(Object.keys(state.rooms));
      for (const [room, mark] of Object.entries(state.bookmarks || {})) {
        if (mark.autojoin) {
          wanted.add(room);
        }
      }
      for (const room of wanted) {
        joinRoom(room, (state.rooms[room] && state.rooms[room].nick) || (state.bookmarks[room] && state.bookmarks[room].nick));
      }
    };
    const bookmarks = () => {
      publicRooms();
      if (fresh || state.bookmarks === null) {
        fetchBookmarks(rejoin);
      } else {
        rejoin();
      }
    };
    if (state.muc === null) {
      discoverMuc(bookmarks);
    } else {
      bookmarks();
    }
  };

  // The service's public rooms, offered as names to join (§6.3).
  const publicRooms = () => {
    const list = document.getElementById("chat-room-list");
    if (!list || !state.muc) {
      return;
    }
    iq(
      "get",
      `<query xmlns="${NS.discoItems}"/>`,
      (result, failed) => {
        const options = [];
        for (const item of failed ? [] : kids(kid(result, "query", NS.discoItems), "item", NS.discoItems).slice(0, 200)) {
          const jid = bareOf(item.getAttribute("jid"));
          if (jid.endsWith("@" + state.muc)) {
            options.push(el("option", { value: jid.split("@")[0] }, (item.getAttribute("name") || "").slice(0, MAX_ROOM_CHARS)));
          }
        }
        list.replaceChildren(...options);
      },
      state.muc,
    );
  };

  const roomPresence = (stanza, room) => {
    const kept = state.rooms[room];
    const nick = resourceOf(stanza.getAttribute("from") || "");
    const type = stanza.getAttribute("type");
    const x = kid(stanza, "x", NS.mucUser);
    const codes = kids(x, "status", NS.mucUser).map((s) => s.getAttribute("code"));
    const item = kid(x, "item", NS.mucUser);
    const self = codes.includes("110") || (!!nick && nick === kept.nick && !!item && bareOf(item.getAttribute("jid")) === me);
    if (type === "error") {
      const [condition, text] = errorCondition(stanza);
      if (condition === "conflict" && kept.tries < MAX_NICK_TRIES) {
        kept.tries += 1;
        kept.nick = `${myNick()} (${kept.tries + 1})`;
        enterRoom(room);
        return;
      }
      kept.joined = false;
      kept.error = REFUSALS[condition] || text || condition;
    } else if (!nick) {
      return;
    } else if (type === "unavailable") {
      delete kept.occupants[nick];
      const renamed = item && item.getAttribute("nick");
      if (self && codes.includes("303") && renamed) {
        kept.nick = renamed; // §7.6: the available presence under the new name follows
      } else if (self) {
        kept.joined = false;
        kept.occupants = {};
        kept.error = codes.includes("307")
          ? "You were removed from the room."
          : codes.includes("301")
            ? "You are banned from this room."
            : kid(x, "destroy", NS.mucUser)
              ? "The room was closed."
              : codes.includes("321") || codes.includes("322")
                ? "The room is for members only now."
                : "You are no longer in the room.";
      }
    } else if (type === null) {
      const show = kid(stanza, "show", NS.client);
      kept.occupants[nick] = {
        role: (item && item.getAttribute("role")) || "participant",
        affiliation: (item && item.getAttribute("affiliation")) || "none",
        show: show ? show.textContent.trim() : "available",
      };
      if (self) {
        const entered = !kept.joined;
        kept.joined = true;
        kept.nick = nick;
        kept.error = "";
        if (codes.includes("201")) {
          // §10.1.2: an instant room, the default configuration accepted.
          iq(
            "set",
            `<query xmlns="${NS.mucOwner}"><x xmlns="${NS.data}" type="submit"/></query>`,
            (result, failed) => {
              if (failed) {
                kept.error = "The room could not be set up.";
                drawHeader();
                return;
              }
              iq("get", `<query xmlns="${NS.discoInfo}"/>`, (info, bad) => {
                kept.mam = !bad && discoFeatures(info).includes(NS.mam);
                saveState();
              }, room);
            },
            room,
          );
        }
        if (entered && !bookmarked(room)) {
          bookmark(room);
        }
      }
    }
    saveState();
    drawRooms();
    if (current === room) {
      drawHeader();
      drawOccupants();
    }
  };

  // One room message as kept: the sender's nickname instead of a contact.
  const roomRecord = (message, room, stamp, archiveId) => {
    const body = bodyOf(message);
    if (!body) {
      return null;
    }
    const nick = resourceOf(message.getAttribute("from") || "");
    const kept = state.rooms[room];
    return { peer: room, nick, mine: !!kept && nick === kept.nick, ...said(message, body, room, nick, stamp, archiveId) };
  };

  const roomMessage = (stanza, room) => {
    const kept = state.rooms[room];
    const type = stanza.getAttribute("type") || "normal";
    if (type === "error") {
      const [condition, text] = errorCondition(stanza);
      if (condition === "not-acceptable" && kept.joined) {
        // §7.2.x: the room no longer knows us (it restarted): enter again.
        kept.joined = false;
        joinRoom(room, kept.nick);
      }
      systemLine(room, `Not delivered: ${REFUSALS[condition] && condition !== "conflict" ? REFUSALS[condition] : text || condition}`);
      return;
    }
    const subject = kid(stanza, "subject", NS.client);
    const hasBody = !!kid(stanza, "body", NS.client);
    if (type === "groupchat" && subject && !hasBody) {
      kept.subject = subject.textContent.slice(0, SHOWN_CHARS);
      saveState();
      if (current === room) {
        drawHeader();
      }
      return;
    }
    const msg = roomRecord(stanza, room, null, null);
    if (!msg || !msg.nick) {
      return;
    }
    if (type !== "groupchat") {
      msg.private = true; // §7.5: a private message from an occupant
      msg.keys = msg.keys.map((key) => "p" + key);
    }
    const conv = conversation(room);
    if (known(conv, msg)) {
      return;
    }
    if (!kept.mam && !msg.private) {
      // Without the room's archive a later page shows what this one kept.
      const more = Math.max(msg.text.length - SHOWN_CHARS, 0);
      kept.recent.push({ ...msg, text: msg.text.slice(0, SHOWN_CHARS), more });
      kept.recent.splice(0, kept.recent.length - PAGE);
      saveState();
    }
    const live = !kid(stanza, "delay", NS.delay);
    arrived(conv, msg, !msg.mine && live, state.roomUnread, drawRooms);
  };

  // A line of the room's own (a refusal), shown in its log only.
  const systemLine = (room, text) => {
    appendShown(room, { peer: room, nick: "", mine: false, system: true, text, when: new Date().toISOString(), sid: null, keys: [] });
  };

  const sendGroupchat = (room, text) => {
    const kept = state.rooms[room];
    if (!kept || !kept.joined) {
      systemLine(room, "Not sent: you are not in the room.");
      return;
    }
    // The room echoes the message to every occupant, us included (§7.4): it shows then.
    send(`<message xmlns="${NS.client}" type="groupchat" to="${esc(room)}" id="${newId()}"><body>${esc(text.slice(0, SHOWN_CHARS))}</body></message>`);
  };

  const loadRoomHistory = (room, older) => {
    const conv = conversation(room);
    const kept = state.rooms[room];
    if (kept.known === false) {
      return; // joinRoom loads it once the room has said whether it keeps an archive
    }
    if (!kept.mam) {
      if (!conv.loaded) {
        conv.msgs = mergeByTime(keepNew(conv, kept.recent), conv.msgs);
        trim(conv);
        conv.loaded = true;
        conv.complete = true;
      }
      if (current === room) {
        drawConversation("bottom");
      }
      return;
    }
    queryArchive(room, room, older);
  };

  // --- the page: badge and notice everywhere, the panel on /mail/chat

  const drawBadge = () => {
    const badge = document.getElementById("chat-badge");
    if (!badge) {
      return;
    }
    const count = (unread) => Object.values(unread).reduce((sum, n) => sum + n, 0);
    const total = count(state.unread) + count(state.roomUnread);
    badge.textContent = total ? String(total) : "";
    badge.hidden = !total;
    badge.title = total ? `${total} unread chat message${total === 1 ? "" : "s"}` : "";
  };

  const nameOf = (bare) => (state.roster && state.roster[bare] && state.roster[bare].name) || bare;
  const shorten = (text, more = 0) => {
    const extra = Math.max(text.length - SHOWN_CHARS, 0) + more;
    return extra ? [text.slice(0, SHOWN_CHARS), `… (${extra} more characters not shown)`] : [text, ""];
  };

  let noticeTimer = 0;
  const notify = (msg, reading) => {
    const [text] = shorten(msg.text);
    const preview = text.length > 140 ? text.slice(0, 140) + "…" : text;
    const room = msg.nick !== undefined;
    if (!reading) {
      const notice = document.getElementById("chat-notice");
      if (notice) {
        notice.replaceChildren();
        const link = document.createElement("a");
        link.href = "/mail/chat#" + encodeURIComponent(msg.peer);
        link.textContent = room ? `${msg.nick} in ${roomName(msg.peer)}: ` : `New message from ${nameOf(msg.peer)}: `;
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
    // Room traffic shows on the page only: a busy room would bury the desktop.
    if (!room && (document.hidden || !reading) && window.Notification && Notification.permission === "granted") {
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
    const roomsTitle = el("h3", {}, "Rooms");
    const rooms = el("ul", { id: "chat-rooms", class: "chat-contacts" });
    const join = el("form", { id: "chat-room-form", class: "chat-room-form" });
    const joinLabel = el("label", { for: "chat-room-name" }, "Join or create a room");
    const joinName = el("input", { id: "chat-room-name", list: "chat-room-list", maxlength: String(MAX_ROOM_CHARS), autocomplete: "off", placeholder: "room name" });
    const joinButton = el("button", { type: "submit", id: "chat-room-join" }, "Join");
    const joinError = el("p", { id: "chat-room-error", class: "chat-room-error", role: "alert" });
    join.append(joinLabel, joinName, el("datalist", { id: "chat-room-list" }), joinButton, joinError);
    join.addEventListener("submit", (event) => {
      event.preventDefault();
      const room = roomJidOf(joinName.value);
      joinError.textContent = "";
      if (state.muc === "") {
        joinError.textContent = "This server has no chat rooms.";
      } else if (!ready || state.muc === null) {
        joinError.textContent = "The chat is not connected yet.";
      } else if (!room) {
        joinError.textContent = "A room name has no spaces and none of \" & ' / : < > @.";
      } else {
        joinName.value = "";
        if (!isRoom(room) || !state.rooms[room].joined) {
          joinRoom(room, bookmarked(room) ? state.bookmarks[room].nick : "");
        }
        choose(room);
      }
    });
    side.append(mine, contacts, roomsTitle, rooms, join);
    const main = el("div", { class: "chat-main" });
    const top = el("div", { class: "chat-top" });
    const header = el("h2", { id: "chat-with" }, "Choose a contact or a room");
    const leave = el("button", { type: "button", id: "chat-leave", hidden: "" }, "Leave the room");
    leave.addEventListener("click", () => current && isRoom(current) && leaveRoom(current));
    top.append(header, leave);
    const subject = el("p", { id: "chat-subject", class: "chat-subject", hidden: "" });
    const older = el("button", { type: "button", id: "chat-older", hidden: "" }, "Load older messages");
    older.addEventListener("click", () => current && loadHistory(current, true));
    const log = el("ol", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
    const occupants = el("ul", { id: "chat-occupants", class: "chat-occupants", "aria-label": "In the room", hidden: "" });
    const body = el("div", { class: "chat-body" });
    body.append(log, occupants);
    const form = el("form", { id: "chat-form", class: "chat-form", hidden: "" });
    const box = el("textarea", { id: "chat-text", rows: "2", maxlength: String(SHOWN_CHARS), "aria-label": "Message" });
    const button = el("button", { type: "submit", class: "primary" }, "Send");
    form.append(box, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = box.value.trim();
      if (text && current && ready) {
        if (isRoom(current)) {
          sendGroupchat(current, text);
        } else {
          sendMessage(current, text);
        }
        box.value = "";
      }
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    main.append(top, subject, older, body, form);
    panel.replaceChildren(side, main);
    const wanted = decodeURIComponent(location.hash.slice(1)).toLowerCase();
    if (wanted.includes("@")) {
      if (!isRoom(wanted) && (bookmarked(wanted) || (state.muc && wanted.endsWith("@" + state.muc)))) {
        joinRoom(wanted, bookmarked(wanted) ? state.bookmarks[wanted].nick : "");
      }
      choose(wanted);
    }
  };

  const showNothing = () => {
    history.replaceState(null, "", location.pathname + location.search);
    document.getElementById("chat-with").textContent = "Choose a contact or a room";
    document.getElementById("chat-form").hidden = true;
    document.getElementById("chat-leave").hidden = true;
    document.getElementById("chat-subject").hidden = true;
    document.getElementById("chat-occupants").hidden = true;
    document.getElementById("chat-older").hidden = true;
    document.getElementById("chat-log").replaceChildren();
    drawContacts();
  };

  // The contact's or room's messages are read: no longer counted.
  const markRead = (key) => {
    if (state.unread[key] || state.roomUnread[key]) {
      delete state.unread[key];
      delete state.roomUnread[key];
      saveState();
      drawBadge();
      drawContacts();
      drawRooms();
    }
  };

  const choose = (bare) => {
    if (!isRoom(bare) && bookmarked(bare)) {
      joinRoom(bare, state.bookmarks[bare].nick);
    }
    current = bare;
    markRead(bare);
    history.replaceState(null, "", "#" + encodeURIComponent(bare));
    drawContacts();
    drawRooms();
    drawHeader();
    drawOccupants();
    document.getElementById("chat-form").hidden = false;
    drawConversation("bottom");
    if (!conversation(bare).loaded) {
      loadHistory(bare, false);
    }
    document.getElementById("chat-text").focus();
  };

  // A part of the panel drawn at most once a frame, however often it is asked for.
  const perFrame = (draw) => {
    let frame = 0;
    return () => {
      if (!panel || frame) {
        return;
      }
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
    };
  };

  const drawContacts = perFrame(() => {
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

  const drawRooms = perFrame(() => {
    const holder = document.getElementById("chat-rooms");
    if (!holder) {
      return;
    }
    const all = new Set([...Object.keys(state.rooms), ...Object.keys(state.bookmarks || {})]);
    const items = [];
    for (const room of Array.from(all).sort((a, b) => roomName(a).localeCompare(roomName(b)))) {
      const kept = state.rooms[room];
      const joined = !!(kept && kept.joined);
      const item = el("li", { "data-room": room, "data-joined": String(joined), class: room === current ? "current" : "" });
      const button = el("button", { type: "button", title: room });
      const dot = el("span", { class: "chat-dot " + (joined ? "chat-available" : "chat-offline") });
      const status = joined ? "In" : kept && kept.error ? "Not in" : kept ? "Joining" : "";
      button.append(dot, el("span", { class: "chat-name" }, roomName(room)), el("span", { class: "chat-status" }, status));
      if (state.roomUnread[room]) {
        button.append(el("span", { class: "chat-unread", title: "unread" }, String(state.roomUnread[room])));
      }
      button.addEventListener("click", () => choose(room));
      item.append(button);
      items.push(item);
    }
    if (!items.length) {
      const none = state.muc === "" ? "This server has no chat rooms." : "No rooms yet.";
      items.push(el("li", { class: "absent" }, none));
    }
    holder.replaceChildren(...items);
  });

  const ROLES = { moderator: 0, participant: 1, visitor: 2 };
  const drawOccupants = perFrame(() => {
    const list = document.getElementById("chat-occupants");
    if (!list) {
      return;
    }
    if (!current || !isRoom(current)) {
      list.hidden = true;
      list.replaceChildren();
      return;
    }
    const kept = state.rooms[current];
    const rank = (nick) => ROLES[kept.occupants[nick].role] ?? 3;
    const nicks = Object.keys(kept.occupants).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    const items = nicks.map((nick) => {
      const who = kept.occupants[nick];
      const show = SHOWS[who.show] ? (who.show === "xa" ? "away" : who.show === "chat" ? "available" : who.show) : "available";
      const item = el("li", { "data-nick": nick, "data-role": who.role });
      item.append(
        el("span", { class: "chat-dot chat-" + show, title: SHOWS[show] || "Available" }),
        el("span", { class: "chat-name" }, nick === kept.nick ? `${nick} (you)` : nick),
        el("span", { class: "chat-status" }, who.role),
      );
      return item;
    });
    list.replaceChildren(...items);
    list.hidden = false;
  });

  const drawHeader = () => {
    const header = document.getElementById("chat-with");
    if (header && current && isRoom(current)) {
      const kept = state.rooms[current];
      const count = Object.keys(kept.occupants).length;
      const where = kept.joined ? `${count} in the room` : kept.error || "joining…";
      header.textContent = `${roomName(current)} · ${where}`;
      header.dataset.show = kept.joined ? "joined" : "out";
      const subject = document.getElementById("chat-subject");
      subject.textContent = kept.subject || "";
      subject.hidden = !kept.subject;
      document.getElementById("chat-leave").hidden = false;
      return;
    }
    if (header && current) {
      document.getElementById("chat-subject").hidden = true;
      document.getElementById("chat-leave").hidden = true;
      const show = showOf(current);
      header.textContent = `${nameOf(current)} · ${SHOWS[show] || "Offline"}`;
      header.dataset.show = show;
    }
  };

  const messageNode = (msg) => {
    if (msg.system) {
      return el("li", { class: "chat-msg chat-system" }, msg.text);
    }
    const item = el("li", { class: "chat-msg " + (msg.mine ? "chat-mine" : "chat-theirs") });
    const when = new Date(msg.when);
    const who = msg.nick === undefined ? nameOf(msg.peer) : msg.nick + (msg.private ? " (private)" : "");
    const meta = el("span", { class: "chat-meta" }, `${msg.mine ? "You" : who} · ${isNaN(when) ? "" : when.toLocaleString()}`);
    const [text, rest] = shorten(msg.text, msg.more);
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
    if (!document.hidden && current) {
      markRead(current);
    }
  });

  buildPanel();
  drawBadge();
  drawContacts();
  drawRooms();
  connect();
})();
