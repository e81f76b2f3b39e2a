"""The IMAP server protocol (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1), sans-I/O.

Modules: `values` (the data model of IMAP responses), `framing` (command
lines with their literals), `parser` and `commands` (the grammar), `writer`
(responses to bytes), `bodystructure` and `envelope` (FETCH data built from
the stored MIME structure), `threads` (RFC 5256 base subjects and THREAD
algorithms), `connection` with `events` and `session_state` (the
connection's state machine). Import from the modules themselves.

The grammar in more detail: `framing` splits bytes into commands
(`CommandFramer`: synchronising, LITERAL+/- and literal8 literals, named
limits, TOOBIG refusals); `parser.parse_command` turns one into a value of
`commands` (grouped by state: `anystate`, `nonauth`, `auth`, `listing`,
`selected`) or raises `errors.ParseError`, the only thing a client can make
it raise; `reader` holds the lexical productions, `sequence` the sequence
sets, `mutf7` modified UTF-7 mailbox names, `search` the search keys and
`fetch` the FETCH attributes; `printer.print_command` is the parser's
inverse; `responses` names status conditions and response codes, and
`writer` writes them with the data (`rejection` answers a `ParseError`).
"""
