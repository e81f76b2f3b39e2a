"""The SMTP service: mail from other servers (MX) and from users (submission)."""
