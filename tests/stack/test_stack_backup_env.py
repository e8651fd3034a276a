"""litellm-backup-env: the archive of the secrets file and the configuration."""

from __future__ import annotations

import os
import stat
import tarfile
import time
from pathlib import Path

from stacklib import Scripts, make_backup_dirs


def run_backup_env(
    scripts: Scripts, backup_dir: Path, root: Path, env_file: Path, config_file: Path
):
    return scripts.run(
        "litellm-backup-env",
        env={
            "BACKUP_DIR": str(backup_dir),
            "BACKUP_ROOT": str(root),
            "LITELLM_ENV_FILE": str(env_file),
            "LITELLM_CONFIG_FILE": str(config_file),
        },
    )


def test_archive_is_private_and_holds_exactly_env_and_config(scripts, stack_secrets, tmp_path):
    dirs = make_backup_dirs(tmp_path / "backup")
    # The module links /etc/litellm/config.yaml to the store: a symbolic link.
    store_config = tmp_path / "store" / "config.yaml"
    store_config.parent.mkdir()
    store_config.write_text("model_list: []\n")
    config_link = tmp_path / "etc" / "litellm" / "config.yaml"
    config_link.parent.mkdir(parents=True)
    config_link.symlink_to(store_config)
    old = dirs.litellm_env / "litellm-env-20200101T024500Z.tar.gz"
    old.write_bytes(b"old")
    stamp = time.time() - 40 * 86400
    os.utime(old, (stamp, stamp))

    result = run_backup_env(
        scripts, dirs.litellm_env, dirs.root, stack_secrets.env_file, config_link
    )
    assert result.returncode == 0, result.stderr

    archives = sorted(dirs.litellm_env.iterdir())
    assert len(archives) == 1  # the new one; the old one was pruned, no temporary files left
    archive = archives[0]
    assert archive.name.startswith("litellm-env-") and archive.name.endswith("Z.tar.gz")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        assert sorted(m.name for m in members) == ["config.yaml", "litellm.env"]
        assert all(m.isfile() and m.mode & 0o077 == 0 for m in members)
        env_member = tar.extractfile("litellm.env")
        config_member = tar.extractfile("config.yaml")
        assert env_member is not None and config_member is not None
        assert env_member.read() == stack_secrets.env_file.read_bytes()
        assert config_member.read() == b"model_list: []\n"
    # No secret in what the script prints.
    assert stack_secrets.master_key not in result.stdout + result.stderr


def test_missing_config_fails_without_leaving_a_file(scripts, stack_secrets, tmp_path):
    dirs = make_backup_dirs(tmp_path / "backup")
    result = run_backup_env(
        scripts, dirs.litellm_env, dirs.root, stack_secrets.env_file, tmp_path / "nope.yaml"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"litellm-backup-env: cannot read the LiteLLM configuration {tmp_path / 'nope.yaml'}"
    )
    assert list(dirs.litellm_env.iterdir()) == []


def test_datastore_archives_the_secrets_file_alone(scripts, stack_secrets, tmp_path):
    # A datastore VM runs no LiteLLM: the module passes an empty configuration path.
    dirs = make_backup_dirs(tmp_path / "backup")
    result = scripts.run(
        "litellm-backup-env",
        env={
            "BACKUP_DIR": str(dirs.litellm_env),
            "BACKUP_ROOT": str(dirs.root),
            "LITELLM_ENV_FILE": str(stack_secrets.env_file),
            "LITELLM_CONFIG_FILE": "",
        },
    )
    assert result.returncode == 0, result.stderr
    (archive,) = dirs.litellm_env.iterdir()
    with tarfile.open(archive) as tar:
        assert [m.name for m in tar.getmembers()] == ["litellm.env"]
        member = tar.extractfile("litellm.env")
        assert member is not None and member.read() == stack_secrets.env_file.read_bytes()
