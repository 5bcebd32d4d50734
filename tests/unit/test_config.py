"""RELAY_* values checked at start, and the `relay` command's own options."""

import subprocess
from pathlib import Path

import pytest

from relay.app import load_config
from relay.config import ConfigError, check
from tests.serving import VENV_BIN, relay_env


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RELAY_WORKERS", "two", "RELAY_WORKERS must be a whole number, got 'two'"),
        ("RELAY_WORKERS", "-1", "RELAY_WORKERS must be 0 or more, got '-1'"),
        ("RELAY_WEBHOOK_ALLOW_PRIVATE", "yes", "must be true or false, got 'yes'"),
        ("RELAY_WEBHOOK_READ_TIMEOUT", "soon", "must be a number, got 'soon'"),
        ("RELAY_WEBHOOK_RETRY_SCHEDULE", "[5, 'x']", "must be a JSON list of seconds"),
        ("RELAY_BIND", "localhost", "RELAY_BIND must be host:port such as 0.0.0.0:8000"),
        ("RELAY_DATABASE_URL", "mysql://u:pw@h/db", "got 'mysql'"),
        ("RELAY_PUBLIC_URL", "192.168.1.10:8000", "must be an http:// or https:// address"),
        ("RELAY_SERVER", "uwsgi", "must be auto, gunicorn or waitress"),
        ("RELAY_LOG_FORMAT", "xml", "must be json or text"),
    ],
)
def test_a_bad_value_is_named_in_one_sentence(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    # A password in a database URL is never repeated back.
    assert "pw" not in str(caught.value)


def test_good_values_pass_and_text_settings_keep_their_text() -> None:
    config = {"WORKERS": 3, "SECRET_KEY": 123, "WEBHOOK_READ_TIMEOUT": 2, "BIND": "0.0.0.0:8000"}
    environ = {
        "RELAY_WORKERS": "3",
        "RELAY_SECRET_KEY": "123",
        "RELAY_WEBHOOK_READ_TIMEOUT": "2",
        "RELAY_BIND": "0.0.0.0:8000",
    }
    fixed = check(config, environ)
    assert fixed == {
        "WORKERS": 3,
        "SECRET_KEY": "123",
        "WEBHOOK_READ_TIMEOUT": 2.0,
        "BIND": "0.0.0.0:8000",
    }


def relay(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "relay"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_names_a_bad_variable_without_a_traceback(tmp_path: Path) -> None:
    env = relay_env(f"sqlite:///{tmp_path / 'r.sqlite3'}", tmp_path, RELAY_WORKERS="two")
    done = relay(["tenant", "create", "x"], env, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: RELAY_WORKERS must be a whole number, got 'two'"
    served = relay(["serve"], env, tmp_path)
    assert served.returncode == 2
    assert "Traceback" not in served.stderr
    assert "RELAY_WORKERS must be a whole number" in served.stderr


def test_version_help_and_env_file(tmp_path: Path) -> None:
    env = relay_env(f"sqlite:///{tmp_path / 'r.sqlite3'}", tmp_path)
    version = relay(["--version"], env, tmp_path)
    assert version.returncode == 0
    assert version.stdout.startswith("relay 0.")
    shown = relay(["--help"], env, tmp_path).stdout
    listed = shown.split("Commands:")[1].splitlines()
    commands = [line.split()[0] for line in listed if line.startswith("  ") and line[2:3] != " "]
    for development in ("run", "shell", "routes"):
        assert development not in commands
    for ours in ("serve", "worker", "db", "backup", "restore", "purge", "tenant"):
        assert ours in commands

    # -e FILE: the variables in the file configure the command (here: the database it uses).
    env_file = tmp_path / "relay.env"
    env_file.write_text(f"RELAY_DATABASE_URL=sqlite:///{tmp_path / 'from-file.sqlite3'}\n")
    del env["RELAY_DATABASE_URL"]
    upgraded = relay(["-e", str(env_file), "db", "upgrade"], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "from-file.sqlite3").exists()
    bad_file = tmp_path / "bad.env"
    bad_file.write_text("RELAY_WORKERS=two\n")
    refused = relay(["-e", str(bad_file), "db", "upgrade"], env, tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: RELAY_WORKERS must be a whole number, got 'two'"


def test_the_default_instance_folder_is_under_the_current_directory(tmp_path: Path) -> None:
    env = relay_env("", tmp_path)
    del env["RELAY_DATABASE_URL"], env["RELAY_INSTANCE_PATH"]
    done = relay(["db", "upgrade"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "instance" / "relay.sqlite3").is_file()
