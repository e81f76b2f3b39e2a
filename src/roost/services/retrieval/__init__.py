"""IMAP Retrieval and POP Retrieval: users' mail fetched from other servers into the Spool."""
