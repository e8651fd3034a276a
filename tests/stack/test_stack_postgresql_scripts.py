"""litellm-postgresql-password and litellm-postgresql-guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from stacklib import PostgresServer, Scripts, write_password_file


def test_litellm_role_logs_in_with_the_secrets_password(postgresql_server: PostgresServer):
    # The fixture ran litellm-postgresql-password like the boot does; TCP asks for SCRAM.
    server = postgresql_server
    who = server.psql("SELECT current_user;", user=server.db_user, password=server.db_password)
    assert who == server.db_user
    stored = server.psql(
        f"SELECT rolpassword FROM pg_authid WHERE rolname = '{server.db_user}';",
        database="postgres",
    )
    assert stored.startswith("SCRAM-SHA-256$")
    assert server.db_password not in stored
    with pytest.raises(RuntimeError, match="password authentication failed"):
        server.psql("SELECT 1;", user=server.db_user, password="wrong")


def password_env(server: PostgresServer, password_file: Path, **extra: str) -> dict[str, str]:
    return server.env("postgres") | {"LITELLM_DB_PASSWORD_FILE": str(password_file)} | extra


def test_password_script_is_idempotent_and_reports_no_secret(
    scripts: Scripts, postgresql_server, tmp_path
):
    server = postgresql_server
    result = scripts.run(
        "litellm-postgresql-password",
        env=password_env(server, write_password_file(tmp_path / "db.pass", server.db_password)),
    )
    assert result.returncode == 0, result.stderr
    assert server.db_password not in result.stdout + result.stderr
    assert server.psql("SELECT 1;", user=server.db_user, password=server.db_password) == "1"


def test_password_comes_from_the_credentials_directory(scripts, postgresql_server, tmp_path):
    """What systemd's LoadCredential=database-password:FILE gives the unit."""
    server = postgresql_server
    write_password_file(tmp_path / "database-password", server.db_password)
    env = server.env("postgres") | {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    result = scripts.run("litellm-postgresql-password", env=env)
    assert result.returncode == 0, result.stderr
    assert server.psql("SELECT 1;", user=server.db_user, password=server.db_password) == "1"


def server_log(server: PostgresServer) -> Path:
    return server.data_dir.parent / "postgresql.log"


def test_no_password_reaches_the_server_log(scripts, postgresql_server, tmp_path):
    """With log_statement=all and a failing ALTER ROLE (whose STATEMENT line PostgreSQL logs),
    the server's log holds the verifier at most, never the password; the role still logs in."""
    server = postgresql_server
    password = "pw" + os.urandom(20).hex()
    password_file = write_password_file(tmp_path / "db.pass", password)
    log = server_log(server)
    start = log.stat().st_size

    failing = scripts.run(
        "litellm-postgresql-password",
        env=password_env(
            server,
            password_file,
            PGOPTIONS="-c log_statement=all -c default_transaction_read_only=on",
        ),
    )
    assert failing.returncode == 1
    assert failing.stderr.strip().splitlines()[-1] == (
        f"litellm-postgresql-password: ALTER ROLE {server.db_user} failed"
    )
    passing = scripts.run(
        "litellm-postgresql-password",
        env=password_env(server, password_file, PGOPTIONS="-c log_statement=all"),
    )
    assert passing.returncode == 0, passing.stderr

    with log.open("rb") as handle:
        handle.seek(start)
        written = handle.read().decode(errors="replace")
    # The statements were logged, the failing one with its error: the test saw what it claims.
    assert "read-only transaction" in written
    assert written.count("ALTER ROLE") >= 2
    assert "SCRAM-SHA-256$4096:" in written
    assert password not in written
    assert password not in failing.stdout + failing.stderr + passing.stdout + passing.stderr
    assert server.psql("SELECT current_user;", user=server.db_user, password=password) == (
        server.db_user
    )
    # Back to the session's password for the other tests.
    restore = scripts.run(
        "litellm-postgresql-password",
        env=password_env(server, write_password_file(tmp_path / "s.pass", server.db_password)),
    )
    assert restore.returncode == 0, restore.stderr


def test_password_script_errors(scripts: Scripts, postgresql_server, tmp_path):
    server = postgresql_server
    missing = scripts.run("litellm-postgresql-password", env=server.env("postgres"))
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "litellm-postgresql-password: no password file: set LITELLM_DB_PASSWORD_FILE "
        "(or LoadCredential=database-password:FILE)"
    )

    absent = scripts.run("litellm-postgresql-password", env=password_env(server, tmp_path / "nope"))
    assert absent.returncode == 1
    assert absent.stderr.strip() == (
        f"litellm-postgresql-password: cannot read password file {tmp_path / 'nope'}: "
        "No such file or directory"
    )

    empty = write_password_file(tmp_path / "empty", "")
    result = scripts.run("litellm-postgresql-password", env=password_env(server, empty))
    assert result.returncode == 1
    assert result.stderr.strip() == f"litellm-postgresql-password: password file {empty} is empty"

    no_role = scripts.run(
        "litellm-postgresql-password",
        env=password_env(
            server, write_password_file(tmp_path / "x", "x" * 20), LITELLM_DB_USER="ghost"
        ),
    )
    assert no_role.returncode == 1
    assert no_role.stderr.strip() == (
        "litellm-postgresql-password: role ghost does not exist "
        "(it is created by postgresql-setup.service)"
    )


def guard(scripts: Scripts, data_dir: Path, major: str):
    return scripts.run(
        "litellm-postgresql-guard", env={"PG_DATA_DIR": str(data_dir), "PG_MAJOR": major}
    )


def test_guard_refuses_a_major_change_that_would_start_empty(scripts, tmp_path):
    (tmp_path / "15").mkdir()
    (tmp_path / "15" / "PG_VERSION").write_text("15\n")
    result = guard(scripts, tmp_path / "17", "17")
    assert result.returncode == 1
    assert "refusing to start PostgreSQL 17" in result.stderr
    assert f"{tmp_path / '15'} (PostgreSQL 15)" in result.stderr
    assert "tappaas-litellm upgrade <vm> --postgresql" in result.stderr
    assert "database.package" in result.stderr
    assert not (tmp_path / "17").exists()


def test_guard_refuses_data_of_another_major_in_the_data_dir(scripts, tmp_path):
    (tmp_path / "17").mkdir()
    (tmp_path / "17" / "PG_VERSION").write_text("16\n")
    result = guard(scripts, tmp_path / "17", "17")
    assert result.returncode == 1
    assert "holds PostgreSQL 16 data" in result.stderr


def test_guard_allows_first_start_and_same_major(scripts, tmp_path, postgresql_server):
    assert guard(scripts, tmp_path / "lib" / "17", "17").returncode == 0
    (tmp_path / "17").mkdir()
    (tmp_path / "17" / "PG_VERSION").write_text("17\n")
    (tmp_path / "15").mkdir()
    (tmp_path / "15" / "PG_VERSION").write_text("15\n")
    assert guard(scripts, tmp_path / "17", "17").returncode == 0
    # The real cluster of this test run.
    real = guard(scripts, postgresql_server.data_dir, str(postgresql_server.major))
    assert real.returncode == 0, real.stderr


def test_guard_rejects_a_bad_major(scripts, tmp_path):
    result = guard(scripts, tmp_path / "x", "seventeen")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "litellm-postgresql-guard: PG_MAJOR must be a number, got 'seventeen'"
    )
