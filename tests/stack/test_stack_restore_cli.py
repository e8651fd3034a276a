"""litellm-restore: arguments, confirmation, and the stop/start of the LiteLLM service."""

from __future__ import annotations

from pathlib import Path

import pytest
from stacklib import Scripts, make_backup_dirs


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument: --bogus"),
        (["--postgresql"], "--postgresql needs FILE or latest"),
        (["--redis"], "--redis needs FILE or latest"),
        (["--help"], None),
    ],
)
def test_usage_errors(scripts: Scripts, tmp_path: Path, args, message):
    dirs = make_backup_dirs(tmp_path / "backup")
    result = scripts.run("litellm-restore", *args, "--confirm", env=dirs.env())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "usage: litellm-restore [--postgresql FILE|latest] [--redis FILE|latest] --confirm"
    )
    if message:
        assert lines[0] == f"litellm-restore: {message}"


def test_refuses_without_confirm_and_names_both_backups(
    scripts, tmp_path, postgresql_server, redis_factory
):
    """With no selection both latest backups are meant; nothing is touched without --confirm."""
    dirs = make_backup_dirs(tmp_path / "backup")
    source = redis_factory()
    source.cli("SET", "k", "v")
    env = (
        postgresql_server.env()
        | source.env()
        | dirs.env()
        | {
            "BACKUP_DIR": str(dirs.postgresql),
            "LITELLM_DB_NAME": postgresql_server.db_name,
        }
    )
    assert scripts.run("litellm-backup-postgresql", env=env).returncode == 0
    env["BACKUP_DIR"] = str(dirs.redis)
    assert scripts.run("litellm-backup-redis", env=env).returncode == 0
    source.cli("SET", "after", "backup")

    result = scripts.run("litellm-restore", env=env)
    assert result.returncode == 2
    dump = next(dirs.postgresql.glob("litellm-*.dump"))
    rdb = next(dirs.redis.glob("redis-*.rdb"))
    assert "refusing to restore without --confirm" in result.stderr
    assert "stop podman-litellm.service while restoring" in result.stderr
    assert str(dump) in result.stderr
    assert str(rdb) in result.stderr
    assert "Run it again with --confirm" in result.stderr
    assert source.cli("DBSIZE") == "2"


def fake_systemctl(tmp_path: Path, active: bool) -> tuple[Path, Path]:
    """A systemctl stand-in on PATH that records its calls."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl.calls"
    script = bin_dir / "systemctl"
    script.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        f'if [ "$1" = is-active ]; then exit {0 if active else 3}; fi\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return bin_dir, calls


@pytest.mark.parametrize("active", [True, False])
def test_service_is_stopped_and_started_around_the_restore(
    scripts, tmp_path, redis_factory, active
):
    dirs = make_backup_dirs(tmp_path / "backup")
    source = redis_factory()
    source.cli("SET", "k", "v")
    env = source.env() | dirs.env() | {"BACKUP_DIR": str(dirs.redis)}
    assert scripts.run("litellm-backup-redis", env=env).returncode == 0

    bin_dir, calls = fake_systemctl(tmp_path, active)
    env = (
        source.env()
        | dirs.env()
        | {
            "PATH": f"{bin_dir}:{scripts.env()['PATH']}",
            "LITELLM_MANAGE_SERVICE": "1",
        }
    )
    result = scripts.run("litellm-restore", "--redis", "latest", "--confirm", env=env)
    assert result.returncode == 0, result.stderr
    recorded = calls.read_text().splitlines()
    if active:
        assert recorded == [
            "is-active --quiet podman-litellm.service",
            "stop podman-litellm.service",
            "start podman-litellm.service",
        ]
        assert "started podman-litellm.service again" in result.stdout
    else:
        assert recorded == ["is-active --quiet podman-litellm.service"]


def test_service_is_started_again_after_a_failed_restore(scripts, tmp_path, redis_factory):
    dirs = make_backup_dirs(tmp_path / "backup")
    target = redis_factory()
    target.cli("SET", "keep", "me")
    rdb = dirs.redis / "redis-20260101T023000Z.rdb"
    rdb.write_bytes(b"REDIS0010" + bytes(range(256)))
    bin_dir, calls = fake_systemctl(tmp_path, active=True)
    # A redis-check-rdb that lets the damage through: loading the snapshot must catch it.
    check = bin_dir / "redis-check-rdb"
    check.write_text("#!/usr/bin/env bash\nexit 0\n")
    check.chmod(0o755)
    env = (
        target.env()
        | dirs.env()
        | {
            "PATH": f"{bin_dir}:{scripts.env()['PATH']}",
            "LITELLM_MANAGE_SERVICE": "1",
        }
    )
    result = scripts.run("litellm-restore", "--redis", "latest", "--confirm", env=env)
    assert result.returncode == 1
    assert "the temporary Redis server could not load" in result.stderr
    assert "nothing was changed" in result.stderr
    assert calls.read_text().splitlines() == [
        "is-active --quiet podman-litellm.service",
        "stop podman-litellm.service",
        "start podman-litellm.service",
    ]
    assert target.cli("GET", "keep") == "me"


def test_restore_of_both_checks_redis_before_touching_the_database(
    scripts, tmp_path, postgresql_server, redis_factory
):
    server = postgresql_server
    dirs = make_backup_dirs(tmp_path / "backup")
    server.psql(
        "DROP TABLE IF EXISTS cli_marker; CREATE TABLE cli_marker(v int);"
        "INSERT INTO cli_marker VALUES (1);",
        user=server.db_user,
        password=server.db_password,
    )
    redis = redis_factory()
    redis.cli("SET", "marker", "1")
    env = server.env() | redis.env() | dirs.env() | {"LITELLM_DB_NAME": server.db_name}
    assert (
        scripts.run(
            "litellm-backup-postgresql", env=env | {"BACKUP_DIR": str(dirs.postgresql)}
        ).returncode
        == 0
    )
    assert (
        scripts.run("litellm-backup-redis", env=env | {"BACKUP_DIR": str(dirs.redis)}).returncode
        == 0
    )
    server.psql("UPDATE cli_marker SET v = 2;", user=server.db_user, password=server.db_password)
    redis.cli("SET", "marker", "2")
    env |= {"LITELLM_PG_RUNAS": "", "LITELLM_MANAGE_SERVICE": "0"}

    wrong = scripts.run("litellm-restore", "--confirm", env=env | {"REDIS_PASSWORD": "wrong"})
    assert wrong.returncode == 1
    assert "does not answer PING" in wrong.stderr
    assert server.psql("SELECT v FROM cli_marker;") == "2"

    both = scripts.run("litellm-restore", "--confirm", env=env)
    assert both.returncode == 0, both.stderr
    assert "restored PostgreSQL database litellm" in both.stdout
    assert "restored 1 Redis key(s)" in both.stdout
    assert server.psql("SELECT v FROM cli_marker;") == "1"
    assert redis.cli("GET", "marker") == "1"
    server.psql("DROP TABLE cli_marker;", user=server.db_user, password=server.db_password)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--redis="], "--redis"),
        (["--redis", ""], "--redis"),
        (["--postgresql="], "--postgresql"),
        (["--postgresql", ""], "--postgresql"),
        (["--redis", "latest", "--postgresql="], "--postgresql"),
    ],
)
def test_an_empty_value_restores_nothing(
    scripts, tmp_path, postgresql_server, redis_factory, args, flag
):
    """`--redis="$UNSET"` in an admin's script must not become "restore both": only a missing
    flag means both. One line, exit 2, and neither the database nor Redis is touched."""
    server = postgresql_server
    dirs = make_backup_dirs(tmp_path / "backup")
    server.psql(
        "DROP TABLE IF EXISTS empty_marker; CREATE TABLE empty_marker(v int);"
        "INSERT INTO empty_marker VALUES (1);",
        user=server.db_user,
        password=server.db_password,
    )
    redis = redis_factory()
    redis.cli("SET", "marker", "1")
    env = server.env() | redis.env() | dirs.env() | {"LITELLM_DB_NAME": server.db_name}
    for script, folder in (
        ("litellm-backup-postgresql", dirs.postgresql),
        ("litellm-backup-redis", dirs.redis),
    ):
        assert scripts.run(script, env=env | {"BACKUP_DIR": str(folder)}).returncode == 0
    server.psql("UPDATE empty_marker SET v = 2;", user=server.db_user, password=server.db_password)
    redis.cli("SET", "marker", "2")
    env |= {"LITELLM_PG_RUNAS": "", "LITELLM_MANAGE_SERVICE": "0"}

    result = scripts.run("litellm-restore", *args, "--confirm", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"litellm-restore: {flag} needs FILE or latest, got an empty value; nothing was restored"
    ]
    assert result.stdout == ""
    assert server.psql("SELECT v FROM empty_marker;") == "2"
    assert redis.cli("GET", "marker") == "2"
    server.psql("DROP TABLE empty_marker;", user=server.db_user, password=server.db_password)
