"""litellm-redis-exporter-env: the Redis exporter's own user and password, and the ACL line
Redis includes, made from the password litellm-secrets generates; never REDIS_PASSWORD."""

from __future__ import annotations

import grp
import hashlib
import stat
import subprocess
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent / "modules/litellm/scripts"
SCRIPT = SCRIPTS / "litellm-redis-exporter-env.sh"
SECRETS = SCRIPTS / "litellm-secrets.sh"


def run(tmp_path: Path, password_file: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LITELLM_REDIS_EXPORTER_PASSWORD_FILE": str(password_file),
        "LITELLM_EXPORTER_ENV_FILE": str(tmp_path / "run" / "env"),
        "LITELLM_REDIS_ACL_FILE": str(tmp_path / "run" / "users.acl"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def secrets(tmp_path: Path, exporter_file: Path | None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LITELLM_ENV_FILE": str(tmp_path / "secrets" / "litellm.env"),
        "LITELLM_REDIS_PASSWORD_FILE": str(tmp_path / "secrets" / "litellm-redis.pass"),
        "LITELLM_DATABASE_PASSWORD_FILE": "",
    }
    if exporter_file is not None:
        env["LITELLM_REDIS_EXPORTER_PASSWORD_FILE"] = str(exporter_file)
    return subprocess.run(
        ["bash", str(SECRETS)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_secrets_generate_the_exporter_password_once(tmp_path: Path) -> None:
    assert secrets(tmp_path, None).returncode == 0
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == [
        "litellm-redis.pass",
        "litellm.env",
    ]
    exporter_file = tmp_path / "secrets" / "litellm-redis-exporter.pass"
    first = secrets(tmp_path, exporter_file)
    assert first.returncode == 0, first.stderr
    password = exporter_file.read_text()
    assert len(password.strip()) == 64 and password.endswith("\n")
    assert stat.S_IMODE(exporter_file.stat().st_mode) == 0o600
    assert password.strip() not in first.stdout + first.stderr
    main = (tmp_path / "secrets" / "litellm-redis.pass").read_text()
    assert password != main
    assert "litellm-redis-exporter" not in (tmp_path / "secrets" / "litellm.env").read_text()
    assert secrets(tmp_path, exporter_file).returncode == 0
    assert exporter_file.read_text() == password, "never changed once written"


def test_writes_the_exporters_user_and_the_acl_line(tmp_path: Path) -> None:
    source = tmp_path / "litellm-redis-exporter.pass"
    source.write_text("d4" * 32 + "\n")
    result = run(tmp_path, source)
    assert result.returncode == 0, result.stderr
    env_file, acl_file = tmp_path / "run" / "env", tmp_path / "run" / "users.acl"
    assert env_file.read_text() == f"REDIS_USER=litellm-exporter\nREDIS_PASSWORD={'d4' * 32}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    digest = hashlib.sha256(("d4" * 32).encode()).hexdigest()
    assert acl_file.read_text() == (
        f"user litellm-exporter reset on #{digest} resetkeys resetchannels -@all "
        "+ping +info +client|setname +latency|latest +slowlog|len\n"
    )
    assert "d4d4" not in acl_file.read_text() + result.stdout + result.stderr
    source.write_text("e5" * 32 + "\n")
    assert run(tmp_path, source).returncode == 0
    assert env_file.read_text().endswith(f"REDIS_PASSWORD={'e5' * 32}\n"), "a new one replaces"
    assert sorted(p.name for p in env_file.parent.iterdir()) == ["env", "users.acl"]


def test_missing_password_file_fails_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "absent.pass")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"litellm-redis-exporter-env: {tmp_path / 'absent.pass'} is missing or empty; "
        "is generate-litellm-secrets done?"
    ]
    assert not (tmp_path / "run").exists()


def test_a_password_that_would_break_the_acl_line_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "litellm-redis-exporter.pass"
    source.write_text("short +@all\n")
    result = run(tmp_path, source)
    assert result.returncode == 1
    assert "must hold 32 or more letters and digits" in result.stderr
    assert not (tmp_path / "run").exists()


def test_only_the_redis_group_may_read_the_acl_line(tmp_path: Path) -> None:
    """LITELLM_REDIS_ACL_GROUP (the Redis server's group) reads the folder and the ACL line;
    the exporter's password stays root's. Debian's `nogroup` stands in for redis-litellm."""
    source = tmp_path / "litellm-redis-exporter.pass"
    source.write_text("f6" * 32 + "\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "LITELLM_REDIS_EXPORTER_PASSWORD_FILE": str(source),
        "LITELLM_EXPORTER_ENV_FILE": str(tmp_path / "run" / "env"),
        "LITELLM_REDIS_ACL_FILE": str(tmp_path / "run" / "users.acl"),
        "LITELLM_REDIS_ACL_GROUP": "nogroup",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    group = grp.getgrnam("nogroup").gr_gid
    folder, acl, env_file = (
        tmp_path / "run",
        tmp_path / "run" / "users.acl",
        tmp_path / "run" / "env",
    )
    assert (folder.stat().st_gid, stat.S_IMODE(folder.stat().st_mode)) == (group, 0o750)
    assert (acl.stat().st_gid, stat.S_IMODE(acl.stat().st_mode)) == (group, 0o640)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and env_file.stat().st_gid != group
