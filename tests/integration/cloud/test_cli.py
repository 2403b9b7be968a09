"""The `qmon hub` and `qmon users` commands."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cloud.cli import hub_command, users_command
from cloud.storage.repository import Repository


def test_users_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    args = [
        "add",
        "--database-url",
        url,
        "--username",
        "Officer-A",
        "--role",
        "ward_officer",
        "--ward",
        "ward-a",
        "--ward",
        "ward-c",
        "--password-stdin",
    ]
    result = CliRunner().invoke(users_command, args, input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "added ward_officer officer-a (wards: ward-a, ward-c)" in result.output
    repo = Repository.from_url(url)
    try:
        officer = repo.officers.get("officer-a")
        assert officer is not None and officer.wards == ("ward-a", "ward-c")
        assert officer.password_hash.startswith("$argon2id$")
    finally:
        repo.close()
    again = CliRunner().invoke(users_command, args, input="a long enough password\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_users_add_refuses_weak_input(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    short = CliRunner().invoke(
        users_command,
        ["add", "--database-url", url, "--username", "x1", "--role", "admin", "--password-stdin"],
        input="short\n",
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    no_ward = CliRunner().invoke(
        users_command,
        ["add", "--database-url", url, "--username", "x1", "--role", "supervisor", "--password-stdin"],
        input="a long enough password\n",
    )
    assert no_ward.exit_code != 0 and "at least one ward" in no_ward.output


def test_hub_command_documents_its_options_and_rejects_bad_settings(tmp_path: Path) -> None:
    help_text = CliRunner().invoke(hub_command, ["--help"]).output
    for option in ("--config", "--mqtt-url", "--database-url", "--host", "--port"):
        assert option in help_text
    config = tmp_path / "hub.yaml"
    config.write_text("jwt_secret: changeme\n")
    result = CliRunner().invoke(hub_command, ["--config", str(config)])
    assert result.exit_code != 0 and "jwt_secret is a placeholder" in result.output
