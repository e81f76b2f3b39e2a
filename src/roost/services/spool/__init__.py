"""The Spool service: every message passes through it on its way to a mailbox or another server."""
