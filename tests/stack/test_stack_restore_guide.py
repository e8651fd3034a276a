"""litellm-restore takes the install guide's backups: services.postgresqlBackup's plain SQL
`litellm.sql.gz` and the guide's `redis-cli SAVE` copies `dump-<time>.rdb`, made here the way
those units make them, restored into the real PostgreSQL and Redis."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from stacklib import BackupDirs, PostgresServer, RedisServer, Scripts, make_backup_dirs


def guide_pg_dump(server: PostgresServer, target: Path, options: tuple[str, ...] = ("-C",)):
    """services.postgresqlBackup (databases = [ "litellm" ], default pgdumpOptions "-C",
    compression gzip level 6): pg_dump -C litellm | gzip -c -6 --rsyncable > litellm.sql.gz."""
    dump = subprocess.run(
        [str(server.bin_dir / "pg_dump"), *options, server.db_name],
        env=server.env() | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=120,
        check=True,
    ).stdout
    with target.open("wb") as out:
        subprocess.run(
            ["gzip", "-c", "-6", "--rsyncable"], input=dump, stdout=out, timeout=60, check=True
        )
    target.chmod(0o600)


def guide_redis_backup(redis: RedisServer, target: Path) -> None:
    """The guide's redis-backup.service: redis-cli SAVE, then cp dump.rdb to dump-<time>.rdb."""
    assert redis.cli("SAVE") == "OK"
    shutil.copyfile(redis.data_dir / "dump.rdb", target)


def marker(server: PostgresServer, sql: str) -> str:
    return server.psql(sql, user=server.db_user, password=server.db_password)


@pytest.fixture
def guide_setup(scripts: Scripts, tmp_path: Path, postgresql_server: PostgresServer):
    server = postgresql_server
    dirs = make_backup_dirs(tmp_path / "backup")
    marker(
        server,
        "DROP TABLE IF EXISTS guide_marker, after_backup;"
        'CREATE TABLE guide_marker(id serial PRIMARY KEY, "Spend" numeric);'
        'INSERT INTO guide_marker("Spend") VALUES (1.5), (2.5);',
    )
    env = (
        server.env()
        | dirs.env()
        | {
            "LITELLM_DB_NAME": server.db_name,
            # As the module sets it: psql runs as the server's OS user, never as root.
            "LITELLM_PG_RUNAS": server.os_user,
            "LITELLM_MANAGE_SERVICE": "0",
        }
    )
    yield server, dirs, env
    server.psql("DROP TABLE IF EXISTS guide_marker, after_backup;")
    assert server.psql("SELECT datname FROM pg_database ORDER BY 1;", database="postgres") == (
        "litellm\npostgres\ntemplate0\ntemplate1"
    )


def change_after_backup(server: PostgresServer) -> None:
    marker(server, 'UPDATE guide_marker SET "Spend" = 99; CREATE TABLE after_backup(v int);')


def assert_backup_state(server: PostgresServer) -> None:
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "4.0"
    assert marker(server, "SELECT to_regclass('after_backup') IS NULL;") == "t"
    # The sequence came back too, and everything still belongs to LiteLLM's role.
    assert marker(server, 'INSERT INTO guide_marker("Spend") VALUES (0) RETURNING id;') == "3"
    owner = server.psql(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'litellm';",
        database="postgres",
    )
    assert owner == server.db_user


@pytest.mark.parametrize("options", [("-C",), ()], ids=["pg_dump -C", "pg_dump"])
def test_guide_sql_gz_is_the_latest_and_restores(scripts, guide_setup, options):
    server, dirs, env = guide_setup
    dump = dirs.postgresql / "litellm.sql.gz"
    guide_pg_dump(server, dump, options)
    change_after_backup(server)

    refused = scripts.run("litellm-restore", "--postgresql", "latest", env=env)
    assert refused.returncode == 2
    assert f"replace the content of PostgreSQL database litellm with {dump}" in refused.stderr

    result = scripts.run("litellm-restore", "--postgresql", "latest", "--confirm", env=env)
    assert result.returncode == 0, result.stderr
    assert f"restored PostgreSQL database litellm from {dump}" in result.stdout
    assert_backup_state(server)


def test_the_modules_own_dump_wins_over_the_guides(scripts, guide_setup):
    server, dirs, env = guide_setup
    guide_pg_dump(server, dirs.postgresql / "litellm.sql.gz")
    backup = scripts.run(
        "litellm-backup-postgresql", env=env | {"BACKUP_DIR": str(dirs.postgresql)}
    )
    assert backup.returncode == 0, backup.stderr
    own = next(dirs.postgresql.glob("litellm-*.dump"))
    refused = scripts.run("litellm-restore", "--postgresql", "latest", env=env)
    assert f"with {own}" in refused.stderr


def test_a_failing_sql_dump_leaves_the_database_as_it_was(scripts, guide_setup, tmp_path):
    server, dirs, env = guide_setup
    good = tmp_path / "good.sql.gz"
    guide_pg_dump(server, good)
    broken = dirs.postgresql / "litellm.sql.gz"
    # Valid up to its last statement, which fails after the tables were created and filled.
    broken.write_bytes(gzip.compress(gzip.decompress(good.read_bytes()) + b"SELECT 1/0;\n"))
    change_after_backup(server)

    result = scripts.run("litellm-restore", "--postgresql", "latest", "--confirm", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"litellm-restore: restoring {broken} failed; database litellm is back as it was"
    )
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "198"
    assert marker(server, "SELECT to_regclass('after_backup') IS NOT NULL;") == "t"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda good: good[: len(good) // 2], "is a damaged gzip file"),
        (lambda good: gzip.compress(b"SELECT 1;\n"), "does not hold a pg_dump SQL script"),
        (
            lambda good: gzip.compress(
                gzip.decompress(good).replace(
                    b"CREATE DATABASE litellm ", b"CREATE DATABASE other "
                )
            ),
            "creates database other, not litellm",
        ),
    ],
    ids=["truncated", "not a dump", "other database"],
)
def test_bad_sql_gz_is_refused_before_anything_changes(
    scripts, guide_setup, tmp_path, content, message
):
    server, dirs, env = guide_setup
    good = tmp_path / "good.sql.gz"
    guide_pg_dump(server, good)
    bad = dirs.postgresql / "litellm.sql.gz"
    bad.write_bytes(content(good.read_bytes()))
    change_after_backup(server)
    result = scripts.run("litellm-restore", "--postgresql", "latest", "--confirm", env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "nothing was changed" in result.stderr
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "198"


def test_guide_redis_snapshots_restore_the_newest(scripts, tmp_path, redis_factory):
    dirs: BackupDirs = make_backup_dirs(tmp_path / "backup")
    redis = redis_factory()
    redis.cli("SET", "generation", "old")
    guide_redis_backup(redis, dirs.redis / "dump-20260301_023000.rdb")
    redis.cli("SET", "generation", "newest")
    redis.cli("SET", "cache:key", "value", "EX", "3600")
    guide_redis_backup(redis, dirs.redis / "dump-20260302_023000.rdb")
    redis.cli("FLUSHALL")
    redis.cli("SET", "later", "x")

    env = redis.env() | dirs.env() | {"LITELLM_MANAGE_SERVICE": "0"}
    result = scripts.run("litellm-restore", "--redis", "latest", "--confirm", env=env)
    assert result.returncode == 0, result.stderr
    assert f"from {dirs.redis / 'dump-20260302_023000.rdb'}" in result.stdout
    assert redis.cli("GET", "generation") == "newest"
    assert int(redis.cli("TTL", "cache:key")) > 3000
    assert redis.cli("EXISTS", "later") == "0"


@pytest.fixture
def witness_dir():
    """A folder anyone may write to, so a shell command the dump ran as any user would leave
    its file there."""
    folder = Path(tempfile.mkdtemp(prefix="litellm-restore-witness-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def databases(server: PostgresServer) -> str:
    return server.psql("SELECT datname FROM pg_database ORDER BY 1;", database="postgres")


@pytest.mark.parametrize("confirm", [False, True], ids=["check", "--confirm"])
def test_a_dump_running_a_shell_command_is_refused(scripts, guide_setup, witness_dir, confirm):
    """A plain SQL `litellm.sql.gz` from another VM runs `\\! id > FILE`: refused before
    anything is touched, the command never runs, the live database keeps its data."""
    server, dirs, env = guide_setup
    change_after_backup(server)
    witness = witness_dir / "id"
    hostile = dirs.postgresql / "litellm.sql.gz"
    hostile.write_bytes(
        gzip.compress(f"-- PostgreSQL database dump\n\\! id > {witness}\n".encode())
    )
    before = databases(server)

    args = ["--postgresql", "latest", *(["--confirm"] if confirm else [])]
    result = scripts.run("litellm-restore", *args, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"litellm-restore: {hostile}: line 2 is the psql meta-command \\!, which a pg_dump "
        "script never holds; nothing was changed"
    ]
    assert not witness.exists()
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "198"
    assert databases(server) == before


def test_a_meta_command_hidden_from_the_check_is_refused_by_psql(
    scripts, guide_setup, tmp_path, witness_dir
):
    """A string literal that looks like COPY data to the line check hides `\\!` from it; psql
    runs the dump inside its own \\restrict and refuses it: nothing runs, the database is back."""
    server, dirs, env = guide_setup
    good = tmp_path / "good.sql.gz"
    guide_pg_dump(server, good, ())
    change_after_backup(server)
    witness = witness_dir / "id"
    hidden = f"SELECT '\nCOPY x FROM stdin;\n';\n\\! id > {witness}\n\\.\n"
    hostile = dirs.postgresql / "litellm.sql.gz"
    hostile.write_bytes(gzip.compress(gzip.decompress(good.read_bytes()) + hidden.encode()))

    result = scripts.run("litellm-restore", "--postgresql", "latest", "--confirm", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "backslash commands are restricted" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"litellm-restore: restoring {hostile} failed; database litellm is back as it was"
    )
    assert not witness.exists()
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "198"
    assert marker(server, "SELECT to_regclass('after_backup') IS NOT NULL;") == "t"


def test_psql_never_runs_a_plain_dump_as_root(scripts, guide_setup):
    server, dirs, env = guide_setup
    guide_pg_dump(server, dirs.postgresql / "litellm.sql.gz")
    change_after_backup(server)
    as_root = env | {"LITELLM_PG_RUNAS": "root"}
    result = scripts.run("litellm-restore", "--postgresql", "latest", "--confirm", env=as_root)
    assert result.returncode == 1
    assert "never run by psql as root" in result.stderr
    assert "nothing was changed" in result.stderr
    assert marker(server, 'SELECT sum("Spend") FROM guide_marker;') == "198"
