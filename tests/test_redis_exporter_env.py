"""litellm-redis-exporter-env: the Redis password, and nothing else, for the Redis exporter."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

SCRIPT = (
    Path(__file__).resolve().parent.parent / "modules/litellm/scripts/litellm-redis-exporter-env.sh"
)


def run(tmp_path: Path, password_file: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "LITELLM_REDIS_PASSWORD_FILE": str(password_file),
        "LITELLM_EXPORTER_ENV_FILE": str(tmp_path / "run" / "env"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_writes_only_the_password_root_only(tmp_path: Path) -> None:
    source = tmp_path / "litellm-redis.pass"
    source.write_text("d4" * 32 + "\n")
    result = run(tmp_path, source)
    assert result.returncode == 0, result.stderr
    target = tmp_path / "run" / "env"
    assert target.read_text() == f"REDIS_PASSWORD={'d4' * 32}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "d4d4" not in result.stdout + result.stderr
    source.write_text("e5" * 32 + "\n")
    assert run(tmp_path, source).returncode == 0
    assert target.read_text() == f"REDIS_PASSWORD={'e5' * 32}\n", "a new password replaces the old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["env"]


def test_missing_password_file_fails_with_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "absent.pass")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"litellm-redis-exporter-env: {tmp_path / 'absent.pass'} is missing or empty; "
        "is generate-litellm-secrets done?"
    ]
    assert not (tmp_path / "run" / "env").exists()
