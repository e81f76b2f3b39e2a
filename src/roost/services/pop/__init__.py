"""The POP service: mailbox download over POP3 with STLS or implicit TLS."""
