"""litellm-secrets: the secrets file of generate-litellm-secrets.service."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from stacklib import SECRET_NAMES, Scripts, parse_env_file

FORMATS = {
    "LITELLM_MASTER_KEY": r"sk-[0-9a-f]{64}",
    "LITELLM_SALT_KEY": r"sk-[0-9a-f]{64}",
    "DATABASE_PASSWORD": r"[0-9a-f]{64}",
    "REDIS_PASSWORD": r"[0-9a-f]{64}",
    "UI_USERNAME": r"admin",
    "UI_PASSWORD": r"[A-Za-z0-9]{32,}",
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_secrets(scripts: Scripts, env_file: Path, pass_file: Path, **extra: str):
    env = {"LITELLM_ENV_FILE": str(env_file), "LITELLM_REDIS_PASSWORD_FILE": str(pass_file)}
    return scripts.run("litellm-secrets", env=env | extra)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    secrets_dir = tmp_path / "etc" / "secrets"
    return secrets_dir / "litellm.env", secrets_dir / "litellm-redis.pass"


def test_first_run_creates_private_file_with_documented_variables(scripts, paths):
    env_file, pass_file = paths
    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr

    assert mode(env_file) == 0o600
    assert mode(env_file.parent) == 0o700
    lines = env_file.read_text().splitlines()
    assert [line.split("=", 1)[0] for line in lines] == list(SECRET_NAMES)
    values = parse_env_file(env_file)
    for name, pattern in FORMATS.items():
        assert re.fullmatch(pattern, values[name]), name
    assert values["LITELLM_MASTER_KEY"] != values["LITELLM_SALT_KEY"]
    assert len({values[n] for n in SECRET_NAMES if n != "UI_USERNAME"}) == 5

    # The Redis server's requirePassFile: the password alone, on one line, private.
    assert pass_file.read_text() == values["REDIS_PASSWORD"] + "\n"
    assert mode(pass_file) == 0o600

    # Names are reported, values never.
    output = result.stdout + result.stderr
    assert "LITELLM_MASTER_KEY" in output
    for name in SECRET_NAMES:
        if name != "UI_USERNAME":
            assert values[name] not in output


def test_two_files_get_different_secrets(scripts, tmp_path):
    first = tmp_path / "a" / "litellm.env"
    second = tmp_path / "b" / "litellm.env"
    assert run_secrets(scripts, first, tmp_path / "a" / "pass").returncode == 0
    assert run_secrets(scripts, second, tmp_path / "b" / "pass").returncode == 0
    a, b = parse_env_file(first), parse_env_file(second)
    for name in SECRET_NAMES:
        if name != "UI_USERNAME":
            assert a[name] != b[name], name


def test_second_run_changes_nothing(scripts, paths):
    env_file, pass_file = paths
    assert run_secrets(scripts, env_file, pass_file).returncode == 0
    before = (
        env_file.read_bytes(),
        pass_file.read_bytes(),
        env_file.stat().st_mtime_ns,
        pass_file.stat().st_mtime_ns,
    )

    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr
    after = (
        env_file.read_bytes(),
        pass_file.read_bytes(),
        env_file.stat().st_mtime_ns,
        pass_file.stat().st_mtime_ns,
    )
    assert after == before
    assert "nothing changed" in result.stdout


@pytest.mark.parametrize("missing", SECRET_NAMES)
def test_only_the_missing_variable_is_added(scripts, paths, missing):
    env_file, pass_file = paths
    assert run_secrets(scripts, env_file, pass_file).returncode == 0
    original = env_file.read_text().splitlines()
    kept = [line for line in original if not line.startswith(f"{missing}=")]
    env_file.write_text("\n".join(kept) + "\n")

    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr
    lines = env_file.read_text().splitlines()
    assert lines[:-1] == kept  # untouched, in place
    name, value = lines[-1].split("=", 1)
    assert name == missing
    assert re.fullmatch(FORMATS[missing], value)
    assert f"added {missing} " in result.stdout
    assert mode(env_file) == 0o600
    values = parse_env_file(env_file)
    assert values["LITELLM_MASTER_KEY"] != values["LITELLM_SALT_KEY"]
    assert pass_file.read_text() == values["REDIS_PASSWORD"] + "\n"


def test_older_file_without_final_newline_and_loose_mode(scripts, paths):
    env_file, pass_file = paths
    env_file.parent.mkdir(parents=True)
    env_file.write_text("LITELLM_MASTER_KEY=sk-" + "ab" * 32)  # no newline, like a hand edit
    env_file.chmod(0o644)
    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr
    lines = env_file.read_text().splitlines()
    assert lines[0] == "LITELLM_MASTER_KEY=sk-" + "ab" * 32
    assert [line.split("=", 1)[0] for line in lines] == list(SECRET_NAMES)
    assert mode(env_file) == 0o600


def test_existing_server_passwords_are_taken_from_source_files(scripts, paths, tmp_path):
    env_file, pass_file = paths
    db_source = tmp_path / "db.pass"
    redis_source = tmp_path / "redis.pass"
    db_source.write_text("external-db-password\n")
    redis_source.write_text("external-redis-password")
    result = run_secrets(
        scripts,
        env_file,
        pass_file,
        LITELLM_DB_PASSWORD_SOURCE=str(db_source),
        LITELLM_REDIS_PASSWORD_SOURCE=str(redis_source),
    )
    assert result.returncode == 0, result.stderr
    values = parse_env_file(env_file)
    assert values["DATABASE_PASSWORD"] == "external-db-password"
    assert values["REDIS_PASSWORD"] == "external-redis-password"
    assert pass_file.read_text() == "external-redis-password\n"
    assert "external" not in result.stdout + result.stderr

    # A changed source never overwrites the variable; it only warns, without values.
    db_source.write_text("rotated-db-password\n")
    before = env_file.read_bytes()
    result = run_secrets(scripts, env_file, pass_file, LITELLM_DB_PASSWORD_SOURCE=str(db_source))
    assert result.returncode == 0, result.stderr
    assert env_file.read_bytes() == before
    assert "differs" in result.stderr
    assert "rotated" not in result.stdout + result.stderr


def test_unreadable_source_is_one_clear_error(scripts, paths, tmp_path):
    env_file, pass_file = paths
    result = run_secrets(
        scripts, env_file, pass_file, LITELLM_DB_PASSWORD_SOURCE=str(tmp_path / "nope")
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"litellm-secrets: cannot read password source file {tmp_path / 'nope'}"
    ]
    assert not env_file.exists()


def test_session_secrets_match_redis_pass_file(stack_secrets):
    assert stack_secrets.redis_password_file.read_text() == stack_secrets.redis_password + "\n"
