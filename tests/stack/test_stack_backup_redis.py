"""litellm-backup-redis and the Redis part of litellm-restore, with AOF on."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from stacklib import BackupDirs, RedisServer, Scripts, make_backup_dirs

# Every key with its type and value in a canonical form (sets and hashes sorted).
ALL_KEYS_LUA = """
local function value(key)
  local kind = redis.call("TYPE", key)["ok"]
  local items
  if kind == "string" then items = {redis.call("GET", key)}
  elseif kind == "list" then items = redis.call("LRANGE", key, 0, -1)
  elseif kind == "set" then items = redis.call("SMEMBERS", key); table.sort(items)
  elseif kind == "zset" then items = redis.call("ZRANGE", key, 0, -1, "WITHSCORES")
  elseif kind == "hash" then
    items = {}
    local flat = redis.call("HGETALL", key)
    for i = 1, #flat, 2 do items[#items + 1] = flat[i] .. "=" .. flat[i + 1] end
    table.sort(items)
  else items = {"?"} end
  return kind .. ":" .. table.concat(items, ",")
end
local out, cursor = {}, "0"
repeat
  local reply = redis.call("SCAN", cursor, "COUNT", 1000)
  cursor = reply[1]
  for _, key in ipairs(reply[2]) do
    out[#out + 1] = key
    out[#out + 1] = value(key)
  end
until cursor == "0"
return out
"""
CACHE_KEYS = 500


def fill(server: RedisServer) -> None:
    server.cli("SET", "plain", "value")
    server.cli("SET", "key with spaces\nand a newline", "odd")
    server.cli("SET", "expiring", "soon", "EX", "3600")
    server.cli("HSET", "hash", "field1", "a", "field2", "b")
    server.cli("RPUSH", "list", "x", "y", "z")
    server.cli("SADD", "set", "m1", "m2")
    server.cli("ZADD", "zset", "1", "one", "2", "two")
    server.cli("SET", "in-db-3", "three", db=3)
    # Commands on stdin: one redis-cli for all of them.
    server.cli(input="".join(f'SET cache:{i} "response {i}"\n' for i in range(CACHE_KEYS)))


def content(server: RedisServer) -> dict[int, dict[str, str]]:
    """Every key of db 0 and db 3 with its type and value, escaped by --no-raw."""
    result: dict[int, dict[str, str]] = {}
    for db in (0, 3):
        out = server.cli("--no-raw", "EVAL", ALL_KEYS_LUA, "0", db=db)
        items = [line.split(") ", 1)[1] for line in out.splitlines() if ") " in line]
        result[db] = dict(zip(items[::2], items[1::2], strict=True))
        assert len(result[db]) == int(server.cli("DBSIZE", db=db))
    return result


def backup_env(server: RedisServer, dirs: BackupDirs) -> dict[str, str]:
    return server.env() | {"BACKUP_DIR": str(dirs.redis), "BACKUP_ROOT": str(dirs.root)}


def restore_env(server: RedisServer, dirs: BackupDirs) -> dict[str, str]:
    return server.env() | {"BACKUP_ROOT": str(dirs.root), "LITELLM_MANAGE_SERVICE": "0"}


@pytest.fixture(scope="module")
def source(redis_factory) -> RedisServer:
    server = redis_factory(appendonly=True)
    assert server.cli("CONFIG", "GET", "appendonly") == "appendonly\nyes"
    fill(server)
    return server


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> BackupDirs:
    return make_backup_dirs(tmp_path_factory.mktemp("redisbackup") / "backup")


@pytest.fixture(scope="module")
def snapshot_file(scripts: Scripts, source: RedisServer, dirs: BackupDirs) -> Path:
    result = scripts.run("litellm-backup-redis", env=backup_env(source, dirs))
    assert result.returncode == 0, result.stderr
    files = sorted(dirs.redis.iterdir())
    assert len(files) == 1, files
    return files[0]


def test_snapshot_file(snapshot_file: Path, source: RedisServer):
    assert snapshot_file.name.startswith("redis-") and snapshot_file.name.endswith("Z.rdb")
    assert stat.S_IMODE(snapshot_file.stat().st_mode) == 0o600
    assert snapshot_file.read_bytes()[:5] == b"REDIS"


def test_snapshot_restores_into_a_fresh_server_with_the_same_keys(
    scripts, source, snapshot_file, dirs, redis_factory
):
    expected = content(source)
    target = redis_factory(appendonly=True)
    target.cli("SET", "stale", "must go")
    target.cli("SET", "plain", "overwritten")

    result = scripts.run(
        "litellm-restore", "--redis", "latest", "--confirm", env=restore_env(target, dirs)
    )
    assert result.returncode == 0, result.stderr
    assert f"restored {CACHE_KEYS + 8} Redis key(s) from {snapshot_file}" in result.stdout
    assert content(target) == expected
    assert 0 < int(target.cli("TTL", "expiring")) <= 3600
    assert target.password not in result.stdout + result.stderr

    # The restore went through the AOF: it survives a crash and restart of the server.
    restarted = target.restart()
    try:
        assert content(restarted) == expected
    finally:
        restarted.stop()


def test_password_comes_from_the_secrets_file_when_not_in_the_environment(
    scripts, redis_factory, tmp_path
):
    server = redis_factory()
    server.cli("SET", "k", "v")
    env_file = tmp_path / "litellm.env"
    env_file.write_text(f"LITELLM_MASTER_KEY=sk-x\nREDIS_PASSWORD={server.password}\n")
    dirs = make_backup_dirs(tmp_path / "backup")
    env = backup_env(server, dirs) | {"LITELLM_ENV_FILE": str(env_file)}
    del env["REDIS_PASSWORD"]
    result = scripts.run("litellm-backup-redis", env=env)
    assert result.returncode == 0, result.stderr
    assert len(list(dirs.redis.glob("redis-*.rdb"))) == 1


def test_backup_with_wrong_password_fails_without_a_file(scripts, source, tmp_path):
    dirs = make_backup_dirs(tmp_path / "backup")
    env = backup_env(source, dirs) | {"REDIS_PASSWORD": "wrong"}
    result = scripts.run("litellm-backup-redis", env=env)
    assert result.returncode == 1
    assert f"snapshot from Redis at {source.host}:{source.port} failed" in result.stderr
    assert list(dirs.redis.iterdir()) == []


def test_restore_refuses_without_confirm(scripts, snapshot_file, dirs, redis_factory):
    target = redis_factory()
    target.cli("SET", "keep", "me")
    result = scripts.run(
        "litellm-restore", "--redis", str(snapshot_file), env=restore_env(target, dirs)
    )
    assert result.returncode == 2
    assert f"delete every key of Redis at {target.host}:{target.port}" in result.stderr
    assert target.cli("DBSIZE") == "1"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_snapshot_fails_and_leaves_redis_unchanged(
    scripts, snapshot_file, dirs, redis_factory, tmp_path, damage
):
    target = redis_factory()
    target.cli("SET", "keep", "me")
    bad = tmp_path / "redis-20260101T023000Z.rdb"
    data = snapshot_file.read_bytes()
    bad.write_bytes(b"not an rdb" * 10 if damage == "garbage" else data[: len(data) // 2])
    result = scripts.run(
        "litellm-restore", "--redis", str(bad), "--confirm", env=restore_env(target, dirs)
    )
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith(f"litellm-restore: {bad} is ")
    assert "nothing was changed" in message
    assert target.cli("GET", "keep") == "me"
    assert target.cli("DBSIZE") == "1"


def test_restore_with_wrong_live_password_changes_nothing(
    scripts, snapshot_file, dirs, redis_factory
):
    target = redis_factory()
    target.cli("SET", "keep", "me")
    env = restore_env(target, dirs) | {"REDIS_PASSWORD": "wrong"}
    result = scripts.run("litellm-restore", "--redis", str(snapshot_file), "--confirm", env=env)
    assert result.returncode == 1
    assert "does not answer PING (wrong REDIS_PASSWORD?); nothing was changed" in result.stderr
    assert target.cli("DBSIZE") == "1"
