"""Error conditions: stream errors, stanza errors and SASL failures.

Each kind is an enum whose values are the element names RFC 6120 defines,
with a builder for the element that carries it. Nothing else in the
package spells a condition name.
"""

from __future__ import annotations

import enum

from roost.proto.xmpp import namespaces as ns
from roost.proto.xmpp.element import Element

DEFAULT_LANG = "en"
"""Language of the ``<text/>`` Roost puts in errors (RFC 6120 §4.9.2)."""


class StreamErrorCondition(enum.Enum):
    """Stream error conditions (RFC 6120 §4.9.3); any of them ends the stream."""

    BAD_FORMAT = "bad-format"
    BAD_NAMESPACE_PREFIX = "bad-namespace-prefix"
    CONFLICT = "conflict"
    CONNECTION_TIMEOUT = "connection-timeout"
    HOST_GONE = "host-gone"
    HOST_UNKNOWN = "host-unknown"
    IMPROPER_ADDRESSING = "improper-addressing"
    INTERNAL_SERVER_ERROR = "internal-server-error"
    INVALID_FROM = "invalid-from"
    INVALID_NAMESPACE = "invalid-namespace"
    INVALID_XML = "invalid-xml"
    NOT_AUTHORIZED = "not-authorized"
    NOT_WELL_FORMED = "not-well-formed"
    POLICY_VIOLATION = "policy-violation"
    REMOTE_CONNECTION_FAILED = "remote-connection-failed"
    RESET = "reset"
    RESOURCE_CONSTRAINT = "resource-constraint"
    RESTRICTED_XML = "restricted-xml"
    SEE_OTHER_HOST = "see-other-host"
    SYSTEM_SHUTDOWN = "system-shutdown"
    UNDEFINED_CONDITION = "undefined-condition"
    UNSUPPORTED_ENCODING = "unsupported-encoding"
    UNSUPPORTED_FEATURE = "unsupported-feature"
    UNSUPPORTED_STANZA_TYPE = "unsupported-stanza-type"
    UNSUPPORTED_VERSION = "unsupported-version"


class ErrorType(enum.Enum):
    """The ``type`` of a stanza error: what the sender may do (RFC 6120 §8.3.2)."""

    AUTH = "auth"
    CANCEL = "cancel"
    CONTINUE = "continue"
    MODIFY = "modify"
    WAIT = "wait"


class StanzaErrorCondition(enum.Enum):
    """Stanza error conditions (RFC 6120 §8.3.3), each with the error type
    the RFC says it SHOULD carry."""

    BAD_REQUEST = "bad-request"
    CONFLICT = "conflict"
    FEATURE_NOT_IMPLEMENTED = "feature-not-implemented"
    FORBIDDEN = "forbidden"
    GONE = "gone"
    INTERNAL_SERVER_ERROR = "internal-server-error"
    ITEM_NOT_FOUND = "item-not-found"
    JID_MALFORMED = "jid-malformed"
    NOT_ACCEPTABLE = "not-acceptable"
    NOT_ALLOWED = "not-allowed"
    NOT_AUTHORIZED = "not-authorized"
    POLICY_VIOLATION = "policy-violation"
    RECIPIENT_UNAVAILABLE = "recipient-unavailable"
    REDIRECT = "redirect"
    REGISTRATION_REQUIRED = "registration-required"
    REMOTE_SERVER_NOT_FOUND = "remote-server-not-found"
    REMOTE_SERVER_TIMEOUT = "remote-server-timeout"
    RESOURCE_CONSTRAINT = "resource-constraint"
    SERVICE_UNAVAILABLE = "service-unavailable"
    SUBSCRIPTION_REQUIRED = "subscription-required"
    UNDEFINED_CONDITION = "undefined-condition"
    UNEXPECTED_REQUEST = "unexpected-request"

    @property
    def default_type(self) -> ErrorType:
        """The type RFC 6120 §8.3.3 names for this condition."""
        return _DEFAULT_TYPES.get(self, ErrorType.CANCEL)


_DEFAULT_TYPES = {
    StanzaErrorCondition.BAD_REQUEST: ErrorType.MODIFY,
    StanzaErrorCondition.FORBIDDEN: ErrorType.AUTH,
    StanzaErrorCondition.JID_MALFORMED: ErrorType.MODIFY,
    StanzaErrorCondition.NOT_ACCEPTABLE: ErrorType.MODIFY,
    StanzaErrorCondition.NOT_AUTHORIZED: ErrorType.AUTH,
    StanzaErrorCondition.POLICY_VIOLATION: ErrorType.MODIFY,
    StanzaErrorCondition.RECIPIENT_UNAVAILABLE: ErrorType.WAIT,
    StanzaErrorCondition.REDIRECT: ErrorType.MODIFY,
    StanzaErrorCondition.REGISTRATION_REQUIRED: ErrorType.AUTH,
    StanzaErrorCondition.REMOTE_SERVER_TIMEOUT: ErrorType.WAIT,
    StanzaErrorCondition.RESOURCE_CONSTRAINT: ErrorType.WAIT,
    StanzaErrorCondition.SUBSCRIPTION_REQUIRED: ErrorType.AUTH,
    StanzaErrorCondition.UNEXPECTED_REQUEST: ErrorType.WAIT,
}


class SaslCondition(enum.Enum):
    """SASL failure conditions (RFC 6120 §6.5); the client may try again."""

    ABORTED = "aborted"
    ACCOUNT_DISABLED = "account-disabled"
    CREDENTIALS_EXPIRED = "credentials-expired"
    ENCRYPTION_REQUIRED = "encryption-required"
    INCORRECT_ENCODING = "incorrect-encoding"
    INVALID_AUTHZID = "invalid-authzid"
    INVALID_MECHANISM = "invalid-mechanism"
    MALFORMED_REQUEST = "malformed-request"
    MECHANISM_TOO_WEAK = "mechanism-too-weak"
    NOT_AUTHORIZED = "not-authorized"
    TEMPORARY_AUTH_FAILURE = "temporary-auth-failure"


def _text(namespace: str, text: str | None) -> list[Element]:
    if not text:
        return []
    return [Element.of("text", namespace, {ns.XML_LANG: DEFAULT_LANG}, [text])]


def stream_error(condition: StreamErrorCondition, text: str | None = None) -> Element:
    """``<stream:error>`` with ``condition`` and an optional English text
    (RFC 6120 §4.9.2). For ``see-other-host`` the text is the host to use
    and goes inside the condition element (§4.9.3.19)."""
    if condition is StreamErrorCondition.SEE_OTHER_HOST and text:
        return Element.of(
            "error", ns.STREAM, children=[Element.of(condition.value, ns.STREAMS, children=[text])]
        )
    children = [Element(condition.value, ns.STREAMS), *_text(ns.STREAMS, text)]
    return Element.of("error", ns.STREAM, children=children)


def stanza_error(
    condition: StanzaErrorCondition,
    *,
    error_type: ErrorType | None = None,
    text: str | None = None,
    by: str | None = None,
) -> Element:
    """The ``<error/>`` child of an error stanza (RFC 6120 §8.3.2), in the
    ``jabber:client`` namespace like the stanza around it."""
    kind = error_type or condition.default_type
    children = [Element(condition.value, ns.STANZAS), *_text(ns.STANZAS, text)]
    return Element.of("error", ns.CLIENT, {"type": kind.value, "by": by}, children)


def sasl_failure(condition: SaslCondition, text: str | None = None) -> Element:
    """``<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>`` (RFC 6120 §6.4.5)."""
    children = [Element(condition.value, ns.SASL), *_text(ns.SASL, text)]
    return Element.of("failure", ns.SASL, children=children)


def condition_of(error: Element, namespace: str) -> str | None:
    """The condition name inside a ``<stream:error/>`` or ``<error/>``
    received from the peer: its first child in ``namespace`` other than
    ``<text/>``, or None."""
    for child in error.elements():
        if child.namespace == namespace and child.name != "text":
            return child.name
    return None
