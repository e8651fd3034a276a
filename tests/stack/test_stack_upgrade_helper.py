"""litellm-upgrade-helper (what `tappaas-litellm upgrade` runs on the VM) against real PostgreSQL:
the state it reports (keys, schema migrations), the scratch-restore check of a fresh dump, the
guard's marker for a major upgrade, the dump/restore path into a new, empty cluster, and the
hold that keeps LiteLLM down from `stop` to `start` (systemctl is a stand-in there)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from nixtools import ROOT, golden_host_text, nixeval
from stacklib import (
    SCRIPTS_DIR,
    BackupDirs,
    PostgresServer,
    Scripts,
    make_backup_dirs,
    prepare_litellm_database,
    start_postgresql,
)

DB = "upgrade_src"

# LiteLLM's tables in miniature, and Prisma's own bookkeeping table as Prisma creates it.
SEED_SQL = """
CREATE TABLE "LiteLLM_VerificationToken" (token text PRIMARY KEY, spend double precision);
CREATE TABLE "LiteLLM_ProxyModelTable" (model_id text PRIMARY KEY, litellm_params jsonb);
INSERT INTO "LiteLLM_VerificationToken"
  SELECT md5(i::text), i / 100.0 FROM generate_series(1, 250) AS i;
INSERT INTO "LiteLLM_ProxyModelTable"
  VALUES ('m1', '{"api_key": "encrypted-by-the-salt-key"}');
CREATE TABLE _prisma_migrations (
  id varchar(36) PRIMARY KEY NOT NULL,
  checksum varchar(64) NOT NULL,
  finished_at timestamptz,
  migration_name varchar(255) NOT NULL,
  logs text,
  rolled_back_at timestamptz,
  started_at timestamptz NOT NULL DEFAULT now(),
  applied_steps_count integer NOT NULL DEFAULT 0
);
INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name) VALUES
  ('1', 'c1', now(), '20250101000000_init'),
  ('2', 'c2', now(), '20250201000000_spend');
"""

CONTENT_SQL = """
SELECT count(*) || ' ' || md5(string_agg(token || spend::text, ',' ORDER BY token))
  FROM "LiteLLM_VerificationToken"
UNION ALL SELECT litellm_params::text FROM "LiteLLM_ProxyModelTable"
UNION ALL SELECT string_agg(migration_name, ',' ORDER BY migration_name) FROM _prisma_migrations;
"""


@pytest.fixture(scope="module")
def source(postgresql_server: PostgresServer) -> Iterator[PostgresServer]:
    """Database upgrade_src, owned by the litellm role, with LiteLLM-like content."""
    server = postgresql_server
    server.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE);', database="postgres")
    server.psql(f'CREATE DATABASE "{DB}" OWNER "{server.db_user}";', database="postgres")
    server.psql(SEED_SQL, database=DB, user=server.db_user, password=server.db_password)
    yield server
    server.psql(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE);', database="postgres")


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> BackupDirs:
    return make_backup_dirs(tmp_path_factory.mktemp("upgrade") / "backup")


def helper_env(server: PostgresServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    env_file = tmp_path / "litellm.env"
    if not env_file.exists():
        env_file.write_text("LITELLM_MASTER_KEY=sk-master\nLITELLM_SALT_KEY=sk-salt\n")
    return (
        server.env()
        | {
            "LITELLM_DB_NAME": DB,
            "LITELLM_PG_RUNAS": "",
            "LITELLM_ENV_FILE": str(env_file),
            "PG_STATE_DIR": str(tmp_path / "pgstate"),
            "SYSTEM_PROFILE": str(tmp_path / "profiles" / "system"),
        }
        | extra
    )


def helper(scripts: Scripts, env: dict[str, str], *args: str):
    return scripts.run("litellm-upgrade-helper", *args, env=env)


def values(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def dump(scripts: Scripts, source: PostgresServer, dirs: BackupDirs) -> Path:
    env = source.env() | {
        "BACKUP_DIR": str(dirs.postgresql),
        "BACKUP_ROOT": str(dirs.root),
        "LITELLM_DB_NAME": DB,
    }
    result = scripts.run("litellm-backup-postgresql", env=env)
    assert result.returncode == 0, result.stderr
    return next(dirs.postgresql.glob("litellm-*.dump"))


def test_state_reports_generation_keys_major_and_migrations(scripts, source, tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "system").symlink_to("system-42-link")
    env = helper_env(source, tmp_path)
    result = helper(scripts, env, "state")
    assert result.returncode == 0, result.stderr
    state = values(result.stdout)
    assert state["generation"] == "42"
    assert state["keys"] == hashlib.sha256(b"sk-master\nsk-salt").hexdigest()
    assert "sk-master" not in result.stdout + result.stderr
    assert state["pg_major"] == str(source.major)
    count, digest = state["migrations"].split()
    assert count == "2" and len(digest) == 64

    # A migration that failed half-way (P3009: started, never finished) changes the fingerprint.
    source.psql(
        "INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ('3', 'c3', 'x');",
        database=DB,
    )
    try:
        again = values(helper(scripts, env, "state").stdout)
        assert again["migrations"].split()[0] == "3"
        assert again["migrations"] != state["migrations"]
    finally:
        source.psql("DELETE FROM _prisma_migrations WHERE id = '3';", database=DB)
    assert values(helper(scripts, env, "state").stdout)["migrations"] == state["migrations"]


def test_state_without_prisma_table_or_database(scripts, source, tmp_path):
    env = helper_env(source, tmp_path, LITELLM_DB_NAME="postgres")
    assert values(helper(scripts, env, "state").stdout)["migrations"] == "none"
    down = helper_env(source, tmp_path, PGPORT="1")
    state = values(helper(scripts, down, "state").stdout)
    assert state["migrations"] == "unknown"
    assert state["pg_major"] == ""


def test_check_dump_restores_into_scratch_and_drops_it(scripts, source, dump, tmp_path):
    env = helper_env(source, tmp_path)
    result = helper(scripts, env, "check-dump", str(dump))
    assert result.returncode == 0, result.stderr
    assert values(result.stdout) == {"tables": "3", "rows": "253"}
    left = source.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{DB}_upgrade_check';")
    assert left == "0"


def test_check_dump_fails_for_a_damaged_or_stale_dump(scripts, source, dump, tmp_path):
    env = helper_env(source, tmp_path)
    damaged = tmp_path / "damaged.dump"
    damaged.write_bytes(dump.read_bytes()[: len(dump.read_bytes()) // 2])
    result = helper(scripts, env, "check-dump", str(damaged))
    assert result.returncode == 1
    assert f"{damaged} does not restore" in result.stderr
    # Rows written after the dump: the check names the table that differs.
    source.psql(
        """INSERT INTO "LiteLLM_VerificationToken" VALUES ('late', 1);""",
        database=DB,
        user=source.db_user,
        password=source.db_password,
    )
    try:
        stale = helper(scripts, env, "check-dump", str(dump))
        assert stale.returncode == 1
        assert "differs from database upgrade_src" in stale.stderr
        assert "LiteLLM_VerificationToken" in stale.stderr
    finally:
        late = """DELETE FROM "LiteLLM_VerificationToken" WHERE token = 'late';"""
        source.psql(late, database=DB)
    left = source.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{DB}_upgrade_check';")
    assert left == "0"


def test_guard_marker_lets_the_new_major_start_once(scripts, source, dump, tmp_path):
    env = helper_env(source, tmp_path)
    state_dir = tmp_path / "pgstate"
    (state_dir / "17").mkdir(parents=True)
    (state_dir / "17" / "PG_VERSION").write_text("17\n")
    guard_env = {"PG_DATA_DIR": str(state_dir / "18"), "PG_MAJOR": "18"}
    refused = scripts.run("litellm-postgresql-guard", env=guard_env)
    assert refused.returncode == 1
    assert "tappaas-litellm upgrade <vm> --postgresql" in refused.stderr

    result = helper(scripts, env, "pg-allow-empty", "17", str(dump))
    assert result.returncode == 0, result.stderr
    marker = state_dir / ".litellm-major-upgrade"
    assert marker.read_text() == f"from=17\ndump={dump}\n"
    allowed = scripts.run("litellm-postgresql-guard", env=guard_env)
    assert allowed.returncode == 0, allowed.stderr
    assert "major upgrade in progress" in allowed.stdout

    assert helper(scripts, env, "pg-finish").returncode == 0
    assert not marker.exists()
    assert scripts.run("litellm-postgresql-guard", env=guard_env).returncode == 1
    assert (state_dir / "17" / "PG_VERSION").read_text() == "17\n"  # untouched throughout


def test_set_aside_moves_a_failed_cluster_but_never_the_running_one(scripts, source, tmp_path):
    env = helper_env(source, tmp_path)
    state_dir = tmp_path / "pgstate"
    (state_dir / "18").mkdir(parents=True)
    moved = helper(scripts, env, "pg-set-aside", "18")
    assert moved.returncode == 0, moved.stderr
    kept = Path(values(moved.stdout)["kept"])
    assert kept.parent == state_dir and kept.name.startswith("18.failed-") and kept.is_dir()
    assert not (state_dir / "18").exists()
    running = str(source.major)
    (state_dir / running).mkdir()
    refused = helper(scripts, env, "pg-set-aside", running)
    assert refused.returncode == 1
    assert f"PostgreSQL {running} is the running version" in refused.stderr
    assert (state_dir / running).is_dir()


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["check-dump"],
        ["switch-generation", "1;reboot", "switch"],
        ["switch-generation", "1", "boot"],
        ["drop-generation", "-1"],
        ["pg-set-aside", "x"],
    ],
)
def test_usage_errors(scripts, source, tmp_path, args):
    result = helper(scripts, helper_env(source, tmp_path), *args)
    assert result.returncode == 2
    assert "usage: litellm-upgrade-helper" in result.stderr


def test_major_upgrade_path_dump_into_a_new_empty_cluster(scripts, source, dump, dirs):
    """The --postgresql path after the switch: a new, empty cluster as NixOS sets it up
    (role and empty database), litellm-restore of the checked dump, same content after.
    (The same major version here: the test machine has one PostgreSQL.)"""
    new = start_postgresql(scripts.pg_bin_dir, source.db_password)
    try:
        prepare_litellm_database(new, scripts)
        env = new.env() | {
            "BACKUP_ROOT": str(dirs.root),
            "LITELLM_DB_NAME": new.db_name,
            "LITELLM_PG_RUNAS": new.os_user,
            "LITELLM_MANAGE_SERVICE": "0",
        }
        result = scripts.run("litellm-restore", "--postgresql", str(dump), "--confirm", env=env)
        assert result.returncode == 0, result.stderr
        before = source.psql(CONTENT_SQL, database=DB)
        after = new.psql(CONTENT_SQL, user=new.db_user, password=new.db_password)
        assert after == before
        assert "encrypted-by-the-salt-key" in after
        owners = new.psql("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public';")
        assert owners == new.db_user
    finally:
        new.stop()


# systemd as far as the hold needs it: one unit, podman-litellm.service, wanted by
# multi-user.target, with the start condition the module gives it. A start with the condition
# unmet leaves the unit inactive and succeeds, as systemd does (switch-to-configuration starts
# every active target, which starts what they want; a masked or failing unit would fail it).
STANDIN_SYSTEMCTL = """#!/usr/bin/env bash
state={state}
echo "$*" >> {state}.calls
unit=podman-litellm.service
start() {{
  case "{condition}" in
    '!'*) if [ -e "${{1#!}}" ]; then
        echo "condition unmet: start of $unit skipped" >> {state}.calls
        return 0
      fi ;;
  esac
  echo active > "$state"
}}
case "$1 $2" in
  "is-active --quiet") [ "$(cat "$state")" = active ] ;;
  "is-active $unit") cat "$state"; [ "$(cat "$state")" = active ] ;;
  "stop $unit") echo inactive > "$state" ;;
  "start $unit" | "start multi-user.target") start "{condition}" ;;
  "cat litellm-service-keys.service") echo "[Unit]" ;;
  "start --no-block") [ "$3" = litellm-service-keys.service ] ;;
  *) echo "stand-in systemctl: $*" >&2; exit 1 ;;
esac
"""


def test_the_module_holds_the_units_on_the_helpers_file(tmp_path):
    """The file `stop` writes is the one LiteLLM's and the service keys' units are
    conditioned on (a host with service keys, as the generator writes it)."""
    host = tmp_path / "default.nix"
    host.write_text(golden_host_text())
    keys = tmp_path / "keys.nix"
    keys.write_text('{ tappaas.litellm.serviceKeys.openwebui.models = [ "m" ]; }')
    status, report, stderr = nixeval(ROOT, host, keys)
    assert status == 0, stderr
    services = report["results"]["modules"]["services"]
    helper_text = (SCRIPTS_DIR / "litellm-upgrade-helper.sh").read_text()
    default = re.search(r'^hold="\$\{LITELLM_HOLD_FILE:-(/run/[^}]+)\}"$', helper_text, re.M)
    assert default is not None
    for unit in ("podman-litellm", "litellm-service-keys"):
        assert services[unit]["unitConfig"]["ConditionPathExists"] == f"!{default[1]}", unit


def test_stop_holds_litellm_down_across_the_switch_and_the_restore(
    scripts, source, dump, dirs, tmp_path
):
    """stop; the switch starts multi-user.target; the dump is restored (litellm-restore stops
    and starts the unit only if it was running); LiteLLM is still down until `start`."""
    hold = tmp_path / "run" / "litellm-upgrade-hold"
    hold.parent.mkdir()
    bin_dir = tmp_path / "standin"
    bin_dir.mkdir()
    state = tmp_path / "unit.state"
    state.write_text("active\n")
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(STANDIN_SYSTEMCTL.format(state=state, condition=f"!{hold}"))
    systemctl.chmod(0o755)
    env = helper_env(source, tmp_path) | {
        "PATH": f"{bin_dir}:{scripts.env()['PATH']}",
        "LITELLM_HOLD_FILE": str(hold),
        "BACKUP_ROOT": str(dirs.root),
    }

    stopped = helper(scripts, env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert values(stopped.stdout) == {"hold": str(hold)}
    assert hold.is_file() and state.read_text() == "inactive\n"

    # What switch-to-configuration does: start the active targets again.
    assert scripts.run("systemctl", "start", "multi-user.target", env=env).returncode == 0
    assert state.read_text() == "inactive\n"
    restored = helper(scripts, env, "restore-dump", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert state.read_text() == "inactive\n"
    assert values(helper(scripts, env, "state").stdout)["service"] == "inactive"

    started = helper(scripts, env, "start")
    assert started.returncode == 0, started.stderr
    assert not hold.exists() and state.read_text() == "active\n"
    calls = (tmp_path / "unit.state.calls").read_text().splitlines()
    assert calls.count("condition unmet: start of podman-litellm.service skipped") == 1, calls
    # LiteLLM first, then the service keys' reconciler (skipped by a switch during the hold).
    assert calls[-3:] == [
        "start podman-litellm.service",
        "cat litellm-service-keys.service",
        "start --no-block litellm-service-keys.service",
    ], calls


def test_stop_without_a_writable_hold_stops_nothing(scripts, source, tmp_path):
    """No hold, no stop: the tool's step fails before LiteLLM goes down unprotected."""
    bin_dir = tmp_path / "standin"
    bin_dir.mkdir()
    state = tmp_path / "unit.state"
    state.write_text("active\n")
    systemctl = bin_dir / "systemctl"
    hold = tmp_path / "missing" / "litellm-upgrade-hold"
    systemctl.write_text(STANDIN_SYSTEMCTL.format(state=state, condition=f"!{hold}"))
    systemctl.chmod(0o755)
    env = helper_env(source, tmp_path) | {
        "PATH": f"{bin_dir}:{scripts.env()['PATH']}",
        "LITELLM_HOLD_FILE": str(hold),
    }
    result = helper(scripts, env, "stop")
    assert result.returncode == 1
    assert f"cannot write {hold}" in result.stderr
    assert state.read_text() == "active\n"
