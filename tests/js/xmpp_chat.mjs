// xmpp.js (@xmpp/client) as an XMPP app: sign in, send one chat message,
// wait for one back, sign out. Driven by tests/clients/test_xmpp_js.py.
//
// Usage: node [--experimental-websocket] xmpp_chat.mjs SERVICE DOMAIN USER PASSWORD PEER TEXT
//   SERVICE: ws://127.0.0.1:PORT/xmpp-websocket or xmpp://127.0.0.1:PORT (STARTTLS)
// Prints "ONLINE <jid>", then "RECEIVED <from> <body>", and exits 0; exits 1
// with the error on stderr on any failure or after TIMEOUT_MS.
import { client, xml } from "@xmpp/client";

const TIMEOUT_MS = 120000;
const [service, domain, username, password, peer, text] = process.argv.slice(2);

const xmpp = client({ service, domain, username, password, resource: "xmppjs" });
const timer = setTimeout(() => fail(new Error("timed out")), TIMEOUT_MS);

function fail(error) {
  console.error(`FAILED ${error && error.message ? error.message : error}`);
  process.exit(1);
}

xmpp.on("error", fail);
xmpp.on("online", async (address) => {
  console.log(`ONLINE ${address.toString()}`);
  await xmpp.send(xml("presence"));
  await xmpp.send(xml("message", { type: "chat", to: peer }, xml("body", {}, text)));
});
xmpp.on("stanza", async (stanza) => {
  if (!stanza.is("message")) return;
  const body = stanza.getChildText("body");
  if (body === null || body === undefined) return;
  console.log(`RECEIVED ${stanza.attrs.from} ${body}`);
  clearTimeout(timer);
  await xmpp.stop();
  process.exit(0);
});

xmpp.start().catch(fail);
