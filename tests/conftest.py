"""Real servers for the tests, started once per test run (the code lives in stacklib.py).

Session fixtures, each a small frozen dataclass with the connection details:

* ``scripts`` (``Scripts``): the module's shell scripts on a ``PATH`` directory under the names the
  module installs them with: symbolic links to the very same ``modules/litellm/scripts/*.sh``;
  ``scripts.run(name, *args, env={...})``, ``scripts.env({...})``;
* ``stack_secrets`` (``StackSecrets``): the secrets file made by ``litellm-secrets`` (first boot);
* ``postgresql_server`` (``PostgresServer``): Debian's PostgreSQL in a temporary cluster on a free
  loopback port with the ``litellm`` database and role, whose password was set from the secrets
  file by ``litellm-postgresql-password``; ``.env()`` gives libpq variables of the superuser;
* ``redis_server`` (``RedisServer``): ``redis-server`` on a free loopback port with the secrets
  file's password and AOF on, like the module's ``redis-litellm``; ``.env()``, ``.cli(...)``;
  ``redis_factory(password=None, appendonly=True)`` starts more servers for one test run;
* ``upstream`` (``FakeUpstream``, tests/upstream.py): the fake OpenAI-compatible server;
* ``litellm_proxy`` (``LiteLLMProxy``): the real LiteLLM from PyPI (``.venv-litellm``, or
  ``LITELLM_BIN``) with ``modules/litellm/base-config.json`` plus one model at the upstream, the
  container's environment from ``modules/litellm/lib/environment.nix`` and the real Redis;
* ``backup_dirs`` (``BackupDirs``): ``<root>/{postgresql,redis,litellm-env}``, mode 0700.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from stacklib import (
    UPSTREAM_API_KEY,
    BackupDirs,
    LiteLLMProxy,
    PostgresServer,
    RedisServer,
    Scripts,
    StackSecrets,
    generate_secrets,
    link_scripts,
    make_backup_dirs,
    prepare_litellm_database,
    start_litellm,
    start_postgresql,
    start_redis,
)
from upstream import FakeUpstream


@pytest.fixture(scope="session")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Scripts:
    return link_scripts(tmp_path_factory.mktemp("bin"))


@pytest.fixture(scope="session")
def stack_secrets(scripts: Scripts, tmp_path_factory: pytest.TempPathFactory) -> StackSecrets:
    return generate_secrets(scripts, tmp_path_factory.mktemp("secrets") / "etc-secrets")


@pytest.fixture(scope="session")
def postgresql_server(scripts: Scripts, stack_secrets: StackSecrets) -> Iterator[PostgresServer]:
    server = start_postgresql(scripts.pg_bin_dir, stack_secrets.database_password)
    try:
        prepare_litellm_database(server, scripts)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def make(password: str | None = None, appendonly: bool = True) -> RedisServer:
        server = start_redis(
            tmp_path_factory.mktemp("redis"),
            password or os.urandom(16).hex(),
            appendonly=appendonly,
        )
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(
    stack_secrets: StackSecrets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """The stack's Redis; its password comes from the pass file, as with requirePassFile."""
    password = stack_secrets.redis_password_file.read_text().strip()
    server = start_redis(tmp_path_factory.mktemp("redis-litellm"), password)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def backup_dirs(tmp_path_factory: pytest.TempPathFactory) -> BackupDirs:
    return make_backup_dirs(tmp_path_factory.mktemp("backup") / "var-backup")


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream(api_key=UPSTREAM_API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def litellm_proxy(
    upstream: FakeUpstream,
    redis_server: RedisServer,
    stack_secrets: StackSecrets,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiteLLMProxy]:
    proxy = start_litellm(
        tmp_path_factory.mktemp("litellm"), upstream.base_url, redis_server, stack_secrets
    )
    yield proxy
    proxy.stop()
