"""Root's scripts writing into folders a service user owns: `postgres` owns /var/lib/postgresql
(the upgrade marker) and owned the install guide's /var/backup/postgresql. A symlink that user
plants under the name root is about to write must never make root write through it.

The scripts run as root against the real PostgreSQL and Redis, as on the VM; the symlinks are
planted by the OS user `postgres` (runuser)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from stacklib import PostgresServer, RedisServer

ROOTS_CONTENT = "root's own file, must stay as it is\n"


@pytest.fixture
def postgres_owned(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a folder owned by `postgres`, a root-only file `postgres` would like root to overwrite)."""
    if os.geteuid() != 0:
        pytest.fail("these tests run as root, as the module's scripts do on the VM")
    entry = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="litellm-postgres-owned-"))
    base.chmod(0o755)
    folder = base / "owned"
    folder.mkdir(mode=0o700)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    victim = tmp_path / "victim"
    victim.write_text(ROOTS_CONTENT)
    victim.chmod(0o600)
    yield folder, victim
    shutil.rmtree(base, ignore_errors=True)


def plant(link: Path, target: Path) -> None:
    """`postgres` makes `link` point at `target`."""
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "ln", "-s", str(target), str(link)], check=True
    )


def stamps(seconds: int) -> list[str]:
    """The UTC time stamps the scripts name their files with, for the next `seconds`."""
    now = datetime.now(UTC)
    return [(now + timedelta(seconds=s)).strftime("%Y%m%dT%H%M%SZ") for s in range(seconds)]


def test_upgrade_marker_replaces_a_planted_symlink(scripts, postgres_owned, tmp_path):
    state_dir, victim = postgres_owned
    subprocess.run(["runuser", "-u", "postgres", "--", "mkdir", str(state_dir / "17")], check=True)
    plant(state_dir / ".litellm-major-upgrade", victim)
    dump = tmp_path / "litellm.dump"
    dump.write_bytes(b"PGDMP")

    result = scripts.run(
        "litellm-upgrade-helper",
        "pg-allow-empty",
        "17",
        str(dump),
        env={"PG_STATE_DIR": str(state_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == ROOTS_CONTENT
    marker = state_dir / ".litellm-major-upgrade"
    assert not marker.is_symlink()
    assert marker.read_text() == f"from=17\ndump={dump}\n"
    assert marker.stat().st_uid == 0
    assert sorted(p.name for p in state_dir.iterdir()) == [".litellm-major-upgrade", "17"]


def test_backups_never_write_through_planted_symlinks(
    scripts, postgres_owned, postgresql_server: PostgresServer, redis_factory, tmp_path
):
    """Every name the three backups could take in the next minute is a symlink `postgres`
    planted: a dangling one (root must not create its target) or one to root's file."""
    folder, victim = postgres_owned
    server = postgresql_server
    redis: RedisServer = redis_factory()
    created_by_root = tmp_path / "would-be-created"
    for stamp in stamps(60):
        plant(folder / f"litellm-{stamp}.dump", created_by_root)
        plant(folder / f"redis-{stamp}.rdb", created_by_root)
        plant(folder / f"litellm-env-{stamp}.tar.gz", created_by_root)
    env_file = tmp_path / "litellm.env"
    env_file.write_text("LITELLM_MASTER_KEY=sk-x\n")
    env_file.chmod(0o600)
    common = {"BACKUP_DIR": str(folder), "BACKUP_ROOT": str(folder.parent)}
    runs = {
        "litellm-backup-postgresql": server.env() | {"LITELLM_DB_NAME": server.db_name},
        "litellm-backup-redis": redis.env(),
        "litellm-backup-env": {"LITELLM_ENV_FILE": str(env_file), "LITELLM_CONFIG_FILE": ""},
    }
    for name, env in runs.items():
        result = scripts.run(name, env=common | env)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert "wrote" in result.stdout
    assert not created_by_root.exists()
    assert victim.read_text() == ROOTS_CONTENT
    written = [p for p in folder.iterdir() if not p.is_symlink()]
    assert sorted(p.name.split("-2")[0] for p in written) == ["litellm", "litellm-env", "redis"]
    for path in written:
        assert path.stat().st_uid == 0 and (path.stat().st_mode & 0o777) == 0o600


def test_set_aside_never_moves_a_cluster_into_a_planted_folder(scripts, postgres_owned, tmp_path):
    """`pg-set-aside` renames a failed cluster to `MAJOR.failed-<time>` in the folder `postgres`
    owns; a symlink planted under that name must not receive the cluster."""
    state_dir, _ = postgres_owned
    subprocess.run(["runuser", "-u", "postgres", "--", "mkdir", str(state_dir / "18")], check=True)
    roots_folder = tmp_path / "roots-folder"
    roots_folder.mkdir(mode=0o700)
    for stamp in stamps(60):
        plant(state_dir / f"18.failed-{stamp}", roots_folder)

    result = scripts.run(
        "litellm-upgrade-helper", "pg-set-aside", "18", env={"PG_STATE_DIR": str(state_dir)}
    )
    assert result.returncode != 0
    assert list(roots_folder.iterdir()) == []
    assert (state_dir / "18").is_dir() and not (state_dir / "18").is_symlink()
