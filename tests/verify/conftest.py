"""Fixtures for the verify tests: the local stack as a verify Target, backups made by the
module's own scripts, a real sshd, and a stand-in for the NixOS test driver's Machine."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tappaas_litellm.verify import Target
from verify_helpers import FakeMachine, SSHServer, start_sshd

ME = pwd.getpwuid(os.geteuid()).pw_name


def proxy_has_database(litellm_proxy) -> bool:
    """Whether the local proxy runs with its database (not while Prisma's engines are missing)."""
    readiness = httpx.get(f"{litellm_proxy.url}/health/readiness", timeout=10).json()
    return readiness.get("db") == "connected"


def stack_target(postgresql_server, redis_server, stack_secrets, litellm_proxy, backup_root):
    """The CI stack as seen by verify: its ports, its secrets file, its backups."""
    return Target(
        base_url=litellm_proxy.url,
        secrets_file=str(stack_secrets.env_file),
        secrets_owner=ME,
        redis_host=redis_server.host,
        redis_port=redis_server.port,
        pg_host=postgresql_server.host,
        pg_port=postgresql_server.port,
        pg_user=postgresql_server.superuser,
        pg_password=postgresql_server.superuser_password,
        pg_database=postgresql_server.db_name,
        database=proxy_has_database(litellm_proxy),
        backup_root=str(backup_root),
        backup_owners={"": ME, "postgresql": ME, "redis": ME, "litellm-env": ME},
        timeout=20,
        model_timeout=30,
    )


class BackupRoot:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.postgresql = root / "postgresql"
        self.redis = root / "redis"
        self.litellm_env = root / "litellm-env"


def make_backups_root(root: Path) -> BackupRoot:
    """<root>/{postgresql,redis,litellm-env}, mode 0700, like the module's tmpfiles rules."""
    dirs = BackupRoot(root)
    for path in (dirs.root, dirs.postgresql, dirs.redis, dirs.litellm_env):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
    return dirs


@pytest.fixture(scope="session")
def stack_backups(
    scripts, postgresql_server, redis_server, stack_secrets, litellm_proxy, tmp_path_factory
):
    """A backup root with one fresh backup of each kind, made by the module's scripts."""
    dirs = make_backups_root(tmp_path_factory.mktemp("verify-backup") / "var-backup")
    runs = [
        (
            "litellm-backup-postgresql",
            {
                "BACKUP_DIR": str(dirs.postgresql),
                "LITELLM_DB_NAME": postgresql_server.db_name,
                **postgresql_server.env(),
            },
        ),
        ("litellm-backup-redis", {"BACKUP_DIR": str(dirs.redis), **redis_server.env()}),
        (
            "litellm-backup-env",
            {
                "BACKUP_DIR": str(dirs.litellm_env),
                "LITELLM_ENV_FILE": str(stack_secrets.env_file),
                "LITELLM_CONFIG_FILE": str(litellm_proxy.config_file),
            },
        ),
    ]
    for name, env in runs:
        result = scripts.run(name, env={**env, "BACKUP_ROOT": str(dirs.root)})
        assert result.returncode == 0, f"{name}: {result.stderr}"
    return dirs


@pytest.fixture
def target(postgresql_server, redis_server, stack_secrets, litellm_proxy, stack_backups):
    return stack_target(
        postgresql_server, redis_server, stack_secrets, litellm_proxy, stack_backups.root
    )


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory) -> Iterator[SSHServer]:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def fake_machine() -> FakeMachine:
    return FakeMachine()
