"""The room configuration form (XEP-0045 §10.2): rendered, submitted back,
refused when a value is out of shape, and kept as JSON."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.proto.xmpp import Element, StanzaErrorCondition
from roost.services.xmpp.muc.config import (
    DATA_FORMS,
    ROOMCONFIG,
    FormError,
    Limits,
    RoomConfig,
    features,
    form,
    from_json,
    parse_submission,
    submitted_values,
    to_json,
)

LIMITS = Limits(max_occupants=50, max_history=30)


def field(var: str, value: str) -> Element:
    return Element.of(
        "field", DATA_FORMS, {"var": var}, [Element.of("value", DATA_FORMS, (), [value])]
    )


def submit(*fields: Element) -> Element:
    return Element.of("x", DATA_FORMS, {"type": "submit"}, fields)


def test_form_round_trip_keeps_the_configuration() -> None:
    config = RoomConfig(name="Lobby", persistent=True, password="pw", max_occupants=20)
    rendered = form(config, "Configure")
    values = submitted_values(rendered)
    assert values["FORM_TYPE"] == [ROOMCONFIG]
    assert values["muc#roomconfig_persistentroom"] == ["1"]
    assert values["muc#roomconfig_passwordprotectedroom"] == ["1"]
    # An owner who submits the form unchanged changes nothing.
    back = parse_submission(rendered.with_attribute("type", "submit"), config, LIMITS)
    assert back == config


def test_an_empty_submission_is_an_instant_room() -> None:
    assert parse_submission(submit(), RoomConfig(), LIMITS) == RoomConfig()


def test_fields_change_what_they_name() -> None:
    config = parse_submission(
        submit(
            field("FORM_TYPE", ROOMCONFIG),
            field("muc#roomconfig_membersonly", "true"),
            field("muc#roomconfig_moderatedroom", "1"),
            field("muc#roomconfig_publicroom", "0"),
            field("muc#roomconfig_maxusers", "10"),
            field("muc#maxhistoryfetch", "5"),
            field("muc#roomconfig_whois", "anyone"),
            field("muc#roomconfig_roomsecret", "s3cret"),
            field("muc#roomconfig_passwordprotectedroom", "1"),
            field("x-unknown#field", "ignored"),
        ),
        RoomConfig(),
        LIMITS,
    )
    assert config.members_only and config.moderated and not config.public
    assert (config.max_occupants, config.history_length) == (10, 5)
    assert config.whois == "anyone" and config.password == "s3cret"
    assert features(config) == (
        "muc_temporary",
        "muc_hidden",
        "muc_membersonly",
        "muc_moderated",
        "muc_passwordprotected",
        "muc_nonanonymous",
    )
    # Unticking "password protected" removes the password.
    unprotected = parse_submission(
        submit(field("muc#roomconfig_passwordprotectedroom", "0")), config, LIMITS
    )
    assert unprotected.password == ""


@pytest.mark.parametrize(
    ("var", "value", "condition"),
    [
        ("muc#roomconfig_maxusers", "51", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_maxusers", "0", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_maxusers", "many", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#maxhistoryfetch", "31", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_persistentroom", "yes", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_whois", "everyone", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_roomname", "bad\x07name", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("muc#roomconfig_passwordprotectedroom", "1", StanzaErrorCondition.NOT_ACCEPTABLE),
        ("FORM_TYPE", "urn:other", StanzaErrorCondition.BAD_REQUEST),
    ],
)
def test_bad_values_refused(var: str, value: str, condition: StanzaErrorCondition) -> None:
    with pytest.raises(FormError) as refused:
        parse_submission(submit(field(var, value)), RoomConfig(), LIMITS)
    assert refused.value.condition == condition


def test_only_a_submission_configures() -> None:
    with pytest.raises(FormError):
        parse_submission(Element.of("x", DATA_FORMS, {"type": "form"}), RoomConfig(), LIMITS)


def test_json_round_trip_and_damaged_rows() -> None:
    config = RoomConfig(name="Lobby", members_only=True, max_occupants=7)
    default = RoomConfig(max_occupants=99)
    assert from_json(to_json(config), default) == config
    assert from_json("not json", default) == default
    assert from_json('{"max_occupants": "seven", "name": "X"}', default) == RoomConfig(
        name="X", max_occupants=99
    )


_VARS = st.sampled_from(
    [
        "FORM_TYPE",
        "muc#roomconfig_maxusers",
        "muc#maxhistoryfetch",
        "muc#roomconfig_persistentroom",
        "muc#roomconfig_passwordprotectedroom",
        "muc#roomconfig_roomsecret",
        "muc#roomconfig_whois",
        "muc#roomconfig_roomname",
        "other",
    ]
)


@given(st.lists(st.tuples(_VARS, st.text(max_size=20)), max_size=8))
def test_any_submission_configures_or_is_refused(fields: list[tuple[str, str]]) -> None:
    try:
        current = RoomConfig(max_occupants=50, history_length=20)
        config = parse_submission(submit(*(field(v, t) for v, t in fields)), current, LIMITS)
    except FormError as refused:
        assert refused.condition in (
            StanzaErrorCondition.NOT_ACCEPTABLE,
            StanzaErrorCondition.BAD_REQUEST,
        )
    else:
        assert 1 <= config.max_occupants <= LIMITS.max_occupants
        assert 0 <= config.history_length <= LIMITS.max_history
        assert config.whois in ("moderators", "anyone")
