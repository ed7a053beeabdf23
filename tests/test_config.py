"""Loading the YAML config: typed, validated, with file:line in every error."""

from __future__ import annotations

from pathlib import Path

import pytest
from tierdesk.daemon.config_load import load_config
from tierdesk.rules.yamlsource import SourceError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tierdesk.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_config_at_all_gives_the_embedded_default():
    config = load_config(None, environ={})

    assert config.storage_url == "sqlite:///tierdesk-data/tierdesk.db"
    assert (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2525)
    assert config.support.addresses == ["support@localhost"]
    assert config.outgoing.transport == "maildir"
    assert config.outgoing_maildir == Path("tierdesk-data/outgoing")


def test_config_file_is_found_through_the_environment(tmp_path):
    path = write(tmp_path, "support:\n  subject_tag: ACME\n")

    config = load_config(None, environ={"TIERDESK_CONFIG": str(path)})

    assert config.support.subject_tag == "ACME"


def test_misspelt_key_names_file_line_and_suggestion(tmp_path):
    path = write(
        tmp_path, "support:\n  display_name: Help\n  adresses: [help@acme.example]\n"
    )

    with pytest.raises(SourceError) as err:
        load_config(path, environ={})

    assert (
        str(err.value)
        == f"{path}:3: unknown key 'adresses' (did you mean 'addresses'?)"
    )


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "smtp:\n  port: twenty-five\n  mode: lmpt\noutgoing:\n  transport: carrier-pigeon\n",
    )

    with pytest.raises(SourceError) as err:
        load_config(path, environ={})

    text = str(err.value)
    assert f"{path}:2: 'port' must be a whole number" in text
    assert (
        f"{path}:3: 'mode' must be one of 'smtp', 'lmtp' (did you mean 'lmtp'?)" in text
    )
    assert f"{path}:5: 'transport' must be one of" in text


def test_yes_is_not_silently_a_boolean(tmp_path):
    path = write(tmp_path, "smtp:\n  enabled: yes\n")

    with pytest.raises(
        SourceError, match=r":2: 'enabled' must be true or false, not 'yes'"
    ):
        load_config(path, environ={})


def test_duplicate_key_is_refused(tmp_path):
    path = write(tmp_path, "support:\n  subject_tag: A\n  subject_tag: B\n")

    with pytest.raises(SourceError, match="duplicate key"):
        load_config(path, environ={})


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = write(tmp_path, "support:\n  addresses: [a@b.example\nsmtp:\n  port: 1\n")

    with pytest.raises(SourceError, match=rf"{path}:\d+: "):
        load_config(path, environ={})


def test_sizes_and_durations_take_units(tmp_path):
    path = write(
        tmp_path,
        "smtp:\n  max_message_size: 10MB\noutgoing:\n  retry_base: 2m\n  retry_max: 1h\n",
    )

    config = load_config(path, environ={})

    assert config.smtp.max_message_size == 10 * 1024 * 1024
    assert (config.outgoing.retry_base, config.outgoing.retry_max) == (120, 3600)


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    path = write(
        tmp_path,
        "data_dir: state\nstorage:\n  url: sqlite:///state/x.db\ntemplates_dir: tpl\n",
    )

    config = load_config(path, environ={})

    assert config.data_dir == tmp_path / "state"
    assert config.storage_url == f"sqlite:///{tmp_path / 'state' / 'x.db'}"
    assert config.templates_dir == tmp_path / "tpl"


def test_relay_password_from_a_missing_environment_variable_is_an_error(tmp_path):
    path = write(tmp_path, "outgoing:\n  transport: smtp\n  password_env: RELAY_PW\n")

    with pytest.raises(SourceError, match=r"password_env \$RELAY_PW is not set"):
        load_config(path, environ={})
    assert (
        load_config(path, environ={"RELAY_PW": "s3cret"}).outgoing.password_env
        == "RELAY_PW"
    )


def test_relay_password_file_must_exist(tmp_path):
    path = write(tmp_path, "outgoing:\n  password_file: secret.txt\n")

    with pytest.raises(SourceError, match="password_file .*secret.txt does not exist"):
        load_config(path, environ={})
    (tmp_path / "secret.txt").write_text("pw\n")
    assert (
        load_config(path, environ={}).outgoing.password_file == tmp_path / "secret.txt"
    )


def test_storage_url_must_name_a_known_database(tmp_path):
    path = write(tmp_path, "storage:\n  url: mysql://root@localhost/x\n")

    with pytest.raises(SourceError, match=r"use sqlite:///PATH or postgresql://"):
        load_config(path, environ={})


def test_example_config_shipped_for_systemd_is_valid():
    example = Path(__file__).parents[1] / "systemd" / "tierdesk.yaml"

    config = load_config(example, environ={})

    assert config.support.addresses == ["support@acme.example"]
    assert config.outgoing.transport == "smtp"


def test_commands_that_need_no_secrets_load_without_them(tmp_path):
    path = write(tmp_path, "outgoing:\n  transport: smtp\n  password_env: RELAY_PW\n")

    config = load_config(path, environ={}, require_secrets=False)

    assert config.outgoing.password_env == "RELAY_PW"
