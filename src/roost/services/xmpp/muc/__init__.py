"""Multi-user chat (XEP-0045) at ``conference.<domain>``.

- `roles` — affiliations and roles and who may change which (§5);
- `config` — the room configuration and its data form (§10.2);
- `history` — discussion history on entering (§7.2.15);
- `room` — one room's state machine: stanzas in, stanzas out;
- `admin` — the admin and owner IQs (§8-§10);
- `keeper` — persistent rooms in the store;
- `relay` — the room archive (XEP-0313) answered through the archive module;
- `component` — the component the router hands stanzas to.
"""

from roost.services.xmpp.muc.component import LABEL, MucComponent

__all__ = ["LABEL", "MucComponent"]
