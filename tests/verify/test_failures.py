"""Broken setups give a *fail* with a reason and a next step -- never an exception."""

from __future__ import annotations

import os
import time

import pytest
from tappaas_litellm.verify import (
    CHECKS,
    CheckResult,
    CommandResult,
    Context,
    LocalTransport,
    SSHTransport,
    Status,
    check_names,
    run_checks,
)
from verify_helpers import free_port


def run(name: str, target, transport=None) -> CheckResult:
    result = CHECKS[name].function(Context(transport or LocalTransport(), target))
    assert isinstance(result, CheckResult)
    return result


def assert_fail(result: CheckResult, *words: str, hint: str | None = None) -> None:
    assert result.status is Status.FAIL, result
    for word in words:
        assert word in result.reason, result
    if hint is not None:
        assert hint in result.hint, result
    assert "\n" not in result.reason, "the reason is one line"


def test_stopped_redis(target, redis_factory):
    server = redis_factory(password="verify-redis-password")
    own = target.replace(redis_port=server.port, redis_password=server.password)
    assert run("redis", own).status is Status.PASS
    server.stop()
    result = run("redis", own)
    assert_fail(result, "does not answer", "Connection refused", hint="redis-litellm")


def test_wrong_redis_password(target):
    result = run("redis", target.replace(redis_password="not-the-password"))
    assert_fail(result, "refuses the password", hint="litellm-redis.pass")


@pytest.fixture
def secrets_copy(stack_secrets, tmp_path):
    def make(**changes: str | None):
        values = dict(stack_secrets.values)
        for name, value in changes.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        path = tmp_path / "litellm.env"
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
        return str(path)

    return make


def test_wrong_master_key(target, secrets_copy):
    wrong = target.replace(secrets_file=secrets_copy(LITELLM_MASTER_KEY="sk-" + "ab" * 32))
    assert_fail(run("auth", wrong), "master key", "rejected", hint="restart podman-litellm")
    for name in ("health", "models", "model-health", "request-flow"):
        result = run(name, wrong)
        assert_fail(result, "master key rejected", hint="restart podman-litellm")


def test_weak_or_missing_keys(target, secrets_copy):
    weak = target.replace(secrets_file=secrets_copy(LITELLM_MASTER_KEY="sk-1234"))
    assert_fail(run("master-key", weak), "well-known default")
    no_salt = target.replace(secrets_file=secrets_copy(LITELLM_SALT_KEY=None))
    assert_fail(run("master-key", no_salt), "LITELLM_SALT_KEY is not set")
    key = "sk-" + "cd" * 32
    same = target.replace(secrets_file=secrets_copy(LITELLM_MASTER_KEY=key, LITELLM_SALT_KEY=key))
    # An adopted install-guide VM: the master key is the salt key on purpose, and passes.
    adopted = run("master-key", same)
    assert adopted.status is Status.PASS, adopted
    assert "salt key equals the master key (adopted install" in adopted.reason
    missing = target.replace(secrets_file=secrets_copy(LITELLM_MASTER_KEY=None))
    assert_fail(run("master-key", missing), "LITELLM_MASTER_KEY is not set")
    assert_fail(run("secrets-file", missing), "missing LITELLM_MASTER_KEY", hint="generate")


def test_missing_secrets_file(target, tmp_path):
    gone = target.replace(secrets_file=str(tmp_path / "nowhere.env"))
    for name in ("secrets-file", "master-key", "auth", "health", "models", "request-flow"):
        assert_fail(run(name, gone), "missing", hint="generate-litellm-secrets")
    assert_fail(run("redis", gone), "missing")


def test_secrets_file_readable_by_others(target, secrets_copy):
    path = secrets_copy()
    os.chmod(path, 0o644)
    result = run("secrets-file", target.replace(secrets_file=path))
    assert_fail(result, "mode 644, expected 600", hint="chmod 600")
    other = run("secrets-file", target.replace(secrets_file=secrets_copy(), secrets_owner="nobody"))
    assert_fail(other, "expected nobody")


def test_proxy_down(target):
    down = target.replace(base_url=f"http://127.0.0.1:{free_port()}")
    for name in ("health", "auth", "models", "model-health", "request-flow"):
        result = run(name, down)
        assert_fail(result, "connection refused")
        assert "podman-litellm" in result.hint


def test_failing_model_provider(target, upstream):
    upstream.set_failing(True, status=500)
    try:
        assert_fail(run("model-health", target), "unhealthy", "fake-gpt", hint="provider")
        assert_fail(run("request-flow", target), "fake-gpt", "failed", hint="provider")
    finally:
        upstream.reset()
    assert run("request-flow", target).status is Status.PASS


def test_unknown_or_missing_model(target):
    assert_fail(run("request-flow", target.replace(model="no-such-model")), "not configured")
    ctx = Context(LocalTransport(), target)
    ctx._models = []
    result = CHECKS["request-flow"].function(ctx)
    assert result.status is Status.SKIP
    assert "no model configured" in result.reason
    assert CHECKS["model-health"].function(ctx).status is Status.SKIP


def test_postgresql_down(target):
    down = target.replace(pg_port=free_port())
    assert_fail(run("postgresql", down), "does not answer", hint="postgresql")
    assert_fail(run("resources", down), "PostgreSQL connections")
    assert_fail(run("postgresql", target.replace(pg_database="nope")), "nope does not exist")
    assert_fail(run("postgresql", target.replace(pg_password="wrong-password")), "password")


def make_backups(root, age_hours: float = 1.0, empty: str = ""):
    names = {
        "postgresql": "litellm-20260101T020000Z.dump",
        "redis": "redis-20260101T023000Z.rdb",
        "litellm-env": "litellm-env-20260101T024500Z.tar.gz",
    }
    root.mkdir(mode=0o700)
    stamp = time.time() - age_hours * 3600
    for kind, name in names.items():
        folder = root / kind
        folder.mkdir(mode=0o700)
        path = folder / name
        path.write_bytes(b"" if kind == empty else b"backup data")
        os.utime(path, (stamp, stamp))
    return root


def test_missing_backup_folder(target, tmp_path):
    root = make_backups(tmp_path / "backup")
    for path in (root / "redis").iterdir():
        path.unlink()
    (root / "redis").rmdir()
    broken = target.replace(backup_root=str(root), backup_owners=None)
    assert_fail(run("backup-dirs", broken), f"{root}/redis missing", hint="tmpfiles")
    assert_fail(run("backup-age", broken), f"{root}/redis missing", hint="litellm-backup-redis")
    gone = target.replace(backup_root=str(tmp_path / "nothing"), backup_owners=None)
    assert_fail(run("backup-dirs", gone), f"{tmp_path / 'nothing'} missing")
    assert_fail(run("backup-age", gone), f"{tmp_path / 'nothing'} missing")
    assert_fail(run("disk-space", gone), "cannot measure free space")


def test_backup_folder_open_to_others(target, tmp_path):
    root = make_backups(tmp_path / "backup")
    (root / "postgresql").chmod(0o755)
    result = run("backup-dirs", target.replace(backup_root=str(root), backup_owners=None))
    assert_fail(result, "mode 755, expected 700")


def test_old_empty_and_absent_backups(target, tmp_path):
    old = make_backups(tmp_path / "old", age_hours=80)
    result = run("backup-age", target.replace(backup_root=str(old)))
    assert_fail(result, "postgresql backup is 3.3d old")
    empty = make_backups(tmp_path / "empty", empty="redis")
    assert_fail(run("backup-age", target.replace(backup_root=str(empty))), "is empty")
    fresh = make_backups(tmp_path / "fresh")
    assert run("backup-age", target.replace(backup_root=str(fresh))).status is Status.PASS
    none = tmp_path / "none"
    for kind in ("", "postgresql", "redis", "litellm-env"):
        (none / kind).mkdir(mode=0o700, exist_ok=True)
    skip = run("backup-age", target.replace(backup_root=str(none)))
    assert skip.status is Status.SKIP
    assert "no backups yet" in skip.reason


def test_disk_nearly_full(target):
    result = run("disk-space", target.replace(min_free_mib=10**9))
    assert_fail(result, "low disk space", hint="retentionDays")


def test_unreachable_host_fails_every_check_quickly(target):
    transport = SSHTransport("127.0.0.1", port=free_port(), connect_timeout=3)
    started = time.monotonic()
    results = run_checks(transport, target)
    assert time.monotonic() - started < 15
    assert [r.name for r in results] == check_names()
    assert all(r.status is Status.FAIL for r in results)
    assert "cannot reach ssh tappaas@127.0.0.1" in results[0].reason
    assert "Connection refused" in results[0].reason
    assert "ssh tappaas@HOST" in results[0].hint
    assert all(r.reason.startswith("not run: no connection") for r in results[1:])


class Exploding:
    description = "exploding"
    has_systemd = True

    def run(self, command, *, timeout=30.0, stdin=None, root=False):
        if command.startswith("echo verify-ok") or command == "id -u":
            return CommandResult(0, "verify-ok\n" if "echo" in command else "0\n", "")
        raise RuntimeError("transport exploded")


class Hanging:
    description = "hanging"
    has_systemd = True

    def run(self, command, *, timeout=30.0, stdin=None, root=False):
        if command.startswith("echo verify-ok"):
            return CommandResult(0, "verify-ok\n", "")
        if command == "id -u":
            return CommandResult(0, "0\n", "")
        return CommandResult(124, "", f"timed out after {timeout:g}s")


class Garbage:
    description = "garbage"
    has_systemd = True

    def run(self, command, *, timeout=30.0, stdin=None, root=False):
        if command.startswith("echo verify-ok"):
            return CommandResult(0, "verify-ok\n", "")
        if command == "id -u":
            return CommandResult(0, "0\n", "")
        return CommandResult(0, "\x00garbage|||\n@@http_code=abc@@ 12 x", "")


@pytest.mark.parametrize(
    "transport", [Exploding(), Hanging(), Garbage()], ids=["raises", "times-out", "garbage"]
)
def test_no_check_ever_raises(transport, target):
    results = run_checks(transport, target)
    assert [r.name for r in results] == check_names()
    for result in results[1:]:
        assert result.status in (Status.FAIL, Status.SKIP), result
        assert result.reason
    if isinstance(transport, Exploding):
        assert all("transport exploded" in r.reason for r in results[1:] if r.failed)
    if isinstance(transport, Hanging):
        assert any("timed out" in r.reason for r in results[1:])
