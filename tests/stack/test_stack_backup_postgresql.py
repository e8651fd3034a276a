"""litellm-backup-postgresql and the PostgreSQL part of litellm-restore."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
from stacklib import BackupDirs, PostgresServer, Scripts, make_backup_dirs

TABLE_ROWS = 3000

SEED_SQL = f"""
DROP TABLE IF EXISTS stack_spend, stack_keys;
CREATE TABLE stack_keys (
    token text PRIMARY KEY,
    alias text NOT NULL,
    created timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z'
);
CREATE TABLE stack_spend (
    id bigserial PRIMARY KEY,
    token text NOT NULL REFERENCES stack_keys(token),
    spend numeric(12, 6) NOT NULL,
    payload jsonb NOT NULL
);
CREATE INDEX stack_spend_token ON stack_spend(token);
INSERT INTO stack_keys(token, alias)
    SELECT md5(i::text), 'key ' || i FROM generate_series(1, 20) AS i;
INSERT INTO stack_spend(token, spend, payload)
    SELECT md5((i % 20 + 1)::text), i / 1000.0,
           jsonb_build_object('i', i, 'text', repeat(md5(i::text), 4))
    FROM generate_series(1, {TABLE_ROWS}) AS i;
"""

SNAPSHOT_SQL = """
SELECT 'keys', count(*), md5(string_agg(token || alias || created::text, ',' ORDER BY token))
  FROM stack_keys
UNION ALL
SELECT 'spend', count(*),
       md5(string_agg(id || token || spend::text || payload::text, ',' ORDER BY id))
  FROM stack_spend
UNION ALL
SELECT 'owner', 0, string_agg(tableowner, ',' ORDER BY tablename)
  FROM pg_tables WHERE tablename LIKE 'stack_%'
UNION ALL
SELECT 'seq', 0, last_value::text FROM stack_spend_id_seq;
"""


def snapshot(server: PostgresServer) -> str:
    """The content of the test tables: rows, owners and the sequence position."""
    return server.psql(SNAPSHOT_SQL, user=server.db_user, password=server.db_password)


def empty_database(server: PostgresServer) -> None:
    server.psql(
        "DROP TABLE stack_spend, stack_keys;", user=server.db_user, password=server.db_password
    )


def table_names(server: PostgresServer) -> list[str]:
    out = server.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1;")
    return out.splitlines()


def backup_env(server: PostgresServer, dirs: BackupDirs) -> dict[str, str]:
    return server.env() | {
        "BACKUP_DIR": str(dirs.postgresql),
        "BACKUP_ROOT": str(dirs.root),
        "LITELLM_DB_NAME": server.db_name,
    }


def restore_env(server: PostgresServer, dirs: BackupDirs) -> dict[str, str]:
    return server.env() | {
        "BACKUP_ROOT": str(dirs.root),
        "LITELLM_DB_NAME": server.db_name,
        # pg_restore runs as the server's OS user (runuser), reading the dump on stdin.
        "LITELLM_PG_RUNAS": server.os_user,
        "LITELLM_MANAGE_SERVICE": "0",
    }


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> BackupDirs:
    return make_backup_dirs(tmp_path_factory.mktemp("pgbackup") / "backup")


@pytest.fixture(scope="module")
def dump(scripts: Scripts, postgresql_server: PostgresServer, dirs: BackupDirs) -> Path:
    """Seed the database as the litellm role, then back it up once for the module."""
    server = postgresql_server
    server.psql(SEED_SQL, user=server.db_user, password=server.db_password)
    old = dirs.postgresql / "litellm-20200101T020000Z.dump"
    old.write_bytes(b"expired")
    stamp = time.time() - 31 * 86400
    os.utime(old, (stamp, stamp))

    result = scripts.run("litellm-backup-postgresql", env=backup_env(server, dirs))
    assert result.returncode == 0, result.stderr
    assert not old.exists(), "retention did not run after the backup"
    files = sorted(dirs.postgresql.iterdir())
    assert len(files) == 1, files
    return files[0]


@pytest.fixture
def seeded(postgresql_server: PostgresServer, dump: Path) -> str:
    """Fresh seed before each test; returns the snapshot the dump holds."""
    postgresql_server.psql(
        SEED_SQL, user=postgresql_server.db_user, password=postgresql_server.db_password
    )
    return snapshot(postgresql_server)


def test_backup_file_is_a_private_custom_format_dump(dump: Path, postgresql_server):
    assert dump.name.startswith("litellm-") and dump.name.endswith("Z.dump")
    assert len(dump.name) == len("litellm-20260101T020000Z.dump")
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert dump.read_bytes()[:5] == b"PGDMP"
    listing = subprocess.run(
        [str(postgresql_server.bin_dir / "pg_restore"), "--list", str(dump)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TABLE public stack_spend" in listing


def test_restore_into_emptied_database_gives_the_same_rows(
    scripts, postgresql_server, dirs, seeded
):
    server = postgresql_server
    empty_database(server)
    assert "stack_keys" not in table_names(server)

    result = scripts.run(
        "litellm-restore", "--postgresql", "latest", "--confirm", env=restore_env(server, dirs)
    )
    assert result.returncode == 0, result.stderr
    assert "restored PostgreSQL database litellm from" in result.stdout
    assert snapshot(server) == seeded


def test_restore_replaces_changed_content(scripts, postgresql_server, dirs, dump, seeded):
    server = postgresql_server
    server.psql(
        "DELETE FROM stack_spend WHERE id % 2 = 0; UPDATE stack_keys SET alias = 'x';",
        user=server.db_user,
        password=server.db_password,
    )
    result = scripts.run(
        "litellm-restore", "--postgresql", str(dump), "--confirm", env=restore_env(server, dirs)
    )
    assert result.returncode == 0, result.stderr
    assert snapshot(server) == seeded


def test_restore_refuses_without_confirm(scripts, postgresql_server, dirs, seeded):
    server = postgresql_server
    empty_database(server)
    result = scripts.run("litellm-restore", "--postgresql", "latest", env=restore_env(server, dirs))
    assert result.returncode == 2
    assert "refusing to restore without --confirm" in result.stderr
    assert "replace the content of PostgreSQL database litellm" in result.stderr
    assert "stack_keys" not in table_names(server)  # nothing happened


def _failed_restore_leaves_database(scripts, server, dirs, dump_file: Path, before: str):
    result = scripts.run(
        "litellm-restore",
        "--postgresql",
        str(dump_file),
        "--confirm",
        env=restore_env(server, dirs),
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("litellm-restore:")]
    assert lines, result.stderr
    assert str(dump_file) in lines[-1]
    assert snapshot(server) == before
    return lines[-1]


def test_corrupt_dump_fails_clearly_and_database_is_unchanged(
    scripts, postgresql_server, dirs, seeded, tmp_path
):
    server = postgresql_server
    server.psql(
        "INSERT INTO stack_keys(token, alias) VALUES ('extra', 'after the dump');",
        user=server.db_user,
        password=server.db_password,
    )
    before = snapshot(server)
    garbage = tmp_path / "litellm-20260101T020000Z.dump"
    garbage.write_bytes(os.urandom(4096))
    message = _failed_restore_leaves_database(scripts, server, dirs, garbage, before)
    assert "is not a readable pg_dump archive" in message
    assert "nothing was changed" in message


def test_truncated_dump_is_rolled_back(scripts, postgresql_server, dirs, dump, seeded, tmp_path):
    """The table of contents reads fine, the data does not: the transaction must roll back."""
    server = postgresql_server
    server.psql(
        "INSERT INTO stack_keys(token, alias) VALUES ('extra', 'after the dump');",
        user=server.db_user,
        password=server.db_password,
    )
    before = snapshot(server)
    truncated = tmp_path / "truncated.dump"
    data = dump.read_bytes()
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    message = _failed_restore_leaves_database(scripts, server, dirs, truncated, before)
    assert "the transaction was rolled back and database litellm is unchanged" in message


def test_missing_dump_fails_clearly(scripts, postgresql_server, dirs, seeded, tmp_path):
    server = postgresql_server
    before = snapshot(server)
    missing = tmp_path / "nope.dump"
    result = scripts.run(
        "litellm-restore", "--postgresql", str(missing), "--confirm", env=restore_env(server, dirs)
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"litellm-restore: PostgreSQL dump {missing} does not exist"

    empty = make_backup_dirs(tmp_path / "empty")
    result = scripts.run(
        "litellm-restore", "--postgresql", "latest", "--confirm", env=restore_env(server, empty)
    )
    assert result.returncode == 1
    assert "no backup matching litellm-" in result.stderr
    assert snapshot(server) == before


def test_backup_of_missing_database_leaves_no_file(scripts, postgresql_server, tmp_path):
    dirs = make_backup_dirs(tmp_path / "backup")
    env = backup_env(postgresql_server, dirs) | {"LITELLM_DB_NAME": "no_such_db"}
    result = scripts.run("litellm-backup-postgresql", env=env)
    assert result.returncode == 1
    assert "litellm-backup-postgresql: pg_dump of database no_such_db failed (" in result.stderr
    # The message names the free space (a full disk is the usual cause) and that nothing older
    # was touched.
    assert re.search(
        rf"\(\d+ KiB free in {re.escape(str(dirs.postgresql))}\); no new backup, "
        "the earlier ones are kept",
        result.stderr,
    ), result.stderr
    assert list(dirs.postgresql.iterdir()) == []


def test_failed_backup_keeps_the_earlier_ones(scripts, postgresql_server, tmp_path):
    dirs = make_backup_dirs(tmp_path / "backup")
    earlier = dirs.postgresql / "litellm-20260101T020000Z.dump"
    earlier.write_bytes(b"an earlier dump")
    env = backup_env(postgresql_server, dirs) | {"LITELLM_DB_NAME": "no_such_db"}
    result = scripts.run("litellm-backup-postgresql", env=env)
    assert result.returncode == 1
    assert list(dirs.postgresql.iterdir()) == [earlier]
    assert earlier.read_bytes() == b"an earlier dump"


def test_external_server_uses_the_litellm_role_and_its_password(
    scripts, postgresql_server, seeded, tmp_path
):
    """With an external server the scripts connect as the LiteLLM role; the password comes
    from the secrets file (DATABASE_PASSWORD), never from PGPASSWORD in a unit."""
    server = postgresql_server
    dirs = make_backup_dirs(tmp_path / "backup")
    as_role = {
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "PGUSER": server.db_user,
        "LITELLM_DB_NAME": server.db_name,
        "BACKUP_ROOT": str(dirs.root),
    }
    backup = scripts.run(
        "litellm-backup-postgresql",
        env=as_role | {"BACKUP_DIR": str(dirs.postgresql), "DATABASE_PASSWORD": server.db_password},
    )
    assert backup.returncode == 0, backup.stderr

    empty_database(server)
    env_file = tmp_path / "litellm.env"
    env_file.write_text(f"DATABASE_PASSWORD={server.db_password}\n")
    restore = scripts.run(
        "litellm-restore",
        "--postgresql",
        "latest",
        "--confirm",
        env=as_role
        | {
            "LITELLM_ENV_FILE": str(env_file),
            "LITELLM_PG_RUNAS": "",
            "LITELLM_MANAGE_SERVICE": "0",
        },
    )
    assert restore.returncode == 0, restore.stderr
    assert snapshot(server) == seeded
    assert server.db_password not in backup.stdout + backup.stderr + restore.stdout + restore.stderr
