"""The XMPP service: chat for every mail account (RFC 6120, RFC 6121).

Shaped like Prosody and ejabberd: one session per client stream
(`roost.services.xmpp.session`) drives the sans-I/O core in
`roost.proto.xmpp`; a session manager keyed by bare and full JID
(`roost.services.xmpp.sessions`) binds resources under a conflict policy;
a router (`roost.services.xmpp.router`) applies RFC 6121 §8.5 to local
addresses and answers every other domain with ``remote-server-not-found``;
the server's own IQs (`roost.services.xmpp.iq`) are disco, ping, version,
the roster (stored, merged with every user of the domain while
``[xmpp] domain_roster`` is on; `roost.services.xmpp.roster`), blocking,
vcard-temp, private storage and carbons. Subscriptions follow RFC 6121
Appendix A (`roost.services.xmpp.subscription`); offline messages wait in
the store (XEP-0160). The archive (`archive`, XEP-0313), personal
eventing (`pep`, XEP-0163, with entity capabilities in `caps`,
XEP-0115), client state indication (XEP-0352, in the session) and
stream management with resumption (XEP-0198, `resumption`) are built.
"""
