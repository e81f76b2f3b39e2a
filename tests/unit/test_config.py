"""The config schema: profiles, validation messages, and the generated docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from roost.core import config
from roost.core.configdoc import render_markdown, render_toml
from roost.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_profiles_choose_defaults() -> None:
    dev = config.parse("")
    prod = config.parse('[roost]\nprofile = "production"\n')
    assert dev.auth.plaintext_on_loopback is True and prod.auth.plaintext_on_loopback is False
    assert dev.web.listen == ("127.0.0.1:8080",) and prod.web.tls_listen == ("0.0.0.0:443",)
    # A value in the file wins over the profile.
    assert config.parse(
        '[roost]\nprofile = "production"\n[auth]\nplaintext_on_loopback = true'
    ).auth.plaintext_on_loopback


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\nx = 1", "unknown section [nope]"),
        ("[store]\nurll = 'x'", "unknown key 'urll' in [store]"),
        (
            "[store]\nsqlite_readers = 'four'",
            "[store] sqlite_readers = 'four': expected a whole number",
        ),
        ("[store]\nsqlite_readers = 0", "[store] sqlite_readers = 0: must be at least 1"),
        (
            "[roost]\nprofile = 'staging'",
            "[roost] profile = 'staging': must be one of development, production",
        ),
        (
            "[web]\nlisten = ['localhost']",
            "[web] listen = ['localhost']: 'localhost' is not HOST:PORT",
        ),
        ("[web]\nlisten = ['127.0.0.1:70000']", "port 70000"),
        ("[log]\nlevels = { smtp = 'loud' }", "level 'loud' for 'smtp'"),
        ("[auth]\nplaintext_on_loopback = 'yes'", "expected true or false"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_bad_values_name_key_value_and_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(text, source="/etc/roost.toml")
    assert str(caught.value).startswith("/etc/roost.toml: ")
    assert message in str(caught.value)


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "missing.toml")


def test_relative_data_dir_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "roost.toml"
    path.parent.mkdir()
    path.write_text('[roost]\ndata_dir = "../var"\n')
    assert config.load(path).data_dir == tmp_path / "var"


def test_docs_match_the_schema() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == render_markdown(), (
        "docs/configuration.md is out of date: run `make docs`"
    )


def test_example_file_matches_the_schema_and_loads() -> None:
    path = ROOT / "roost.example.toml"
    assert path.read_text() == render_toml(), "roost.example.toml is out of date: run `make docs`"
    loaded = config.load(path)
    assert loaded.store == config.default_config().store


@pytest.mark.parametrize("profile", config.PROFILES)
def test_init_file_loads_with_its_profile(tmp_path: Path, profile: str) -> None:
    path = tmp_path / "roost.toml"
    path.write_text(render_toml(profile, "data"))
    loaded = config.load(path)
    assert loaded.roost.profile == profile and loaded.data_dir == tmp_path / "data"
