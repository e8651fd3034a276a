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


def db_pass_file(env_file: Path) -> Path:
    """Where the script writes DATABASE_PASSWORD alone by default: next to the secrets file."""
    return env_file.parent / "litellm-db.pass"


GUIDE_MASTER_KEY = "sk-" + "3f" * 32


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
    # The same for the unit that sets the PostgreSQL role's password.
    assert db_pass_file(env_file).read_text() == values["DATABASE_PASSWORD"] + "\n"
    assert mode(db_pass_file(env_file)) == 0o600
    # A file made from nothing is no adoption.
    assert "adopted" not in result.stdout

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
    if missing == "LITELLM_SALT_KEY":
        # The master key has encrypted the stored provider keys until now: it stays the key.
        assert values["LITELLM_SALT_KEY"] == values["LITELLM_MASTER_KEY"]
        assert "adopted an existing install" in result.stdout
    else:
        assert values["LITELLM_MASTER_KEY"] != values["LITELLM_SALT_KEY"]
        assert "adopted" not in result.stdout
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
    assert parse_env_file(env_file)["LITELLM_SALT_KEY"] == "sk-" + "ab" * 32


def test_guide_file_is_adopted_with_the_master_key_as_salt_key(scripts, paths):
    """The install guide's file holds only the master key; LiteLLM encrypted stored provider
    keys with it (no LITELLM_SALT_KEY), so the salt key must be that same value."""
    env_file, pass_file = paths
    env_file.parent.mkdir(parents=True)
    env_file.write_text(f"LITELLM_MASTER_KEY={GUIDE_MASTER_KEY}\n")
    env_file.chmod(0o600)

    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr
    values = parse_env_file(env_file)
    assert env_file.read_text().startswith(f"LITELLM_MASTER_KEY={GUIDE_MASTER_KEY}\n")
    assert values["LITELLM_MASTER_KEY"] == GUIDE_MASTER_KEY
    assert values["LITELLM_SALT_KEY"] == GUIDE_MASTER_KEY
    for name in ("DATABASE_PASSWORD", "REDIS_PASSWORD", "UI_USERNAME", "UI_PASSWORD"):
        assert re.fullmatch(FORMATS[name], values[name]), name
    adopted = [line for line in result.stdout.splitlines() if "adopted an existing" in line]
    assert len(adopted) == 1
    assert "must never change" in adopted[0]
    output = result.stdout + result.stderr
    for name in SECRET_NAMES:
        if name != "UI_USERNAME":
            assert values[name] not in output, name

    # Adoption happens once: the next boot finds a complete file and changes nothing.
    before = env_file.read_bytes()
    again = run_secrets(scripts, env_file, pass_file)
    assert again.returncode == 0, again.stderr
    assert env_file.read_bytes() == before
    assert "adopted an existing" not in again.stdout


def test_empty_master_key_is_not_adopted_as_salt_key(scripts, paths):
    env_file, pass_file = paths
    env_file.parent.mkdir(parents=True)
    env_file.write_text("LITELLM_MASTER_KEY=\n")
    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 1
    assert result.stderr.strip() == f"litellm-secrets: LITELLM_MASTER_KEY in {env_file} is empty"
    assert env_file.read_text() == "LITELLM_MASTER_KEY=\n"


def test_connection_urls_of_an_old_file_are_disabled_not_lost(scripts, paths):
    """DATABASE_URL, DIRECT_URL and REDIS_URL would beat the module's DATABASE_HOST/REDIS_HOST in
    LiteLLM (and podman's -e cannot unset them): they become comments that keep the value.
    Variables the module passes with -e (STORE_MODEL_IN_DB, ...) win over --env-file anyway
    and stay as they are."""
    env_file, pass_file = paths
    env_file.parent.mkdir(parents=True)
    old = (
        f"LITELLM_MASTER_KEY={GUIDE_MASTER_KEY}\n"
        "DATABASE_URL=postgresql://litellm@localhost:5432/litellm\n"
        "STORE_MODEL_IN_DB=True\n"
        "REDIS_URL=redis://localhost:6379\n"
        "DIRECT_URL=postgresql://litellm:old-secret@localhost/litellm\n"
    )
    env_file.write_text(old)
    result = run_secrets(scripts, env_file, pass_file)
    assert result.returncode == 0, result.stderr
    lines = env_file.read_text().splitlines()
    assert lines[:5] == [
        f"LITELLM_MASTER_KEY={GUIDE_MASTER_KEY}",
        "#disabled by litellm-secrets: DATABASE_URL=postgresql://litellm@localhost:5432/litellm",
        "STORE_MODEL_IN_DB=True",
        "#disabled by litellm-secrets: REDIS_URL=redis://localhost:6379",
        "#disabled by litellm-secrets: DIRECT_URL=postgresql://litellm:old-secret@localhost/litellm",
    ]
    values = parse_env_file(env_file)
    assert not {"DATABASE_URL", "DIRECT_URL", "REDIS_URL"} & values.keys()
    assert "disabled DATABASE_URL DIRECT_URL REDIS_URL" in result.stdout
    assert "old-secret" not in result.stdout + result.stderr

    # A file holding nothing but such a line is complete otherwise; it is still fixed.
    before = env_file.read_text()
    env_file.write_text(before + "DATABASE_URL=postgresql://x@y/z\n")
    again = run_secrets(scripts, env_file, pass_file)
    assert again.returncode == 0, again.stderr
    assert (
        env_file.read_text()
        == before + "#disabled by litellm-secrets: DATABASE_URL=postgresql://x@y/z\n"
    )
    assert "disabled DATABASE_URL " in again.stdout


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
