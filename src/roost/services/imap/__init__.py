"""The IMAP service (RFC 9051, RFC 3501): listeners, sessions and command handlers."""
